-- What a .swu artifact installs, read from its sw-description at upload (issue 18, item 2):
-- image_sha256 is the SHA-256 of the image its single raw/delta/patch entry writes; a patch bundle
-- also has patch_source_sha256, the image it applies to. NULL for other files, malformed bundles
-- and artifacts stored before this migration.
ALTER TABLE artifacts ADD COLUMN image_sha256 TEXT;
ALTER TABLE artifacts ADD COLUMN patch_source_sha256 TEXT;
