DROP INDEX targets_assigned_ds;
DROP INDEX targets_installed_ds;
