ALTER TABLE artifacts DROP COLUMN patch_source_sha256;
ALTER TABLE artifacts DROP COLUMN image_sha256;
