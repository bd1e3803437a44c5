-- Lacuna catalog, schema version 5: conditions, path rules, coverage targets and queue
-- assignments.

-- What is claimed about an image's conditions, one row per (image, key, source): the most
-- trusted source wins when read (human > sidecar > path > exif > estimated).
CREATE TABLE condition (
    image_id          INTEGER NOT NULL REFERENCES image (id),
    key               TEXT NOT NULL,
    value             TEXT NOT NULL,
    -- 'human' | 'sidecar' | 'path' | 'exif' | 'estimated'
    source            TEXT NOT NULL CHECK (source IN ('human', 'sidecar', 'path', 'exif', 'estimated')),
    confidence        REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    updated_at_unix_s INTEGER NOT NULL,
    PRIMARY KEY (image_id, key, source)
) STRICT, WITHOUT ROWID;

CREATE INDEX condition_key_value ON condition (key, value, image_id);

-- When the derived conditions (exif, estimated, path) of an image were last computed; an image
-- re-probed since (image.updated_at_unix_s later) is derived again.
CREATE TABLE condition_derived (
    image_id          INTEGER PRIMARY KEY REFERENCES image (id),
    derived_at_unix_s INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Patterns such as `{camera}/{date}/*` that extract keys from folder names.
CREATE TABLE path_rule (
    id                INTEGER PRIMARY KEY,
    pattern           TEXT NOT NULL UNIQUE,
    created_at_unix_s INTEGER NOT NULL
) STRICT;

-- Target shares the data lead sets (default: the pool's share).
CREATE TABLE coverage_target (
    key               TEXT NOT NULL,
    value             TEXT NOT NULL,
    share             REAL NOT NULL CHECK (share >= 0 AND share <= 1),
    PRIMARY KEY (key, value)
) STRICT, WITHOUT ROWID;

-- Images handed to a person from a queue: never handed to a second person at the same time.
CREATE TABLE queue_assignment (
    image_id           INTEGER PRIMARY KEY REFERENCES image (id),
    -- 'label' | 'review'
    queue              TEXT NOT NULL CHECK (queue IN ('label', 'review')),
    assignee           TEXT NOT NULL,
    assigned_at_unix_s INTEGER NOT NULL
) STRICT;

CREATE INDEX queue_assignment_assignee ON queue_assignment (assignee, queue);
