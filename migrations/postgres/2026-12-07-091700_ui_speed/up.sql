-- The web console's pages stay fast with a large fleet (issue 19: each page <= 20 ms at 100,000
-- devices).
--
-- Each action keeps the message of its last status (the last detail of the last status row,
-- trimmed; '' when it has none), written with every status row (store::actions::add_status and the
-- rollout engine's group start), so the failures page groups failed devices by message without
-- looking up each action's status history.
ALTER TABLE actions ADD COLUMN last_message TEXT NOT NULL DEFAULT '';
UPDATE actions SET last_message = COALESCE((SELECT trim(m.message) FROM action_status_messages m
    WHERE m.action_status_id = (SELECT max(s.id) FROM action_statuses s WHERE s.action_id = actions.id)
    ORDER BY m.id DESC LIMIT 1), '');
-- A rollout's totals per group and status, and when each group last moved, from the index alone.
DROP INDEX actions_rollout_group;
CREATE INDEX actions_rollout_group ON actions (rollout_group_id, status, last_modified_at);
-- A rollout's open actions (what its groups wait for) without reading its scheduled or closed ones.
CREATE INDEX actions_rollout_open ON actions (rollout_id, rollout_group_id, status, last_modified_at, last_modified_by, target_id)
    WHERE active;
