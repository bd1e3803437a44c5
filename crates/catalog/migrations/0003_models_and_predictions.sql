-- Lacuna catalog, schema version 3: models, pre-labeling runs and their predictions.

-- A set of weights, identified by the BLAKE3 hash of the weights file.
CREATE TABLE model (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    -- 'v8' | 'v11' | 'v12'
    family          TEXT NOT NULL,
    -- 'n' | 's' | 'm' | 'l' | 'x'
    scale           TEXT NOT NULL,
    -- 'detect' | 'segment'
    task            TEXT NOT NULL,
    weights_path    TEXT NOT NULL,
    weights_hash    TEXT NOT NULL UNIQUE,
    input_size_px   INTEGER NOT NULL CHECK (input_size_px > 0),
    license         TEXT,
    source          TEXT,
    added_at_unix_s INTEGER NOT NULL
) STRICT;

-- The model's classes, index = class id.
CREATE TABLE model_class (
    model_id INTEGER NOT NULL REFERENCES model (id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL CHECK (class_id >= 0),
    name     TEXT NOT NULL,
    PRIMARY KEY (model_id, class_id)
) STRICT, WITHOUT ROWID;

-- One pre-labeling run: a model with all the parameters that change its output. A rerun with
-- the same model and parameters continues the same run (resume).
CREATE TABLE model_run (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id           INTEGER NOT NULL REFERENCES model (id),
    -- Canonical text of every parameter that changes results (a run's identity).
    params_key         TEXT NOT NULL,
    device             TEXT NOT NULL,
    -- 'f32' | 'f16' | 'bf16'
    precision          TEXT NOT NULL,
    batch_size         INTEGER NOT NULL CHECK (batch_size > 0),
    keep_threshold     REAL NOT NULL,
    display_threshold  REAL NOT NULL,
    iou_threshold      REAL NOT NULL,
    max_detections     INTEGER NOT NULL,
    -- 1: a horizontally flipped pass is stored too (test-time augmentation).
    flip_tta           INTEGER NOT NULL CHECK (flip_tta IN (0, 1)),
    status             TEXT NOT NULL CHECK (status IN
                           ('running', 'finished', 'finished_with_problems', 'cancelled', 'failed')),
    images_done        INTEGER NOT NULL DEFAULT 0,
    problems           INTEGER NOT NULL DEFAULT 0,
    error              TEXT,
    started_at_unix_s  INTEGER NOT NULL,
    finished_at_unix_s INTEGER
) STRICT;

CREATE UNIQUE INDEX model_run_identity ON model_run (model_id, params_key);

-- An image a run has finished (even with no detections): what resume skips. Holds the
-- image's embedding (pooled backbone features, little-endian f32).
CREATE TABLE model_run_image (
    run_id         INTEGER NOT NULL REFERENCES model_run (id) ON DELETE CASCADE,
    image_id       INTEGER NOT NULL REFERENCES image (id),
    detections     INTEGER NOT NULL,
    embedding      BLOB,
    inference_ms   REAL NOT NULL,
    PRIMARY KEY (run_id, image_id)
) STRICT, WITHOUT ROWID;

-- One predicted box.
CREATE TABLE prediction (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES model_run (id) ON DELETE CASCADE,
    image_id    INTEGER NOT NULL REFERENCES image (id),
    -- 1: from the horizontally flipped pass (mapped back to the unflipped image).
    flipped     INTEGER NOT NULL CHECK (flipped IN (0, 1)),
    class_id    INTEGER NOT NULL,
    score       REAL NOT NULL,
    -- Box corners in image pixels, EXIF orientation applied.
    x0_px       REAL NOT NULL,
    y0_px       REAL NOT NULL,
    x1_px       REAL NOT NULL,
    y1_px       REAL NOT NULL,
    -- Every class's probability, little-endian f32, index = class id.
    class_probs BLOB NOT NULL,
    -- Segmentation models: COCO RLE counts of the mask at image size (column-major), and
    -- the outline as JSON [[x, y, x, y, ...], ...] in image pixels.
    mask_rle    TEXT,
    mask_polygons TEXT
) STRICT;

CREATE INDEX prediction_run_image ON prediction (run_id, image_id);
CREATE INDEX prediction_image ON prediction (image_id);

-- An image a run could not process (decode failure, ...); the run goes on.
CREATE TABLE model_run_problem (
    id       INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL REFERENCES model_run (id) ON DELETE CASCADE,
    image_id INTEGER NOT NULL REFERENCES image (id),
    message  TEXT NOT NULL
) STRICT;

CREATE INDEX model_run_problem_run ON model_run_problem (run_id, image_id);
