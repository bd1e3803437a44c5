use std::path::{Path, PathBuf};

use lacuna_core::{ContentHash, ImageId, ImageStatus, JobId, RootId};

use crate::{
    CatalogCounts, CatalogError, DuplicateRow, HashMatch, ImageFilter, ImageRow, ImportCounts,
    ImportOp, JobRow, JobStatus, KnownDuplicate, KnownFile, ProblemRow, RootRow,
};

/// An open catalog. Not `Sync`: open one per thread (WAL lets readers and one writer work at
/// the same time).
#[derive(Debug)]
pub struct Catalog {
    conn: rusqlite::Connection,
    path: PathBuf,
}

impl Catalog {
    /// Creates a new catalog file at `path` (fails if one exists) at the current schema version.
    pub fn create(path: &Path) -> Result<Self, CatalogError> {
        todo!()
    }

    /// Opens an existing catalog. One made by an older version is first copied to
    /// `<path>.v<old>-backup-<now_unix_s>` (`VACUUM INTO`) and then migrated; one made by a newer
    /// version fails with [`CatalogError::NewerVersion`].
    pub fn open(path: &Path, now_unix_s: i64) -> Result<Self, CatalogError> {
        todo!()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA user_version`.
    pub fn schema_version(&self) -> Result<u32, CatalogError> {
        todo!()
    }

    /// The full schema (`sqlite_master`, sorted by type and name) for snapshot tests.
    pub fn schema_dump(&self) -> Result<String, CatalogError> {
        todo!()
    }

    /// `PRAGMA integrity_check`: `Ok(())` or the problems SQLite reports.
    pub fn integrity_check(&self) -> Result<(), CatalogError> {
        todo!()
    }

    // ---- roots ----

    /// Returns the root with this absolute path, adding it if new.
    pub fn upsert_root(&mut self, abs_path: &str, now_unix_s: i64) -> Result<RootId, CatalogError> {
        todo!()
    }

    /// All roots, by id.
    pub fn roots(&self) -> Result<Vec<RootRow>, CatalogError> {
        todo!()
    }

    /// Every image row under `root` (any status), sorted by `rel_path`.
    pub fn known_files(&self, root: RootId) -> Result<Vec<KnownFile>, CatalogError> {
        todo!()
    }

    /// Every duplicate-file row under `root`, sorted by `rel_path`.
    pub fn known_duplicates(&self, root: RootId) -> Result<Vec<KnownDuplicate>, CatalogError> {
        todo!()
    }

    // ---- import jobs ----

    /// Records a new running import job.
    pub fn start_import_job(
        &mut self,
        request_json: &str,
        now_unix_s: i64,
    ) -> Result<JobId, CatalogError> {
        todo!()
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
        todo!()
    }

    /// Saves the running counts of a job (called with each batch so a crash still shows them).
    pub fn update_job_counts(&mut self, job: JobId, counts: &ImportCounts) -> Result<(), CatalogError> {
        todo!()
    }

    /// All jobs, newest first.
    pub fn import_jobs(&self) -> Result<Vec<JobRow>, CatalogError> {
        todo!()
    }

    // ---- import writes ----

    /// Applies `ops` in order in one transaction: all or nothing.
    pub fn apply_import_batch(
        &mut self,
        job: JobId,
        ops: &[ImportOp],
        now_unix_s: i64,
    ) -> Result<(), CatalogError> {
        todo!()
    }

    /// Images with this content hash, by id.
    pub fn images_by_hash(&self, hash: &ContentHash) -> Result<Vec<HashMatch>, CatalogError> {
        todo!()
    }

    /// Sets `status` on these images in one transaction; returns how many rows changed.
    pub fn set_status(
        &mut self,
        ids: &[ImageId],
        status: ImageStatus,
        now_unix_s: i64,
    ) -> Result<u64, CatalogError> {
        todo!()
    }

    /// Deletes duplicate-file rows under `root` whose `rel_path` is in `rel_paths` (files that
    /// vanished); one transaction.
    pub fn remove_duplicates(&mut self, root: RootId, rel_paths: &[String]) -> Result<u64, CatalogError> {
        todo!()
    }

    // ---- reads ----

    /// Images matching `filter` with id greater than `after`, by ascending id, at most `limit`.
    pub fn list_images(
        &self,
        filter: &ImageFilter,
        after: Option<ImageId>,
        limit: u32,
    ) -> Result<Vec<ImageRow>, CatalogError> {
        todo!()
    }

    /// Number of images matching `filter`.
    pub fn count_images(&self, filter: &ImageFilter) -> Result<u64, CatalogError> {
        todo!()
    }

    pub fn image(&self, id: ImageId) -> Result<Option<ImageRow>, CatalogError> {
        todo!()
    }

    /// Files recorded as duplicates of `id`, sorted by root and path.
    pub fn duplicates_of(&self, id: ImageId) -> Result<Vec<DuplicateRow>, CatalogError> {
        todo!()
    }

    /// Problems of `job`, or of the most recent import job when `None`; sorted by path.
    pub fn problems(&self, job: Option<JobId>) -> Result<Vec<ProblemRow>, CatalogError> {
        todo!()
    }

    pub fn counts(&self) -> Result<CatalogCounts, CatalogError> {
        todo!()
    }

    /// Number of images per camera id (`None`: no camera in EXIF), sorted by count descending
    /// then camera.
    pub fn counts_by_camera(&self) -> Result<Vec<(Option<String>, u64)>, CatalogError> {
        todo!()
    }
}
