-- Capability URLs (server/src/store/download_links.rs): each tenant's key for signing artifact
-- download links, 32 random bytes as hex. Made at the first link; replacing it (rotation) revokes
-- every link signed before.
CREATE TABLE download_link_keys (
    tenant TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
