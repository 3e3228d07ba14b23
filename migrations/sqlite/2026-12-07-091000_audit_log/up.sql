-- The audit log (docs/architecture.md, "Audit log"): who did what to which object, when. Written by
-- each front door after a change succeeded (logins in the session's own transaction); read by
-- `GET /rest/v1/auditlog` and the console's audit page; deleted by the scheduler after
-- `audit_retention_days`. No foreign keys: an entry outlives the object it names.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tenant TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- A user name, `device <controllerId>`, `gateway` or `system`.
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    object_name TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant, at);
CREATE INDEX audit_log_at ON audit_log (at);
