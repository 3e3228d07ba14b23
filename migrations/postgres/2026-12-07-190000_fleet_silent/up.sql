-- Fleet health's "silent after an update" figure reads the actions that finished within its window
-- (issue 19: each console page <= 20 ms at 100,000 devices). Without this index PostgreSQL scanned
-- every action (100,000 at the benchmark's fleet, ~24 ms per query); with it, an index-only range
-- of the window's finished actions.
CREATE INDEX actions_finished ON actions (tenant, last_modified_at, target_id, ds_id) WHERE status = 'finished';
