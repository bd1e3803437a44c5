-- Lacuna catalog, schema version 2: indexes behind the image filters, per-camera counts and
-- lookups by content hash.
--
-- An index on (x) is ordered by (x, id): for an equality filter it yields rows already in id
-- order, so a keyset page (`id > ? ORDER BY id LIMIT n`) stops after n matches.

CREATE INDEX image_root ON image (root_id);
CREATE INDEX image_status ON image (status);
-- Also lets counts by camera walk the index instead of the table.
CREATE INDEX image_camera ON image (camera);
CREATE INDEX image_captured ON image (captured_local);
CREATE INDEX image_content_hash ON image (content_hash);
