-- Web UI login sessions, in the database so several servers behind a load balancer share them.
-- Only the SHA-256 of the cookie's token is stored: a leaked table opens no session.
CREATE TABLE ui_sessions (
    token_sha256 TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
