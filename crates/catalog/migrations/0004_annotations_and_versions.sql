-- Lacuna catalog, schema version 4: label classes, annotations, the edit journal, image label
-- states and frozen dataset versions.

-- A label class of the project. Never hard-deleted while the journal names it: deleting
-- sets `deleted_at_unix_s` (after its annotations were reassigned), so undo can bring it back.
CREATE TABLE label_class (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT NOT NULL,
    -- '#rrggbb'
    color             TEXT NOT NULL,
    hotkey            TEXT,
    -- Order in lists and in exports.
    position          INTEGER NOT NULL,
    created_at_unix_s INTEGER NOT NULL,
    deleted_at_unix_s INTEGER
) STRICT;

-- Live class names are unique (case-insensitive), and so are live hotkeys.
CREATE UNIQUE INDEX label_class_name ON label_class (lower(name)) WHERE deleted_at_unix_s IS NULL;
CREATE UNIQUE INDEX label_class_hotkey ON label_class (hotkey)
    WHERE deleted_at_unix_s IS NULL AND hotkey IS NOT NULL;

-- One object on one image. AUTOINCREMENT: an id is never reused, so undoing a delete can
-- bring the same id back and a journal entry always means one annotation.
CREATE TABLE annotation (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id          INTEGER NOT NULL REFERENCES image (id),
    class_id          INTEGER NOT NULL REFERENCES label_class (id),
    -- GeometryKind::as_str(): 'box' | 'polygon' | 'mask'
    kind              TEXT NOT NULL CHECK (kind IN ('box', 'polygon', 'mask')),
    -- Bounding box in image pixels (EXIF orientation applied): the geometry of a box, the
    -- extent of a polygon or mask (for IoU matching, sorting and export without decoding).
    x0_px             REAL NOT NULL,
    y0_px             REAL NOT NULL,
    x1_px             REAL NOT NULL,
    y1_px             REAL NOT NULL,
    -- Polygon parts as JSON [[[x, y], ...], ...]; NULL for boxes and masks.
    polygon_json      TEXT,
    -- COCO compressed RLE counts at the image's size; NULL for boxes and polygons.
    mask_rle          TEXT,
    occluded          INTEGER NOT NULL DEFAULT 0 CHECK (occluded IN (0, 1)),
    truncated         INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0, 1)),
    crowd             INTEGER NOT NULL DEFAULT 0 CHECK (crowd IN (0, 1)),
    -- JSON array of sorted tags; '[]' when none.
    tags_json         TEXT NOT NULL DEFAULT '[]',
    -- 'human' | 'model' | 'imported'
    source            TEXT NOT NULL CHECK (source IN ('human', 'model', 'imported')),
    run_id            INTEGER REFERENCES model_run (id),
    prediction_id     INTEGER,
    score             REAL,
    author            TEXT NOT NULL,
    review_state      TEXT NOT NULL DEFAULT 'unreviewed'
                          CHECK (review_state IN ('unreviewed', 'accepted', 'rejected', 'corrected')),
    reviewer          TEXT,
    created_at_unix_s INTEGER NOT NULL,
    updated_at_unix_s INTEGER NOT NULL
) STRICT;

-- annotations(image), in creation order.
CREATE INDEX annotation_image ON annotation (image_id, id);
-- class counts, merge and delete-with-reassignment.
CREATE INDEX annotation_class ON annotation (class_id);

-- Label state of an image; no row means 'unlabeled'.
CREATE TABLE image_label (
    image_id          INTEGER PRIMARY KEY REFERENCES image (id),
    state             TEXT NOT NULL CHECK (state IN
                          ('unlabeled', 'in_progress', 'labeled', 'labeled_empty', 'reviewed', 'skipped')),
    -- Why the image was picked for labeling (the queue's reasons, or how its labels arrived).
    selected_because  TEXT,
    updated_by        TEXT NOT NULL,
    updated_at_unix_s INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX image_label_state ON image_label (state, image_id);

-- One user action: everything committed together by one click, key press or command. Undo
-- and redo are actions too, pointing at the action they revert or re-apply.
CREATE TABLE edit_action (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    author            TEXT NOT NULL,
    -- 'do' | 'undo' | 'redo'
    kind              TEXT NOT NULL CHECK (kind IN ('do', 'undo', 'redo')),
    -- Human-readable ("create box", "merge class truck into car", "import labels from x.json").
    label             TEXT NOT NULL,
    -- For 'undo' and 'redo': the 'do' action reverted or re-applied.
    target_action_id  INTEGER REFERENCES edit_action (id),
    -- For 'do' actions: 1 while reverted by an undo (the only column ever updated: the
    -- events themselves are append-only).
    undone            INTEGER NOT NULL DEFAULT 0 CHECK (undone IN (0, 1)),
    at_unix_s         INTEGER NOT NULL
) STRICT;

CREATE INDEX edit_action_author ON edit_action (author, id);

-- The journal: one row per change of one entity, append-only. `before_json` / `after_json`
-- are the entity's full stored state (NULL where it did not exist), so any event can be
-- reverted or replayed exactly.
CREATE TABLE annotation_event (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id         INTEGER NOT NULL REFERENCES edit_action (id),
    -- 'annotation' | 'image_label' | 'label_class'
    entity            TEXT NOT NULL CHECK (entity IN ('annotation', 'image_label', 'label_class')),
    entity_id         INTEGER NOT NULL,
    -- 'create' | 'update' | 'delete' | 'review' | 'state'
    op                TEXT NOT NULL,
    -- The image an annotation or label-state event belongs to (for per-image history).
    image_id          INTEGER,
    before_json       TEXT,
    after_json        TEXT,
    at_unix_s         INTEGER NOT NULL
) STRICT;

CREATE INDEX annotation_event_action ON annotation_event (action_id, seq);
CREATE INDEX annotation_event_image ON annotation_event (image_id, seq) WHERE image_id IS NOT NULL;

-- A frozen dataset version. Its id is the content hash (64 hex digits) of classes, images,
-- splits and annotation contents: the same content always gets the same id.
CREATE TABLE dataset_version (
    id                TEXT PRIMARY KEY CHECK (length(id) = 64),
    name              TEXT NOT NULL UNIQUE,
    parent_id         TEXT REFERENCES dataset_version (id),
    notes             TEXT NOT NULL DEFAULT '',
    -- SplitConfig as JSON.
    split_json        TEXT NOT NULL,
    -- Class names in export order, JSON array.
    classes_json      TEXT NOT NULL,
    images            INTEGER NOT NULL,
    annotations       INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    created_at_unix_s INTEGER NOT NULL
) STRICT;

-- An image's annotations as a version froze them (lacuna-export's compact text, canonical
-- order), stored once per distinct text: versions that share an image's labels share the row.
CREATE TABLE frozen_labels (
    id                INTEGER PRIMARY KEY,
    -- BLAKE3 of `annotations`.
    digest            BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),
    annotations       TEXT NOT NULL
) STRICT;

-- An image of a version: its split, its frozen labels and the provenance the manifest lists.
CREATE TABLE version_image (
    version_id        TEXT NOT NULL REFERENCES dataset_version (id) ON DELETE CASCADE,
    image_id          INTEGER NOT NULL REFERENCES image (id),
    -- Path inside the export's split folder, unique within the version.
    export_path       TEXT NOT NULL,
    split             TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
    state             TEXT NOT NULL,
    annotation_count  INTEGER NOT NULL,
    labels_id         INTEGER NOT NULL REFERENCES frozen_labels (id),
    -- Provenance as JSON (selected_because, prelabeled_by, labeled_by, reviewed_by, conditions).
    provenance_json   TEXT NOT NULL,
    PRIMARY KEY (version_id, image_id)
) STRICT;

-- Which runs pre-labeled an image (the manifest's "pre-labeled by").
CREATE INDEX model_run_image_image ON model_run_image (image_id, run_id);
