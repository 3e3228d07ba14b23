DROP TRIGGER dmf_attributes_requested;
DROP TRIGGER dmf_target_deleted;
DROP TRIGGER dmf_action_updated;
DROP TRIGGER dmf_action_inserted;
DROP TABLE dmf_sent;
DROP TABLE dmf_outbox;
