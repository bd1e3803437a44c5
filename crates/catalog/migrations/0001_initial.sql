-- Lacuna catalog, schema version 1: the tables.
--
-- Conventions: STRICT tables; timestamps are whole seconds since the Unix epoch in columns
-- named `*_unix_s`; other units are in the column name too (`_px`, `_bytes`, `_ns`, `_deg`,
-- `_m`, `_min`). Enumerations are stored as their stable lower-case names.
--
-- Append-only: never edit a migration that has shipped; add the next file instead.

CREATE TABLE source_root (
    id              INTEGER PRIMARY KEY,
    -- Absolute, canonical path of the imported folder.
    path            TEXT NOT NULL UNIQUE,
    added_at_unix_s INTEGER NOT NULL
) STRICT;

CREATE TABLE image (
    -- AUTOINCREMENT: an id is never reused, even after a row is deleted, so ids kept outside
    -- the catalog (exports, labels) can never point at a different image.
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    root_id                 INTEGER NOT NULL REFERENCES source_root (id),
    -- `/`-separated path relative to the root.
    rel_path                TEXT NOT NULL,
    -- Folder part of rel_path, '' at the top level of the root.
    rel_dir                 TEXT NOT NULL,
    file_name               TEXT NOT NULL,
    -- ImageFormat::as_str().
    format                  TEXT NOT NULL,
    width_px                INTEGER NOT NULL CHECK (width_px >= 0),
    height_px               INTEGER NOT NULL CHECK (height_px >= 0),
    file_size_bytes         INTEGER NOT NULL CHECK (file_size_bytes >= 0),
    mtime_ns                INTEGER NOT NULL,
    -- BLAKE3 of the file's bytes.
    content_hash            BLOB NOT NULL CHECK (length(content_hash) = 32),
    -- EXIF orientation 1..=8.
    orientation             INTEGER NOT NULL,
    camera_make             TEXT,
    camera_model            TEXT,
    body_serial             TEXT,
    lens_model              TEXT,
    -- lacuna_core::camera_id(make, model, serial), for filters and per-camera counts.
    camera                  TEXT,
    -- Local wall-clock capture time, 'YYYY-MM-DDTHH:MM:SS' (sorts as text).
    captured_local          TEXT,
    captured_utc_offset_min INTEGER,
    gps_lat_deg             REAL,
    gps_lon_deg             REAL,
    gps_alt_m               REAL,
    -- ImageStats, luminance values in 0..=1.
    luma_mean               REAL NOT NULL,
    luma_p05                REAL NOT NULL,
    luma_p50                REAL NOT NULL,
    luma_p95                REAL NOT NULL,
    contrast                REAL NOT NULL,
    saturation_mean         REAL NOT NULL,
    sharpness               REAL NOT NULL,
    status                  TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'missing')),
    imported_at_unix_s      INTEGER NOT NULL,
    updated_at_unix_s       INTEGER NOT NULL
) STRICT;

-- One row per file; also serves known_files(root) (sorted by rel_path) and the
-- root + folder-prefix filter (a folder's subtree is a rel_path range).
CREATE UNIQUE INDEX image_root_path ON image (root_id, rel_path);

-- A file with the same bytes as a catalogued image: recorded, not imported twice.
CREATE TABLE duplicate_file (
    id               INTEGER PRIMARY KEY,
    root_id          INTEGER NOT NULL REFERENCES source_root (id),
    rel_path         TEXT NOT NULL,
    of_image_id      INTEGER NOT NULL REFERENCES image (id) ON DELETE CASCADE,
    file_size_bytes  INTEGER NOT NULL CHECK (file_size_bytes >= 0),
    mtime_ns         INTEGER NOT NULL,
    found_at_unix_s  INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX duplicate_file_root_path ON duplicate_file (root_id, rel_path);
-- duplicates_of(image), duplicate counts, the has-duplicates filter and the ON DELETE CASCADE.
CREATE INDEX duplicate_file_of_image ON duplicate_file (of_image_id);

-- A background job. The counts are ImportCounts, one column per field.
CREATE TABLE job (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                 TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN
                             ('running', 'finished', 'finished_with_problems', 'cancelled', 'failed')),
    -- Free-form JSON describing the request (folders, options).
    request_json         TEXT NOT NULL,
    count_files_found    INTEGER NOT NULL DEFAULT 0,
    count_added          INTEGER NOT NULL DEFAULT 0,
    count_updated        INTEGER NOT NULL DEFAULT 0,
    count_moved          INTEGER NOT NULL DEFAULT 0,
    count_unchanged      INTEGER NOT NULL DEFAULT 0,
    count_duplicates     INTEGER NOT NULL DEFAULT 0,
    count_marked_missing INTEGER NOT NULL DEFAULT 0,
    count_problems       INTEGER NOT NULL DEFAULT 0,
    count_ignored        INTEGER NOT NULL DEFAULT 0,
    error                TEXT,
    started_at_unix_s    INTEGER NOT NULL,
    finished_at_unix_s   INTEGER
) STRICT;

CREATE INDEX job_kind ON job (kind);

-- A file an import could not take.
CREATE TABLE import_problem (
    id      INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL REFERENCES job (id) ON DELETE CASCADE,
    root_id INTEGER REFERENCES source_root (id),
    path    TEXT NOT NULL,
    -- ProblemKind::as_str().
    kind    TEXT NOT NULL,
    message TEXT NOT NULL
) STRICT;

-- problems(job), sorted by path.
CREATE INDEX import_problem_job_path ON import_problem (job_id, path);
CREATE INDEX import_problem_root ON import_problem (root_id);
