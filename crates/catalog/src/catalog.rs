use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use lacuna_core::{
    CaptureTime, ContentHash, ExifInfo, GpsPosition, ImageFormat, ImageId, ImageStats, ImageStatus, JobId,
    ProbedImage, ProblemKind, RootId,
};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Statement, Transaction, TransactionBehavior};

use crate::error::SqlResultExt;
use crate::migrations::{self, SCHEMA_VERSION};
use crate::query::{self, Driver, FilterSql, Plan, Purpose, Query, WALK_BUDGET};
use crate::synthetic;
use crate::{
    CatalogCounts, CatalogError, DuplicateRow, HashMatch, ImageFilter, ImageRow, ImportCounts, ImportOp,
    JobRow, JobStatus, KnownDuplicate, KnownFile, ProblemRow, RootRow,
};

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);
/// Page cache per connection, in KiB (negative `cache_size` means KiB).
const CACHE_SIZE_KIB: i64 = 64 * 1024;
/// Memory-mapped I/O window: reads of the first 2 GiB (SQLite's own cap) skip a `pread` and a
/// copy through the page cache. Ranking a million images reads ~100 MB of embeddings spread
/// over a ~1 GB table; with a 256 MiB window most of that went through system calls.
const MMAP_SIZE_BYTES: i64 = 2 * 1024 * 1024 * 1024 - 65536;
/// After a checkpoint the WAL file is truncated to this size, so one big import does not
/// leave a huge `-wal` file behind.
const JOURNAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;
/// A checkpoint (copying the WAL back into the database) runs once the WAL holds this many
/// pages (~40 MiB): fewer checkpoints during big imports (rewriting the same hot index pages
/// less often made bulk inserts ~30% faster than the default of 1000).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;
/// Rows per transaction in [`Catalog::insert_synthetic_images`].
const SYNTHETIC_BATCH: u64 = 10_000;

/// The columns [`bind_probed`] binds, in order: everything a [`ProbedImage`] sets.
const PROBED_COLUMNS: [&str; 24] = [
    "format",
    "width_px",
    "height_px",
    "file_size_bytes",
    "mtime_ns",
    "content_hash",
    "orientation",
    "camera_make",
    "camera_model",
    "body_serial",
    "lens_model",
    "camera",
    "captured_local",
    "captured_utc_offset_min",
    "gps_lat_deg",
    "gps_lon_deg",
    "gps_alt_m",
    "luma_mean",
    "luma_p05",
    "luma_p50",
    "luma_p95",
    "contrast",
    "saturation_mean",
    "sharpness",
];

/// `?first, ?first+1, ...` for the probed columns.
fn probed_placeholders(first: usize) -> String {
    (first..first + PROBED_COLUMNS.len()).map(|k| format!("?{k}")).collect::<Vec<_>>().join(", ")
}

/// `col = ?first, ...` for the probed columns.
fn probed_assignments(first: usize) -> String {
    PROBED_COLUMNS
        .iter()
        .enumerate()
        .map(|(k, col)| format!("{col} = ?{}", first + k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ?1 root, ?2 rel_path, ?3 rel_dir, ?4 file_name, ?5..?28 probed, ?29 status, ?30 now.
static INSERT_IMAGE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO image (root_id, rel_path, rel_dir, file_name, {}, status, \
         imported_at_unix_s, updated_at_unix_s) VALUES (?1, ?2, ?3, ?4, {}, ?29, ?30, ?30)",
        PROBED_COLUMNS.join(", "),
        probed_placeholders(5)
    )
});

/// ?1 id, ?2..?25 probed, ?26 now.
static UPDATE_IMAGE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE image SET {}, status = 'ok', updated_at_unix_s = ?26 WHERE id = ?1",
        probed_assignments(2)
    )
});

/// ?1 id, ?2 root, ?3 rel_path, ?4 rel_dir, ?5 file_name, ?6..?29 probed, ?30 now.
static MOVE_IMAGE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE image SET root_id = ?2, rel_path = ?3, rel_dir = ?4, file_name = ?5, {}, \
         status = 'ok', updated_at_unix_s = ?30 WHERE id = ?1",
        probed_assignments(6)
    )
});

const PRESENT_SQL: &str = "UPDATE image SET status = 'ok', \
     updated_at_unix_s = CASE WHEN status = 'ok' THEN updated_at_unix_s ELSE ?2 END \
     WHERE id = ?1";

const UPSERT_DUPLICATE_SQL: &str = "INSERT INTO duplicate_file \
     (root_id, rel_path, of_image_id, file_size_bytes, mtime_ns, found_at_unix_s) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (root_id, rel_path) DO UPDATE SET of_image_id = excluded.of_image_id, \
     file_size_bytes = excluded.file_size_bytes, mtime_ns = excluded.mtime_ns";

const INSERT_PROBLEM_SQL: &str =
    "INSERT INTO import_problem (job_id, root_id, path, kind, message) VALUES (?1, ?2, ?3, ?4, ?5)";

/// Everything [`image_from_row`] reads, in its order.
const IMAGE_SELECT: &str = "SELECT i.id, i.root_id, r.path, i.rel_path, i.status, i.format, \
     i.width_px, i.height_px, i.file_size_bytes, i.mtime_ns, i.content_hash, i.orientation, \
     i.camera_make, i.camera_model, i.body_serial, i.lens_model, i.camera, i.captured_local, \
     i.captured_utc_offset_min, i.gps_lat_deg, i.gps_lon_deg, i.gps_alt_m, i.luma_mean, \
     i.luma_p05, i.luma_p50, i.luma_p95, i.contrast, i.saturation_mean, i.sharpness, \
     i.imported_at_unix_s, i.updated_at_unix_s, \
     (SELECT count(*) FROM duplicate_file d WHERE d.of_image_id = i.id) \
     FROM image i JOIN source_root r ON r.id = i.root_id";

static IMAGE_BY_ID_SQL: LazyLock<String> = LazyLock::new(|| format!("{IMAGE_SELECT} WHERE i.id = ?1"));

const JOB_SELECT: &str = "SELECT id, kind, status, request_json, count_files_found, \
     count_added, count_updated, count_moved, count_unchanged, count_duplicates, \
     count_marked_missing, count_problems, count_ignored, error, started_at_unix_s, \
     finished_at_unix_s FROM job";

/// An open catalog. Not `Sync`: open one per thread (WAL lets readers and one writer work at
/// the same time).
#[derive(Debug)]
pub struct Catalog {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    /// See [`query::PROBE_LIMIT`]; changed only by tests.
    probe_limit: i64,
    /// See [`query::WALK_BUDGET`]; changed only by tests.
    walk_budget: i64,
}

impl Catalog {
    /// Creates a new catalog file at `path` (fails if one exists) at the current schema version.
    pub fn create(path: &Path) -> Result<Self, CatalogError> {
        Self::create_at_version(path, SCHEMA_VERSION)
    }

    /// Like [`Catalog::create`] but applies only the first `version` migrations: for tests of
    /// the migration path. The methods of [`Catalog`] assume the current schema; on an older
    /// one use only what that schema supports (roots, import batches, jobs).
    #[doc(hidden)]
    pub fn create_at_version(path: &Path, version: u32) -> Result<Self, CatalogError> {
        if version > SCHEMA_VERSION {
            return Err(CatalogError::NewerVersion {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        // `create_new` claims the path atomically: two creates cannot both succeed.
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(CatalogError::AlreadyExists { path: path.to_owned() });
            }
            Err(source) => return Err(CatalogError::Io { path: path.to_owned(), source }),
        }
        let result = (|| {
            let mut conn = connect(path)?;
            configure(&mut conn, path)?;
            migrations::migrate(&mut conn, 0, version, path)?;
            Ok(Self::with_connection(conn, path))
        })();
        if result.is_err() {
            // Leave nothing behind, so that creating again can work. Best effort: the error
            // that matters is the one already in hand.
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.as_os_str().to_owned();
                file.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(file));
            }
        }
        result
    }

    /// Opens an existing catalog. One made by an older version is first copied to
    /// `<path>.v<old>-backup-<now_unix_s>` (`VACUUM INTO`) and then migrated; one made by a newer
    /// version fails with [`CatalogError::NewerVersion`].
    pub fn open(path: &Path, now_unix_s: i64) -> Result<Self, CatalogError> {
        match path.try_exists() {
            Ok(true) => {}
            Ok(false) => return Err(CatalogError::NotFound { path: path.to_owned() }),
            Err(source) => return Err(CatalogError::Io { path: path.to_owned(), source }),
        }
        let mut conn = connect(path)?;
        // Reading the header is the first access to the file: "not a database" shows here.
        let version = user_version(&conn, path)?;
        if version > SCHEMA_VERSION {
            return Err(CatalogError::NewerVersion {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            // Version 0 is either an empty file (a create that died before its first
            // migration committed: finish it) or somebody else's database (leave it alone).
            let objects: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).at(path)?;
            if objects > 0 {
                return Err(CatalogError::NotACatalog {
                    path: path.to_owned(),
                    reason: "it is an SQLite database without a Lacuna schema version".to_owned(),
                });
            }
        }
        configure(&mut conn, path)?;
        if version > 0 && version < SCHEMA_VERSION {
            backup(&conn, path, version, now_unix_s)?;
        }
        migrations::migrate(&mut conn, version, SCHEMA_VERSION, path)?;
        Ok(Self::with_connection(conn, path))
    }

    fn with_connection(conn: Connection, path: &Path) -> Self {
        Self { conn, path: path.to_owned(), probe_limit: query::PROBE_LIMIT, walk_budget: WALK_BUDGET }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA user_version`.
    pub fn schema_version(&self) -> Result<u32, CatalogError> {
        user_version(&self.conn, &self.path)
    }

    /// The full schema (`sqlite_master`, sorted by type and name) for snapshot tests.
    ///
    /// One block per object: a `-- <type> <name>` line (with `on <table>` for indexes), then
    /// its SQL. SQLite's internal objects (`sqlite_*`) are left out.
    pub fn schema_dump(&self) -> Result<String, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT type, name, tbl_name, sql FROM sqlite_master \
                 WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
            )
            .at(&self.path)?;
        let mut rows = stmt.query([]).at(&self.path)?;
        let mut out = String::new();
        while let Some(row) = rows.next().at(&self.path)? {
            let kind: String = row.get(0).at(&self.path)?;
            let name: String = row.get(1).at(&self.path)?;
            let table: String = row.get(2).at(&self.path)?;
            let sql: Option<String> = row.get(3).at(&self.path)?;
            if !out.is_empty() {
                out.push('\n');
            }
            // Writing to a String cannot fail.
            if kind == "table" {
                let _ = writeln!(out, "-- {kind} {name}");
            } else {
                let _ = writeln!(out, "-- {kind} {name} on {table}");
            }
            let _ = writeln!(out, "{};", sql.unwrap_or_default().trim_end());
        }
        Ok(out)
    }

    /// Moves everything in the write-ahead log into the main file and empties the log (so the
    /// file alone holds the catalog, e.g. before it is copied).
    pub fn checkpoint(&self) -> Result<(), CatalogError> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).at(&self.path)
    }

    /// `PRAGMA integrity_check`: `Ok(())` or the problems SQLite reports. Also runs
    /// `PRAGMA foreign_key_check`. Reads the whole file: not for every open.
    pub fn integrity_check(&self) -> Result<(), CatalogError> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check").at(&self.path)?;
        let mut rows = stmt.query([]).at(&self.path)?;
        while let Some(row) = rows.next().at(&self.path)? {
            let line: String = row.get(0).at(&self.path)?;
            if line != "ok" {
                problems.push(line);
            }
        }
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check").at(&self.path)?;
        let mut rows = stmt.query([]).at(&self.path)?;
        while let Some(row) = rows.next().at(&self.path)? {
            let table: String = row.get(0).at(&self.path)?;
            let rowid: Option<i64> = row.get(1).at(&self.path)?;
            let parent: String = row.get(2).at(&self.path)?;
            problems.push(format!(
                "{table} row {} refers to a missing {parent} row",
                rowid.map_or_else(|| "?".to_owned(), |r| r.to_string())
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError::Corrupt(format!("{}: {}", self.path.display(), problems.join("; "))))
        }
    }

    // ---- roots ----

    /// Returns the root with this absolute path, adding it if new.
    pub fn upsert_root(&mut self, abs_path: &str, now_unix_s: i64) -> Result<RootId, CatalogError> {
        let path = &self.path;
        let tx = self.conn.transaction().at(path)?;
        let existing: Option<i64> = tx
            .prepare_cached("SELECT id FROM source_root WHERE path = ?1")
            .and_then(|mut s| s.query_row([abs_path], |r| r.get(0)).optional())
            .at(path)?;
        let id = match existing {
            Some(id) => id,
            None => {
                tx.prepare_cached("INSERT INTO source_root (path, added_at_unix_s) VALUES (?1, ?2)")
                    .and_then(|mut s| s.execute((abs_path, now_unix_s)))
                    .at(path)?;
                tx.last_insert_rowid()
            }
        };
        tx.commit().at(path)?;
        Ok(RootId(id))
    }

    /// Files everything under root `child` into root `parent`, whose folder contains it:
    /// `prefix` is `child`'s folder relative to `parent`'s, `/`-separated. Images keep their
    /// ids; their paths gain the prefix; `child` is removed. One transaction. Used when a folder
    /// is imported that contains folders imported before.
    pub fn merge_root_into(
        &mut self,
        child: RootId,
        parent: RootId,
        prefix: &str,
    ) -> Result<(), CatalogError> {
        if prefix.is_empty() || prefix.starts_with('/') || prefix.ends_with('/') {
            return Err(CatalogError::Corrupt(format!(
                "merge_root_into: {prefix:?} is not a relative folder path"
            )));
        }
        let path = &self.path;
        let tx = self.conn.transaction().at(path)?;
        tx.execute(
            "UPDATE image SET root_id = ?2, rel_path = ?3 || '/' || rel_path, \
             rel_dir = CASE WHEN rel_dir = '' THEN ?3 ELSE ?3 || '/' || rel_dir END \
             WHERE root_id = ?1",
            (child.0, parent.0, prefix),
        )
        .at(path)?;
        tx.execute(
            "UPDATE duplicate_file SET root_id = ?2, rel_path = ?3 || '/' || rel_path WHERE root_id = ?1",
            (child.0, parent.0, prefix),
        )
        .at(path)?;
        tx.execute("UPDATE import_problem SET root_id = ?2 WHERE root_id = ?1", (child.0, parent.0))
            .at(path)?;
        tx.execute("DELETE FROM source_root WHERE id = ?1", [child.0]).at(path)?;
        tx.commit().at(path)
    }

    /// All roots, by id.
    pub fn roots(&self) -> Result<Vec<RootRow>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, path, added_at_unix_s FROM source_root ORDER BY id")
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RootRow { id: RootId(r.get(0)?), path: r.get(1)?, added_at_unix_s: r.get(2)? })
            })
            .and_then(Iterator::collect)
            .at(&self.path)?;
        Ok(rows)
    }

    /// Every image row under `root` (any status), sorted by `rel_path`.
    pub fn known_files(&self, root: RootId) -> Result<Vec<KnownFile>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, rel_path, file_size_bytes, mtime_ns, status FROM image \
                 INDEXED BY image_root_path WHERE root_id = ?1 ORDER BY rel_path",
            )
            .at(&self.path)?;
        let mut rows = stmt.query([root.0]).at(&self.path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(&self.path)? {
            let id = ImageId(row.get(0).at(&self.path)?);
            let status: String = row.get(4).at(&self.path)?;
            out.push(KnownFile {
                id,
                rel_path: row.get(1).at(&self.path)?,
                file_size_bytes: get_u64(row, 2).at(&self.path)?,
                mtime_ns: row.get(3).at(&self.path)?,
                status: parse_status(&status, id)?,
            });
        }
        Ok(out)
    }

    /// Every duplicate-file row under `root`, sorted by `rel_path`.
    pub fn known_duplicates(&self, root: RootId) -> Result<Vec<KnownDuplicate>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT rel_path, file_size_bytes, mtime_ns FROM duplicate_file \
                 WHERE root_id = ?1 ORDER BY rel_path",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([root.0], |r| {
                Ok(KnownDuplicate {
                    rel_path: r.get(0)?,
                    file_size_bytes: get_u64(r, 1)?,
                    mtime_ns: r.get(2)?,
                })
            })
            .and_then(Iterator::collect)
            .at(&self.path)?;
        Ok(rows)
    }

    // ---- import jobs ----

    /// Records a new running import job.
    pub fn start_import_job(&mut self, request_json: &str, now_unix_s: i64) -> Result<JobId, CatalogError> {
        self.conn
            .prepare_cached(
                "INSERT INTO job (kind, status, request_json, started_at_unix_s) \
                 VALUES ('import', 'running', ?1, ?2)",
            )
            .and_then(|mut s| s.execute((request_json, now_unix_s)))
            .at(&self.path)?;
        Ok(JobId(self.conn.last_insert_rowid()))
    }

    /// Records how an import job ended.
    pub fn finish_import_job(
        &mut self,
        job: JobId,
        status: JobStatus,
        counts: &ImportCounts,
        error: Option<&str>,
        now_unix_s: i64,
    ) -> Result<(), CatalogError> {
        let c = counts_params(counts).at(&self.path)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE job SET status = ?2, count_files_found = ?3, count_added = ?4, \
                 count_updated = ?5, count_moved = ?6, count_unchanged = ?7, \
                 count_duplicates = ?8, count_marked_missing = ?9, count_problems = ?10, \
                 count_ignored = ?11, error = ?12, finished_at_unix_s = ?13 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(rusqlite::params![
                    job.0,
                    status.as_str(),
                    c[0],
                    c[1],
                    c[2],
                    c[3],
                    c[4],
                    c[5],
                    c[6],
                    c[7],
                    c[8],
                    error,
                    now_unix_s
                ])
            })
            .at(&self.path)?;
        if changed == 0 {
            return Err(CatalogError::NoSuchJob { path: self.path.clone(), id: job });
        }
        Ok(())
    }

    /// Saves the running counts of a job (called with each batch so a crash still shows them).
    pub fn update_job_counts(&mut self, job: JobId, counts: &ImportCounts) -> Result<(), CatalogError> {
        let c = counts_params(counts).at(&self.path)?;
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE job SET count_files_found = ?2, count_added = ?3, count_updated = ?4, \
                 count_moved = ?5, count_unchanged = ?6, count_duplicates = ?7, \
                 count_marked_missing = ?8, count_problems = ?9, count_ignored = ?10 \
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(rusqlite::params![job.0, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]])
            })
            .at(&self.path)?;
        if changed == 0 {
            return Err(CatalogError::NoSuchJob { path: self.path.clone(), id: job });
        }
        Ok(())
    }

    /// All jobs, newest first.
    pub fn import_jobs(&self) -> Result<Vec<JobRow>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(&format!("{JOB_SELECT} ORDER BY id DESC")).at(&self.path)?;
        let mut rows = stmt.query([]).at(&self.path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(&self.path)? {
            out.push(job_from_row(row, &self.path)?);
        }
        Ok(out)
    }

    // ---- import writes ----

    /// Applies `ops` in order in one transaction: all or nothing.
    ///
    /// An `Update`, `Move` or `Present` of an id the catalog does not have fails with
    /// [`CatalogError::NoSuchImage`]; an `Insert` or `Move` onto a path another image already
    /// has fails with a constraint error. Either way nothing of the batch is written.
    pub fn apply_import_batch(
        &mut self,
        job: JobId,
        ops: &[ImportOp],
        now_unix_s: i64,
    ) -> Result<(), CatalogError> {
        let path = &self.path;
        let tx = self.conn.transaction().at(path)?;
        for op in ops {
            apply_op(&tx, job, op, now_unix_s, path)?;
        }
        tx.commit().at(path)
    }

    /// Images with this content hash, by id.
    pub fn images_by_hash(&self, hash: &ContentHash) -> Result<Vec<HashMatch>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT i.id, r.path, i.rel_path, i.status FROM image i \
                 INDEXED BY image_content_hash JOIN source_root r ON r.id = i.root_id \
                 WHERE i.content_hash = ?1 ORDER BY i.id",
            )
            .at(&self.path)?;
        let mut rows = stmt.query([&hash.0]).at(&self.path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(&self.path)? {
            let id = ImageId(row.get(0).at(&self.path)?);
            let status: String = row.get(3).at(&self.path)?;
            out.push(HashMatch {
                id,
                root_path: row.get(1).at(&self.path)?,
                rel_path: row.get(2).at(&self.path)?,
                status: parse_status(&status, id)?,
            });
        }
        Ok(out)
    }

    /// Sets `status` on these images in one transaction; returns how many rows changed.
    ///
    /// Images that already have `status` are not touched (their `updated_at` stays); unknown
    /// ids are ignored.
    pub fn set_status(
        &mut self,
        ids: &[ImageId],
        status: ImageStatus,
        now_unix_s: i64,
    ) -> Result<u64, CatalogError> {
        let path = &self.path;
        let tx = self.conn.transaction().at(path)?;
        let mut changed = 0u64;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE image SET status = ?2, updated_at_unix_s = ?3 \
                     WHERE id = ?1 AND status <> ?2",
                )
                .at(path)?;
            for id in ids {
                changed += stmt.execute((id.0, status.as_str(), now_unix_s)).at(path)? as u64;
            }
        }
        tx.commit().at(path)?;
        Ok(changed)
    }

    /// Deletes duplicate-file rows under `root` whose `rel_path` is in `rel_paths` (files that
    /// vanished); one transaction.
    pub fn remove_duplicates(&mut self, root: RootId, rel_paths: &[String]) -> Result<u64, CatalogError> {
        let path = &self.path;
        let tx = self.conn.transaction().at(path)?;
        let mut removed = 0u64;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM duplicate_file WHERE root_id = ?1 AND rel_path = ?2")
                .at(path)?;
            for rel_path in rel_paths {
                removed += stmt.execute((root.0, rel_path)).at(path)? as u64;
            }
        }
        tx.commit().at(path)?;
        Ok(removed)
    }

    // ---- reads ----

    /// Images matching `filter` with id greater than `after`, by ascending id, at most `limit`.
    ///
    /// `filter.folder` is normalised (leading and trailing `/` removed; empty matches
    /// everything). It narrows by `rel_path` whether or not `filter.root` is set, but only
    /// with a root can it use an index. See the `query` module for how the plan is chosen.
    pub fn list_images(
        &self,
        filter: &ImageFilter,
        after: Option<ImageId>,
        limit: u32,
    ) -> Result<Vec<ImageRow>, CatalogError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // One snapshot for the probes, the id query and the rows.
        let _snapshot = self.read_snapshot()?;
        let ids = self.list_image_ids(filter, after, limit)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            // Images are never deleted by this crate; skip one another connection removed
            // between the two steps rather than fail the page.
            if let Some(row) = self.image(id)? {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// The ids [`Catalog::list_images`] returns, without loading the rows.
    pub fn list_image_ids(
        &self,
        filter: &ImageFilter,
        after: Option<ImageId>,
        limit: u32,
    ) -> Result<Vec<ImageId>, CatalogError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let _snapshot = self.read_snapshot()?;
        let filter = FilterSql::new(filter);
        let after = after.map_or(i64::MIN, |id| id.0);
        match self.choose_plan(&filter, after, Purpose::List)? {
            Plan::Direct(driver) => self.ids(&filter.list(driver, after, limit)),
            Plan::Walk { walk, then } => {
                let mut ids = Vec::with_capacity(limit as usize);
                let mut stopped_at = self.walk(&filter, walk, after, limit, &mut ids)?;
                if let Some(stop) = stopped_at
                    && filter.has_conditions_beyond(then)
                {
                    // Finishing with the range would read a row per match to check the other
                    // filters: first jump to the range's next id and walk once more from there.
                    let q = filter.first_match(then, stop);
                    let next: Option<i64> = self
                        .conn
                        .prepare_cached(&q.sql)
                        .and_then(|mut s| {
                            s.query_row(rusqlite::params_from_iter(q.params.iter()), |r| r.get(0))
                        })
                        .at(&self.path)?;
                    stopped_at = match next {
                        Some(next) => self.walk(&filter, walk, next - 1, limit, &mut ids)?,
                        None => None,
                    };
                }
                if let Some(stop) = stopped_at {
                    let rest = limit - ids.len() as u32;
                    ids.extend(self.ids(&filter.list(then, stop, rest))?);
                }
                Ok(ids)
            }
        }
    }

    /// The budgeted walk of ordered `driver` from `after`, adding matches to `ids` until it
    /// holds `limit`. Returns the id of the last row examined when the walk ran out of budget
    /// with the page still short; `None` when the page is full or the driver has no more rows.
    fn walk(
        &self,
        filter: &FilterSql,
        driver: Driver,
        after: i64,
        limit: u32,
        ids: &mut Vec<ImageId>,
    ) -> Result<Option<i64>, CatalogError> {
        let rest = limit - ids.len() as u32;
        let found = self.ids(&filter.walk(driver, after, self.walk_budget, rest))?;
        let short = found.len() < rest as usize;
        ids.extend(found);
        if !short {
            return Ok(None);
        }
        Ok(self.ids(&filter.walk_end(driver, after, self.walk_budget))?.first().map(|id| id.0))
    }

    /// Starts a read transaction, so that the statements of one read see one snapshot of the
    /// catalog; it ends when the guard drops. `None` when one is already open (nested reads).
    fn read_snapshot(&self) -> Result<Option<Transaction<'_>>, CatalogError> {
        if !self.conn.is_autocommit() {
            return Ok(None);
        }
        // Deferred, unlike the connection's default: a read must not take the write lock.
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred).map(Some).at(&self.path)
    }

    fn ids(&self, q: &Query) -> Result<Vec<ImageId>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(&q.sql).at(&self.path)?;
        let ids = stmt
            .query_map(rusqlite::params_from_iter(q.params.iter()), |r| r.get(0).map(ImageId))
            .and_then(Iterator::collect)
            .at(&self.path)?;
        Ok(ids)
    }

    /// Number of images matching `filter`.
    pub fn count_images(&self, filter: &ImageFilter) -> Result<u64, CatalogError> {
        let _snapshot = self.read_snapshot()?;
        if filter.has_duplicates == Some(false) {
            // "Without duplicates" is every match less those with duplicates: two index
            // counts instead of a NOT EXISTS probe per image.
            let all = self.count_images(&ImageFilter { has_duplicates: None, ..filter.clone() })?;
            let with = self.count_images(&ImageFilter { has_duplicates: Some(true), ..filter.clone() })?;
            return Ok(all.saturating_sub(with));
        }
        let filter = FilterSql::new(filter);
        let driver = match self.choose_plan(&filter, i64::MIN, Purpose::Count)? {
            Plan::Direct(driver) | Plan::Walk { walk: driver, .. } => driver,
        };
        let q = filter.count(driver);
        let mut stmt = self.conn.prepare_cached(&q.sql).at(&self.path)?;
        let n =
            stmt.query_row(rusqlite::params_from_iter(q.params.iter()), |r| get_u64(r, 0)).at(&self.path)?;
        Ok(n)
    }

    /// Probes the candidate drivers and picks a plan (see the `query` module).
    fn choose_plan(&self, filter: &FilterSql, after: i64, purpose: Purpose) -> Result<Plan, CatalogError> {
        let candidates = filter.candidates(purpose);
        match candidates.as_slice() {
            [] => return Ok(Plan::Direct(Driver::PrimaryKey)),
            // A single ordered candidate (or any single one for counting) needs no probe.
            [only] if only.is_ordered() || purpose == Purpose::Count => {
                return Ok(Plan::Direct(*only));
            }
            _ => {}
        }
        // A count reads every match of its driver anyway: probing further to find the
        // smallest costs little in comparison.
        let limit = match purpose {
            Purpose::List => self.probe_limit,
            Purpose::Count => self.probe_limit * 10,
        };
        let mut probed = Vec::with_capacity(candidates.len());
        for driver in candidates {
            let q = filter.probe(driver, after, limit);
            let mut stmt = self.conn.prepare_cached(&q.sql).at(&self.path)?;
            let n: i64 =
                stmt.query_row(rusqlite::params_from_iter(q.params.iter()), |r| r.get(0)).at(&self.path)?;
            probed.push((driver, n));
            if n == 0 {
                break;
            }
        }
        Ok(query::choose(&probed, purpose, limit))
    }

    /// For tests of the query planner: how many matches a probe counts before calling a
    /// filter unselective (default 20,000; 1 forces the fallback plans) and how many rows the
    /// budgeted walk examines (default 10,000).
    #[doc(hidden)]
    pub fn set_planner_limits(&mut self, probe_limit: u32, walk_budget: u32) {
        self.probe_limit = i64::from(probe_limit.max(1));
        self.walk_budget = i64::from(walk_budget.max(1));
    }

    pub fn image(&self, id: ImageId) -> Result<Option<ImageRow>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(&IMAGE_BY_ID_SQL).at(&self.path)?;
        let mut rows = stmt.query([id.0]).at(&self.path)?;
        match rows.next().at(&self.path)? {
            Some(row) => image_from_row(row, &self.path).map(Some),
            None => Ok(None),
        }
    }

    /// Files recorded as duplicates of `id`, sorted by root and path.
    pub fn duplicates_of(&self, id: ImageId) -> Result<Vec<DuplicateRow>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.of_image_id, d.root_id, r.path, d.rel_path FROM duplicate_file d \
                 JOIN source_root r ON r.id = d.root_id WHERE d.of_image_id = ?1 \
                 ORDER BY d.root_id, d.rel_path",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([id.0], |r| {
                Ok(DuplicateRow {
                    of: ImageId(r.get(0)?),
                    root: RootId(r.get(1)?),
                    root_path: r.get(2)?,
                    rel_path: r.get(3)?,
                })
            })
            .and_then(Iterator::collect)
            .at(&self.path)?;
        Ok(rows)
    }

    /// Problems of `job`, or of the most recent import job when `None`; sorted by path.
    pub fn problems(&self, job: Option<JobId>) -> Result<Vec<ProblemRow>, CatalogError> {
        let job = match job {
            Some(job) => job,
            None => match self.last_import_job()? {
                Some(job) => job,
                None => return Ok(Vec::new()),
            },
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, job_id, path, kind, message FROM import_problem \
                 WHERE job_id = ?1 ORDER BY path, id",
            )
            .at(&self.path)?;
        let mut rows = stmt.query([job.0]).at(&self.path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(&self.path)? {
            let id: i64 = row.get(0).at(&self.path)?;
            let kind: String = row.get(3).at(&self.path)?;
            let kind = ProblemKind::from_name(&kind).ok_or_else(|| {
                CatalogError::Corrupt(format!("import problem {id}: unknown kind {kind:?}"))
            })?;
            out.push(ProblemRow {
                id,
                job: JobId(row.get(1).at(&self.path)?),
                path: row.get(2).at(&self.path)?,
                kind,
                message: row.get(4).at(&self.path)?,
            });
        }
        Ok(out)
    }

    /// The most recent job of kind `import`.
    fn last_import_job(&self) -> Result<Option<JobId>, CatalogError> {
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(id) FROM job WHERE kind = 'import'")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .at(&self.path)?;
        Ok(id.map(JobId))
    }

    /// Totals. Counting walks the status index (about 10 ms per 100,000 images).
    pub fn counts(&self) -> Result<CatalogCounts, CatalogError> {
        let _snapshot = self.read_snapshot()?;
        let one = |sql: &str, params: &[&dyn ToSql]| -> Result<u64, CatalogError> {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.query_row(params, |r| get_u64(r, 0)))
                .at(&self.path)
        };
        let images_ok = one("SELECT count(*) FROM image INDEXED BY image_status WHERE status = 'ok'", &[])?;
        let images_missing =
            one("SELECT count(*) FROM image INDEXED BY image_status WHERE status = 'missing'", &[])?;
        let problems_last_import = match self.last_import_job()? {
            Some(job) => one("SELECT count(*) FROM import_problem WHERE job_id = ?1", &[&job.0])?,
            None => 0,
        };
        Ok(CatalogCounts {
            roots: one("SELECT count(*) FROM source_root", &[])?,
            images: images_ok + images_missing,
            images_ok,
            images_missing,
            duplicate_files: one("SELECT count(*) FROM duplicate_file", &[])?,
            problems_last_import,
        })
    }

    /// Number of images per camera id (`None`: no camera in EXIF), sorted by count descending
    /// then camera; `None` comes after named cameras with the same count.
    pub fn counts_by_camera(&self) -> Result<Vec<(Option<String>, u64)>, CatalogError> {
        // GROUP BY walks the camera index (no temporary B-tree); only the groups are sorted.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT camera, count(*) AS n FROM image INDEXED BY image_camera \
                 GROUP BY camera ORDER BY n DESC, camera IS NULL, camera",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, get_u64(r, 1)?)))
            .and_then(Iterator::collect)
            .at(&self.path)?;
        Ok(rows)
    }

    /// For benchmarks and tests: inserts `count` generated image rows (deterministic from
    /// `seed`: ~50 cameras with a skewed distribution, ~1000 folders, capture times spread
    /// over two years, 5% missing, 1% with a duplicate-file row) in batched transactions.
    ///
    /// Rows go in folder by folder (`set-NN/FFFF`, 1000 folders whatever `count`), the way an
    /// import walks, so ids, folders and capture days are correlated as in real catalogs.
    /// File names include `seed`: different seeds can fill the same root.
    pub fn insert_synthetic_images(
        &mut self,
        root: RootId,
        count: u64,
        seed: u64,
        now_unix_s: i64,
    ) -> Result<(), CatalogError> {
        let path = &self.path;
        let generator = synthetic::Generator::new(seed, count, now_unix_s);
        let mut start = 0;
        while start < count {
            let end = count.min(start + SYNTHETIC_BATCH);
            let tx = self.conn.transaction().at(path)?;
            {
                let mut insert = tx.prepare_cached(&INSERT_IMAGE_SQL).at(path)?;
                let mut duplicate = tx.prepare_cached(UPSERT_DUPLICATE_SQL).at(path)?;
                for index in start..end {
                    let image = generator.image(index);
                    let status = if image.missing { ImageStatus::Missing } else { ImageStatus::Ok };
                    insert_image(&mut insert, root, &image.rel_path, &image.probed, status, now_unix_s)
                        .at(path)?;
                    if let Some(dup_path) = &image.duplicate_rel_path {
                        let of = tx.last_insert_rowid();
                        duplicate
                            .execute((
                                root.0,
                                dup_path,
                                of,
                                to_i64(image.probed.file_size_bytes).at(path)?,
                                image.probed.mtime_ns,
                                now_unix_s,
                            ))
                            .at(path)?;
                    }
                }
            }
            tx.commit().at(path)?;
            start = end;
        }
        Ok(())
    }
}

// ---- connection setup ----

fn connect(path: &Path) -> Result<Connection, CatalogError> {
    // No SQLITE_OPEN_CREATE: `open` must not conjure an empty catalog, and `create` has made
    // the file already. No SQLITE_OPEN_URI: a path is a path.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).at(path)?;
    conn.busy_timeout(BUSY_TIMEOUT).at(path)?;
    Ok(conn)
}

/// Per-connection settings, applied on every open.
fn configure(conn: &mut Connection, path: &Path) -> Result<(), CatalogError> {
    // WAL: readers never block the writer nor the writer them, and a commit is one append.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).at(path)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(CatalogError::Sqlite {
            path: path.to_owned(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("could not switch to WAL journal mode (still {mode})")),
            ),
        });
    }
    // synchronous=NORMAL in WAL mode: commits are not fsynced, checkpoints are. The database
    // is never corrupted by a crash of any kind. A killed *process* loses nothing that was
    // committed (the WAL is in the OS page cache and is replayed on the next open), which is
    // the product's promise that every acknowledged edit survives. Only an OS crash or power
    // loss can roll back the last few commits before the most recent checkpoint — still a
    // consistent catalog, just slightly older.
    conn.pragma_update(None, "synchronous", "NORMAL").at(path)?;
    conn.pragma_update(None, "foreign_keys", "ON").at(path)?;
    conn.pragma_update(None, "cache_size", -CACHE_SIZE_KIB).at(path)?;
    conn.pragma_update(None, "temp_store", "MEMORY").at(path)?;
    conn.pragma_update(None, "mmap_size", MMAP_SIZE_BYTES).at(path)?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES).at(path)?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES).at(path)?;
    // Query planner stability guarantee: a statement's plan never depends on the values bound
    // to it. Without it SQLite (built with STAT4) re-prepares a cached statement whenever a
    // parameter that reaches the planner is re-bound, which made loading one image row cost
    // ~40 µs of parsing instead of ~3 µs. Plans are chosen explicitly anyway (see `query`).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).at(path)?;
    conn.set_prepared_statement_cache_capacity(128);
    // Write transactions take the write lock up front, so waiting for another writer goes
    // through busy_timeout instead of failing when a read transaction cannot be upgraded.
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    Ok(())
}

fn user_version(conn: &Connection, path: &Path) -> Result<u32, CatalogError> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).at(path)?;
    u32::try_from(v).map_err(|_| CatalogError::NotACatalog {
        path: path.to_owned(),
        reason: format!("its schema version {v} was not written by Lacuna"),
    })
}

/// Copies the catalog to `<path>.v<version>-backup-<now>` before a migration.
fn backup(conn: &Connection, path: &Path, version: u32, now_unix_s: i64) -> Result<(), CatalogError> {
    let mut target = path.as_os_str().to_owned();
    target.push(format!(".v{version}-backup-{now_unix_s}"));
    let target = PathBuf::from(target);
    let fail = |source| CatalogError::Backup { path: path.to_owned(), from: version, source };
    let target_str = target.to_str().ok_or_else(|| fail(rusqlite::Error::InvalidPath(target.clone())))?;
    conn.execute("VACUUM INTO ?1", [target_str]).map_err(fail)?;
    Ok(())
}

// ---- writes ----

fn apply_op(
    tx: &Transaction<'_>,
    job: JobId,
    op: &ImportOp,
    now_unix_s: i64,
    path: &Path,
) -> Result<(), CatalogError> {
    let no_such_image = |id: ImageId| CatalogError::NoSuchImage { path: path.to_owned(), id };
    match op {
        ImportOp::Insert { root, rel_path, probed } => {
            let mut stmt = tx.prepare_cached(&INSERT_IMAGE_SQL).at(path)?;
            insert_image(&mut stmt, *root, rel_path, probed, ImageStatus::Ok, now_unix_s).at(path)?;
        }
        ImportOp::Update { id, probed } => {
            let mut stmt = tx.prepare_cached(&UPDATE_IMAGE_SQL).at(path)?;
            let changed = (|| {
                stmt.raw_bind_parameter(1, id.0)?;
                bind_probed(&mut stmt, 2, probed)?;
                stmt.raw_bind_parameter(26, now_unix_s)?;
                stmt.raw_execute()
            })()
            .at(path)?;
            if changed == 0 {
                return Err(no_such_image(*id));
            }
        }
        ImportOp::Move { id, root, rel_path, probed } => {
            let mut stmt = tx.prepare_cached(&MOVE_IMAGE_SQL).at(path)?;
            let (rel_dir, file_name) = split_rel_path(rel_path);
            let changed = (|| {
                stmt.raw_bind_parameter(1, id.0)?;
                stmt.raw_bind_parameter(2, root.0)?;
                stmt.raw_bind_parameter(3, rel_path.as_str())?;
                stmt.raw_bind_parameter(4, rel_dir)?;
                stmt.raw_bind_parameter(5, file_name)?;
                bind_probed(&mut stmt, 6, probed)?;
                stmt.raw_bind_parameter(30, now_unix_s)?;
                stmt.raw_execute()
            })()
            .at(path)?;
            if changed == 0 {
                return Err(no_such_image(*id));
            }
        }
        ImportOp::Duplicate { root, rel_path, of, file_size_bytes, mtime_ns } => {
            tx.prepare_cached(UPSERT_DUPLICATE_SQL)
                .and_then(|mut s| {
                    s.execute((root.0, rel_path, of.0, to_i64(*file_size_bytes)?, mtime_ns, now_unix_s))
                })
                .at(path)?;
        }
        ImportOp::Present { id } => {
            let changed =
                tx.prepare_cached(PRESENT_SQL).and_then(|mut s| s.execute((id.0, now_unix_s))).at(path)?;
            if changed == 0 {
                return Err(no_such_image(*id));
            }
        }
        ImportOp::Problem { root, path: file, kind, message } => {
            tx.prepare_cached(INSERT_PROBLEM_SQL)
                .and_then(|mut s| s.execute((job.0, root.map(|r| r.0), file, kind.as_str(), message)))
                .at(path)?;
        }
    }
    Ok(())
}

/// Runs the [`INSERT_IMAGE_SQL`] statement for one image.
fn insert_image(
    stmt: &mut Statement<'_>,
    root: RootId,
    rel_path: &str,
    probed: &ProbedImage,
    status: ImageStatus,
    now_unix_s: i64,
) -> rusqlite::Result<()> {
    let (rel_dir, file_name) = split_rel_path(rel_path);
    stmt.raw_bind_parameter(1, root.0)?;
    stmt.raw_bind_parameter(2, rel_path)?;
    stmt.raw_bind_parameter(3, rel_dir)?;
    stmt.raw_bind_parameter(4, file_name)?;
    bind_probed(stmt, 5, probed)?;
    stmt.raw_bind_parameter(29, status.as_str())?;
    stmt.raw_bind_parameter(30, now_unix_s)?;
    stmt.raw_execute()?;
    Ok(())
}

/// Binds the [`PROBED_COLUMNS`] of `p` to parameters `first..first + 24`.
fn bind_probed(stmt: &mut Statement<'_>, first: usize, p: &ProbedImage) -> rusqlite::Result<()> {
    let exif = &p.exif;
    let capture = exif.capture_time.as_ref();
    let gps = exif.gps.as_ref();
    let s = &p.stats;
    let values: [&dyn ToSql; 24] = [
        &p.format.as_str(),
        &p.width_px,
        &p.height_px,
        &to_i64(p.file_size_bytes)?,
        &p.mtime_ns,
        &p.content_hash.0,
        &exif.orientation,
        &exif.camera_make.as_deref(),
        &exif.camera_model.as_deref(),
        &exif.body_serial.as_deref(),
        &exif.lens_model.as_deref(),
        &exif.camera_id(),
        &capture.map(|c| c.local.as_str()),
        &capture.and_then(|c| c.utc_offset_min),
        &gps.map(|g| g.latitude_deg),
        &gps.map(|g| g.longitude_deg),
        &gps.and_then(|g| g.altitude_m),
        &s.luma_mean,
        &s.luma_p05,
        &s.luma_p50,
        &s.luma_p95,
        &s.contrast,
        &s.saturation_mean,
        &s.sharpness,
    ];
    for (k, value) in values.iter().enumerate() {
        stmt.raw_bind_parameter(first + k, value)?;
    }
    Ok(())
}

/// `("a/b", "c.jpg")` for `"a/b/c.jpg"`; `("", "c.jpg")` at the top level.
fn split_rel_path(rel_path: &str) -> (&str, &str) {
    rel_path.rsplit_once('/').unwrap_or(("", rel_path))
}

/// Reads a non-negative integer column.
pub(crate) fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Integer, Box::new(e))
    })
}

pub(crate) fn to_i64(v: u64) -> rusqlite::Result<i64> {
    i64::try_from(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn counts_params(c: &ImportCounts) -> rusqlite::Result<[i64; 9]> {
    Ok([
        to_i64(c.files_found)?,
        to_i64(c.added)?,
        to_i64(c.updated)?,
        to_i64(c.moved)?,
        to_i64(c.unchanged)?,
        to_i64(c.duplicates)?,
        to_i64(c.marked_missing)?,
        to_i64(c.problems)?,
        to_i64(c.ignored)?,
    ])
}

// ---- reads ----

fn parse_status(name: &str, id: ImageId) -> Result<ImageStatus, CatalogError> {
    ImageStatus::from_name(name)
        .ok_or_else(|| CatalogError::Corrupt(format!("image {id}: unknown status {name:?}")))
}

/// Builds an [`ImageRow`] from a row of [`IMAGE_SELECT`].
fn image_from_row(row: &Row<'_>, path: &Path) -> Result<ImageRow, CatalogError> {
    let id = ImageId(row.get(0).at(path)?);
    let status: String = row.get(4).at(path)?;
    let format: String = row.get(5).at(path)?;
    let format = ImageFormat::from_name(&format)
        .ok_or_else(|| CatalogError::Corrupt(format!("image {id}: unknown format {format:?}")))?;
    let hash: Vec<u8> = row.get(10).at(path)?;
    let hash = <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| {
        CatalogError::Corrupt(format!("image {id}: content hash has {} bytes, expected 32", hash.len()))
    })?;
    let captured_local: Option<String> = row.get(17).at(path)?;
    let lat: Option<f64> = row.get(19).at(path)?;
    let lon: Option<f64> = row.get(20).at(path)?;
    let gps = match (lat, lon) {
        (Some(latitude_deg), Some(longitude_deg)) => {
            Some(GpsPosition { latitude_deg, longitude_deg, altitude_m: row.get(21).at(path)? })
        }
        _ => None,
    };
    let capture_time = match captured_local {
        Some(local) => Some(CaptureTime { local, utc_offset_min: row.get(18).at(path)? }),
        None => None,
    };
    Ok(ImageRow {
        id,
        root: RootId(row.get(1).at(path)?),
        root_path: row.get(2).at(path)?,
        rel_path: row.get(3).at(path)?,
        status: parse_status(&status, id)?,
        probed: ProbedImage {
            format,
            width_px: row.get(6).at(path)?,
            height_px: row.get(7).at(path)?,
            file_size_bytes: get_u64(row, 8).at(path)?,
            mtime_ns: row.get(9).at(path)?,
            content_hash: ContentHash(hash),
            exif: ExifInfo {
                camera_make: row.get(12).at(path)?,
                camera_model: row.get(13).at(path)?,
                body_serial: row.get(14).at(path)?,
                lens_model: row.get(15).at(path)?,
                capture_time,
                gps,
                orientation: row.get(11).at(path)?,
            },
            stats: ImageStats {
                luma_mean: row.get(22).at(path)?,
                luma_p05: row.get(23).at(path)?,
                luma_p50: row.get(24).at(path)?,
                luma_p95: row.get(25).at(path)?,
                contrast: row.get(26).at(path)?,
                saturation_mean: row.get(27).at(path)?,
                sharpness: row.get(28).at(path)?,
            },
        },
        camera: row.get(16).at(path)?,
        imported_at_unix_s: row.get(29).at(path)?,
        updated_at_unix_s: row.get(30).at(path)?,
        duplicate_count: row.get(31).at(path)?,
    })
}

fn job_from_row(row: &Row<'_>, path: &Path) -> Result<JobRow, CatalogError> {
    let id = JobId(row.get(0).at(path)?);
    let status: String = row.get(2).at(path)?;
    let status = JobStatus::from_name(&status)
        .ok_or_else(|| CatalogError::Corrupt(format!("job {id}: unknown status {status:?}")))?;
    Ok(JobRow {
        id,
        kind: row.get(1).at(path)?,
        status,
        request_json: row.get(3).at(path)?,
        counts: ImportCounts {
            files_found: get_u64(row, 4).at(path)?,
            added: get_u64(row, 5).at(path)?,
            updated: get_u64(row, 6).at(path)?,
            moved: get_u64(row, 7).at(path)?,
            unchanged: get_u64(row, 8).at(path)?,
            duplicates: get_u64(row, 9).at(path)?,
            marked_missing: get_u64(row, 10).at(path)?,
            problems: get_u64(row, 11).at(path)?,
            ignored: get_u64(row, 12).at(path)?,
        },
        error: row.get(13).at(path)?,
        started_at_unix_s: row.get(14).at(path)?,
        finished_at_unix_s: row.get(15).at(path)?,
    })
}

#[cfg(test)]
mod tests {
    use lacuna_core::ImageStatus;

    use super::*;

    fn temp_catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = Catalog::create(&dir.path().join("catalog.sqlite")).expect("create");
        (dir, catalog)
    }

    fn pragma(catalog: &Catalog, name: &str) -> String {
        catalog
            .conn
            .pragma_query_value(None, name, |r| {
                let v: rusqlite::types::Value = r.get(0)?;
                Ok(match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })
            .expect("pragma")
    }

    #[test]
    fn every_connection_gets_the_settings() {
        let (dir, catalog) = temp_catalog();
        drop(catalog);
        let catalog = Catalog::open(&dir.path().join("catalog.sqlite"), 0).expect("open");
        assert_eq!(pragma(&catalog, "journal_mode"), "wal");
        assert_eq!(pragma(&catalog, "foreign_keys"), "1");
        assert_eq!(pragma(&catalog, "synchronous"), "1"); // NORMAL
        assert_eq!(pragma(&catalog, "temp_store"), "2"); // MEMORY
        assert_eq!(pragma(&catalog, "busy_timeout"), "5000");
        assert_eq!(pragma(&catalog, "cache_size"), (-CACHE_SIZE_KIB).to_string());
        assert_eq!(pragma(&catalog, "mmap_size"), MMAP_SIZE_BYTES.to_string());
    }

    fn plan(catalog: &Catalog, q: &Query) -> String {
        let mut stmt = catalog.conn.prepare(&format!("EXPLAIN QUERY PLAN {}", q.sql)).expect("explain");
        let rows: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(q.params.iter()), |r| r.get(3))
            .and_then(Iterator::collect)
            .expect("plan rows");
        rows.join("\n")
    }

    #[test]
    fn each_driver_walks_its_index() {
        let (_dir, catalog) = temp_catalog();
        let filter = ImageFilter {
            status: Some(ImageStatus::Missing),
            root: Some(RootId(1)),
            folder: Some("a/b".into()),
            camera: Some("Canon EOS 5D".into()),
            captured_from: Some("2024-01".into()),
            captured_before: Some("2024-02".into()),
            has_duplicates: Some(true),
            label_state: Some(lacuna_core::ImageLabelState::Labeled),
            condition: Some(crate::ConditionFilter { key: "weather".into(), value: "rain".into() }),
            class: Some(lacuna_core::ClassId(1)),
            prediction: Some(crate::PredictionFilter {
                run: lacuna_core::RunId(1),
                class_ids: Some(vec![0, 2]),
                score_min: Some(0.25),
                score_max: Some(0.5),
            }),
        };
        let sql = FilterSql::new(&filter);
        let mut drivers = sql.candidates(Purpose::List);
        drivers.push(Driver::PrimaryKey);
        assert_eq!(drivers.len(), 7);
        for driver in drivers {
            let list = plan(&catalog, &sql.list(driver, 10, 200));
            let probe = plan(&catalog, &sql.probe(driver, 10, 100));
            let count = plan(&catalog, &sql.count(driver));
            println!("{driver:?}\n  list: {list}\n  probe: {probe}\n  count: {count}");
            let expected = match driver {
                Driver::PrimaryKey => "SEARCH i USING INTEGER PRIMARY KEY (rowid>?)".to_owned(),
                Driver::Duplicates => {
                    "SEARCH d USING COVERING INDEX duplicate_file_of_image (of_image_id>?)".to_owned()
                }
                Driver::Camera => "SEARCH i USING INDEX image_camera (camera=? AND rowid>?)".into(),
                Driver::Root => "SEARCH i USING INDEX image_root (root_id=? AND rowid>?)".into(),
                Driver::Status => "SEARCH i USING INDEX image_status (status=? AND rowid>?)".into(),
                Driver::Folder => {
                    "SEARCH i USING INDEX image_root_path (root_id=? AND rel_path>? AND rel_path<?)".into()
                }
                Driver::Captured => {
                    "SEARCH i USING INDEX image_captured (captured_local>? AND captured_local<?)".into()
                }
            };
            assert!(list.contains(&expected), "{driver:?}: {list}");
            // The per-row checks seek by image, never scan.
            for check in [
                "SEARCH ax EXISTS USING INDEX annotation_image (image_id=?)",
                "SEARCH px EXISTS USING INDEX prediction_run_image (run_id=? AND image_id=?)",
                "SEARCH co USING PRIMARY KEY (image_id=? AND key=?)",
            ] {
                assert!(list.contains(check), "{driver:?}: {list}");
            }
            let sorts = list.contains("TEMP B-TREE FOR ORDER BY");
            assert_eq!(sorts, !driver.is_ordered(), "{driver:?}: {list}");
            assert!(!list.contains("TEMP B-TREE FOR GROUP BY"), "{driver:?}: {list}");
            if driver.is_ordered() {
                let walk = plan(&catalog, &sql.walk(driver, 10, 1000, 200));
                let end = plan(&catalog, &sql.walk_end(driver, 10, 1000));
                println!("  walk: {walk}\n  walk end: {end}");
                let covering = expected.replace("USING INDEX", "USING COVERING INDEX");
                for p in [&walk, &end] {
                    assert!(p.contains(&expected) || p.contains(&covering), "{driver:?}: {p}");
                    assert!(!p.contains("TEMP B-TREE"), "{driver:?}: {p}");
                }
            }
        }
    }
}
