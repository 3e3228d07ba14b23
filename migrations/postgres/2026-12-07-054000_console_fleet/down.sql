DROP INDEX targets_tenant_status;
DROP INDEX targets_tenant_type;
DROP INDEX targets_tenant_assigned;
DROP INDEX targets_tenant_installed;
DROP INDEX targets_tenant_last_poll;
DROP INDEX targets_tenant_name;
