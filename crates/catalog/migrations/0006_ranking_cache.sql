-- Lacuna catalog, schema version 6: what lets a long-running app keep its ranking in memory and
-- update it instead of recomputing it.

-- A counter per kind of change. `ranking_inputs` moves whenever anything the labeling queue and
-- the coverage table are computed from changes, except label states (those are followed through
-- the edit journal, image by image): the pool of images, conditions, path rules, coverage
-- targets, model runs and their per-image results. Kept by the triggers below, so every writer
-- (this build, an older one, another process) moves it.
CREATE TABLE change_counter (
    name  TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO change_counter (name, n) VALUES ('ranking_inputs', 0);

CREATE TRIGGER image_insert_moves_ranking AFTER INSERT ON image
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
CREATE TRIGGER image_delete_moves_ranking AFTER DELETE ON image
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
-- A re-probed image (updated_at moves) has its derived conditions computed again.
CREATE TRIGGER image_update_moves_ranking AFTER UPDATE OF status, root_id, rel_path, updated_at_unix_s ON image
WHEN old.status IS NOT new.status OR old.root_id IS NOT new.root_id OR old.rel_path IS NOT new.rel_path
  OR old.updated_at_unix_s IS NOT new.updated_at_unix_s
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;

CREATE TRIGGER condition_insert_moves_ranking AFTER INSERT ON condition
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
CREATE TRIGGER condition_update_moves_ranking AFTER UPDATE ON condition
WHEN old.value IS NOT new.value OR old.confidence IS NOT new.confidence
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
CREATE TRIGGER condition_delete_moves_ranking AFTER DELETE ON condition
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;

CREATE TRIGGER coverage_target_insert_moves_ranking AFTER INSERT ON coverage_target
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
CREATE TRIGGER coverage_target_update_moves_ranking AFTER UPDATE ON coverage_target
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
CREATE TRIGGER coverage_target_delete_moves_ranking AFTER DELETE ON coverage_target
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;

CREATE TRIGGER model_run_insert_moves_ranking AFTER INSERT ON model_run
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
CREATE TRIGGER model_run_delete_moves_ranking AFTER DELETE ON model_run
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
CREATE TRIGGER model_run_image_insert_moves_ranking AFTER INSERT ON model_run_image
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;
CREATE TRIGGER model_run_image_delete_moves_ranking AFTER DELETE ON model_run_image
BEGIN UPDATE change_counter SET n = n + 1 WHERE name = 'ranking_inputs'; END;

-- Per image and run, the uncertainty summary the queue ranks by (computed once from the run's
-- predictions, so ranking reads one row per image instead of every box and its class
-- probabilities). `method` names how it was computed; rows of another method are recomputed.
CREATE TABLE run_image_uncertainty (
    run_id           INTEGER NOT NULL REFERENCES model_run (id) ON DELETE CASCADE,
    image_id         INTEGER NOT NULL REFERENCES image (id),
    method           INTEGER NOT NULL,
    -- Uncertainty::score, 0..1.
    score            REAL NOT NULL,
    entropy_max      REAL NOT NULL,
    tta_disagreement REAL,
    missed_objects   INTEGER NOT NULL,
    missed_score     REAL NOT NULL,
    PRIMARY KEY (run_id, image_id)
) STRICT, WITHOUT ROWID;

-- Embeddings move out of `model_run_image` into a table of their own. A 256-d f32 vector is
-- 1 KiB: too big to stay on the leaf page of a WITHOUT ROWID table (whose rows spill to an
-- overflow page above ~1000 bytes), so every lookup cost an extra page read, and a scan of the
-- run's results read every vector. Rows of a rowid table keep up to ~4 KiB on the leaf.
-- `model_run_image.embedding` stays (SQLite cannot drop a column of a WITHOUT ROWID table
-- without rebuilding it) and is always NULL from this version on.
CREATE TABLE run_embedding (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES model_run (id) ON DELETE CASCADE,
    image_id  INTEGER NOT NULL REFERENCES image (id),
    -- little-endian f32
    vector    BLOB NOT NULL
) STRICT;

CREATE UNIQUE INDEX run_embedding_run_image ON run_embedding (run_id, image_id);

INSERT INTO run_embedding (run_id, image_id, vector)
SELECT run_id, image_id, embedding FROM model_run_image WHERE embedding IS NOT NULL ORDER BY run_id, image_id;

UPDATE model_run_image SET embedding = NULL WHERE embedding IS NOT NULL;
