DROP TRIGGER dmf_attributes_requested ON targets;
DROP TRIGGER dmf_target_deleted ON targets;
DROP TRIGGER dmf_action_updated ON actions;
DROP TRIGGER dmf_action_inserted ON actions;
DROP FUNCTION dmf_attributes_requested();
DROP FUNCTION dmf_target_deleted();
DROP FUNCTION dmf_action_changed();
DROP TABLE dmf_sent;
DROP TABLE dmf_outbox;
