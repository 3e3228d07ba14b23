-- DMF (hawkBit's Device Management Federation over AMQP): the outbox of messages owed to targets
-- whose address is `amqp:…`, and what was last pushed to each. The triggers write the outbox in the
-- same transaction as whatever changed a DMF target's actions, deleted it or asked for its
-- attributes: every domain operation (assignment, cancel, rollouts, auto-assignment, timeouts,
-- maintenance-window expiry, deletion) is covered without each one knowing the transport.
CREATE TABLE dmf_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL,
    controller_id TEXT NOT NULL,
    -- The target's address when the row was written (THING_DELETED needs it after the target went).
    address TEXT NOT NULL,
    -- command: push the current action if it differs from the last one pushed; poll: push it
    -- anyway (THING_CREATED); attributes: REQUEST_ATTRIBUTES_UPDATE; deleted: THING_DELETED.
    kind TEXT NOT NULL
);

-- The command (action and DMF topic) last confirmed by the broker for a target; none after an
-- idle target was told nothing.
CREATE TABLE dmf_sent (
    target_id BIGINT PRIMARY KEY NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    action_id BIGINT,
    topic TEXT
);

CREATE TRIGGER dmf_action_inserted AFTER INSERT ON actions WHEN NEW.active
BEGIN
    INSERT INTO dmf_outbox (tenant, controller_id, address, kind)
    SELECT t.tenant, t.controller_id, t.address, 'command' FROM targets t
    WHERE t.id = NEW.target_id AND t.address LIKE 'amqp:%';
END;

CREATE TRIGGER dmf_action_updated AFTER UPDATE OF status, active, action_type ON actions
WHEN OLD.status IS NOT NEW.status OR OLD.active IS NOT NEW.active OR OLD.action_type IS NOT NEW.action_type
BEGIN
    INSERT INTO dmf_outbox (tenant, controller_id, address, kind)
    SELECT t.tenant, t.controller_id, t.address, 'command' FROM targets t
    WHERE t.id = NEW.target_id AND t.address LIKE 'amqp:%';
END;

CREATE TRIGGER dmf_target_deleted AFTER DELETE ON targets WHEN OLD.address LIKE 'amqp:%'
BEGIN
    INSERT INTO dmf_outbox (tenant, controller_id, address, kind)
    VALUES (OLD.tenant, OLD.controller_id, OLD.address, 'deleted');
END;

CREATE TRIGGER dmf_attributes_requested AFTER UPDATE OF request_attributes ON targets
WHEN NEW.request_attributes AND NEW.address LIKE 'amqp:%'
BEGIN
    INSERT INTO dmf_outbox (tenant, controller_id, address, kind)
    VALUES (NEW.tenant, NEW.controller_id, NEW.address, 'attributes');
END;
