//! The import job: walk, probe and store, in parallel with bounded queues.
//!
//! ```text
//! walker thread ──work (bounded)──▶ N probe threads ──results (bounded)──▶ writer (job thread)
//!      │  unchanged files are skipped here (size + mtime)          batched transactions
//!      └──────────── problems, "present again" ───────────────────────▶
//! ```
//!
//! Every batch is one transaction, so the catalog is never half-written; a cancelled or killed
//! import keeps what it committed, and a re-run skips those files as unchanged.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use lacuna_catalog::{Catalog, ImportCounts, ImportOp, JobStatus, KnownDuplicate, KnownFile};
use lacuna_core::{
    ContentHash, ImageId, ImageStatus, ImportProblem, JobId, ProbedImage, ProblemKind, RootId,
};
use lacuna_ingest::{FoundFile, ProbeOptions, ScanItem};

use crate::project::{thumbnail_path, write_thumbnail};
use crate::{
    ApiError, Clock, ErrorCode, ImportCountsDto, ImportJob, ImportPhase, ImportProgress, ImportRequest,
    ImportStatus, ImportSummary, Project,
};

const PROGRESS_EVERY: Duration = Duration::from_millis(100);
const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Where one requested path lands in the catalog.
#[derive(Debug, Clone)]
struct Target {
    root: RootId,
    /// What to walk: a folder or a single file.
    scan_path: PathBuf,
    /// Folder of `scan_path` relative to its root ("" at the root).
    rel_prefix: String,
    is_folder: bool,
}

impl Target {
    fn rel_path(&self, scanned_rel: &str) -> String {
        if self.rel_prefix.is_empty() {
            scanned_rel.to_owned()
        } else {
            format!("{}/{scanned_rel}", self.rel_prefix)
        }
    }

    fn covers(&self, rel_path: &str) -> bool {
        self.rel_prefix.is_empty()
            || rel_path.strip_prefix(&self.rel_prefix).is_some_and(|rest| rest.starts_with('/'))
    }
}

/// What the catalog knew of a root when the import started.
#[derive(Debug, Default)]
struct KnownRoot {
    files: HashMap<String, KnownFile>,
    duplicates: HashMap<String, KnownDuplicate>,
}

#[derive(Debug)]
struct Work {
    root: RootId,
    rel_path: String,
    file: FoundFile,
    known_id: Option<ImageId>,
}

#[derive(Debug)]
enum Msg {
    Probed { work: Work, image: Box<ProbedImage> },
    Problem { root: Option<RootId>, known_id: Option<ImageId>, problem: ImportProblem },
    Present(ImageId),
    Fatal(ApiError),
}

/// Counters the walker updates and the writer reads for progress.
#[derive(Debug, Default)]
struct WalkCounters {
    found: AtomicU64,
    unchanged: AtomicU64,
    ignored: AtomicU64,
    complete: AtomicBool,
}

#[derive(Debug)]
struct ScanOutcome {
    target: usize,
    seen: HashSet<String>,
    complete: bool,
}

impl Project {
    /// Starts importing `request.paths` in the background. Paths are checked first: one that
    /// does not exist fails here and nothing is imported. Only one import runs per project at a
    /// time (across processes).
    pub fn start_import(
        &self,
        request: ImportRequest,
        mut on_progress: impl FnMut(&ImportProgress) + Send + 'static,
    ) -> Result<ImportJob, ApiError> {
        if request.paths.is_empty() {
            return Err(ApiError::invalid("paths: give at least one folder or file to import"));
        }
        let lock = self.acquire_import_lock()?;
        let clock = self.clock();
        let mut catalog = Catalog::open(&self.catalog_path(), clock.now_unix_s())?;
        self.close_stale_jobs(&mut catalog)?;
        let targets = resolve_targets(&mut catalog, &request.paths, clock.now_unix_s())?;
        let mut known = HashMap::new();
        for target in &targets {
            if let std::collections::hash_map::Entry::Vacant(slot) = known.entry(target.root) {
                slot.insert(KnownRoot {
                    files: catalog
                        .known_files(target.root)?
                        .into_iter()
                        .map(|k| (k.rel_path.clone(), k))
                        .collect(),
                    duplicates: catalog
                        .known_duplicates(target.root)?
                        .into_iter()
                        .map(|d| (d.rel_path.clone(), d))
                        .collect(),
                });
            }
        }
        let request_json = serde_json::to_string(&request).map_err(|e| ApiError::internal(e.to_string()))?;
        let job = catalog.start_import_job(&request_json, clock.now_unix_s())?;
        let cancel = Arc::new(AtomicBool::new(false));
        let run = ImportRun {
            job,
            project_dir: self.dir().to_path_buf(),
            options: request.options.clone(),
            targets,
            known: Arc::new(known),
            cancel: Arc::clone(&cancel),
            clock,
        };
        let handle = std::thread::Builder::new()
            .name("lacuna-import".into())
            .spawn(move || {
                let _lock = lock; // held until the import ends
                let result = run.execute(&mut catalog, &mut on_progress);
                if let Err(err) = &result {
                    let now = run.clock.now_unix_s();
                    // The job row records the failure; the error itself goes to the caller.
                    if let Err(record_err) = catalog.finish_import_job(
                        job,
                        JobStatus::Failed,
                        &ImportCounts::default(),
                        Some(&err.message),
                        now,
                    ) {
                        return Err(ApiError::internal(format!(
                            "{err}; recording the failure also failed: {record_err}"
                        )));
                    }
                }
                result
            })
            .map_err(|e| ApiError::internal(format!("could not start the import thread: {e}")))?;
        Ok(ImportJob::new(job.0, cancel, handle))
    }

    fn acquire_import_lock(&self) -> Result<File, ApiError> {
        let path = self.lock_path();
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ApiError::io(&path, &e))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(ApiError::new(
                ErrorCode::JobRunning,
                format!("{}: another import is running on this project", self.dir().display()),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(ApiError::io(&path, &e)),
        }
    }
}

/// Maps requested paths to roots: a path inside an already imported folder stays under that
/// folder's root; a new folder becomes a root; a new single file is filed under its folder.
fn resolve_targets(
    catalog: &mut Catalog,
    paths: &[PathBuf],
    now_unix_s: i64,
) -> Result<Vec<Target>, ApiError> {
    let mut canonical_paths = Vec::with_capacity(paths.len());
    for path in paths {
        canonical_paths.push((path.canonicalize().map_err(|e| ApiError::io(path, &e))?, path));
    }
    // Outer folders first, so a folder that contains another requested (or earlier imported)
    // folder becomes the root before the inner one is resolved.
    canonical_paths.sort_by_key(|(canonical, _)| canonical.components().count());
    let mut targets = Vec::with_capacity(paths.len());
    for (canonical, path) in canonical_paths {
        let meta = std::fs::metadata(&canonical).map_err(|e| ApiError::io(path, &e))?;
        let is_folder = meta.is_dir();
        if !is_folder && !meta.is_file() {
            return Err(ApiError::invalid(format!("{}: not a folder or a regular file", path.display())));
        }
        let folder = if is_folder {
            canonical.clone()
        } else {
            canonical
                .parent()
                .map(Path::to_path_buf)
                .ok_or_else(|| ApiError::invalid(format!("{}: has no parent folder", path.display())))?
        };
        let roots = catalog.roots()?;
        let existing = roots
            .iter()
            .filter_map(|r| folder.strip_prefix(&r.path).ok().map(|rel| (r, rel.to_path_buf())))
            .min_by_key(|(r, _)| r.path.len());
        let (root, rel_prefix) = match existing {
            Some((r, rel)) => (r.id, slash_path(&rel)?),
            None => {
                let text = folder.to_str().ok_or_else(|| {
                    ApiError::invalid(format!("{}: the folder name is not valid UTF-8", folder.display()))
                })?;
                let root = catalog.upsert_root(text, now_unix_s)?;
                // Folders imported before that lie inside this one join it, so no file is ever
                // known under two roots (which would make it look like its own duplicate).
                for inner in roots.iter().filter(|r| r.id != root) {
                    if let Ok(rel) = Path::new(&inner.path).strip_prefix(&folder)
                        && !rel.as_os_str().is_empty()
                    {
                        catalog.merge_root_into(inner.id, root, &slash_path(rel)?)?;
                    }
                }
                (root, String::new())
            }
        };
        targets.push(Target { root, scan_path: canonical, rel_prefix, is_folder });
    }
    Ok(targets)
}

fn slash_path(rel: &Path) -> Result<String, ApiError> {
    let mut parts = Vec::new();
    for c in rel.components() {
        parts.push(c.as_os_str().to_str().ok_or_else(|| {
            ApiError::invalid(format!("{}: the folder name is not valid UTF-8", rel.display()))
        })?);
    }
    Ok(parts.join("/"))
}

#[derive(Debug)]
struct ImportRun {
    job: JobId,
    project_dir: PathBuf,
    options: crate::ImportOptions,
    targets: Vec<Target>,
    known: Arc<HashMap<RootId, KnownRoot>>,
    cancel: Arc<AtomicBool>,
    clock: Arc<dyn Clock>,
}

impl ImportRun {
    fn execute(
        &self,
        catalog: &mut Catalog,
        on_progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary, ApiError> {
        let started = Instant::now();
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        let probe_options = ProbeOptions { max_pixels: self.options.max_pixels, ..ProbeOptions::default() };
        let (work_tx, work_rx) = bounded::<Work>(threads * 4);
        let (msg_tx, msg_rx) = bounded::<Msg>(threads * 16);
        let counters = Arc::new(WalkCounters::default());

        let walker = {
            let targets = self.targets.clone();
            let known = Arc::clone(&self.known);
            let cancel = Arc::clone(&self.cancel);
            let counters = Arc::clone(&counters);
            let msg_tx = msg_tx.clone();
            std::thread::Builder::new()
                .name("lacuna-walk".into())
                .spawn(move || walk(&targets, &known, &cancel, &counters, &work_tx, &msg_tx))
                .map_err(|e| ApiError::internal(format!("could not start the folder walker: {e}")))?
        };
        let mut probers = Vec::with_capacity(threads);
        for i in 0..threads {
            let work_rx = work_rx.clone();
            let msg_tx = msg_tx.clone();
            let cancel = Arc::clone(&self.cancel);
            let options = probe_options.clone();
            let project_dir = self.project_dir.clone();
            probers.push(
                std::thread::Builder::new()
                    .name(format!("lacuna-probe-{i}"))
                    .spawn(move || probe_loop(&work_rx, &msg_tx, &cancel, &options, &project_dir))
                    .map_err(|e| ApiError::internal(format!("could not start a probe thread: {e}")))?,
            );
        }
        drop(work_rx);
        drop(msg_tx);

        let mut writer = Writer::new(self.job, self.options.batch_size.max(1), Arc::clone(&self.clock));
        let mut last_progress = Instant::now();
        let mut last_flush = Instant::now();
        let mut fatal: Option<ApiError> = None;
        loop {
            match msg_rx.recv_timeout(PROGRESS_EVERY) {
                Ok(Msg::Fatal(err)) => {
                    self.cancel.store(true, Ordering::SeqCst);
                    fatal.get_or_insert(err);
                }
                Ok(msg) => {
                    if fatal.is_none()
                        && let Err(err) = writer.handle(catalog, msg, &self.known)
                    {
                        self.cancel.store(true, Ordering::SeqCst);
                        fatal = Some(err);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if fatal.is_none()
                && (writer.ops.len() >= writer.batch_size || last_flush.elapsed() >= FLUSH_EVERY)
            {
                if let Err(err) = writer.flush(catalog, &counters) {
                    self.cancel.store(true, Ordering::SeqCst);
                    fatal = Some(err);
                }
                last_flush = Instant::now();
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                on_progress(&writer.progress(&counters, ImportPhase::Importing, started));
                last_progress = Instant::now();
            }
        }
        let scans = walker.join().map_err(|_| ApiError::internal("the folder walker panicked"))?;
        for prober in probers {
            prober.join().map_err(|_| ApiError::internal("a probe thread panicked"))?;
        }
        if let Some(err) = fatal {
            return Err(err);
        }
        writer.flush(catalog, &counters)?;
        on_progress(&writer.progress(&counters, ImportPhase::Finishing, started));

        let cancelled = self.cancel.load(Ordering::SeqCst);
        if !cancelled {
            self.mark_vanished(catalog, &scans, &mut writer)?;
        }
        let counts = writer.counts(&counters);
        let status = if cancelled {
            ImportStatus::Cancelled
        } else if counts.problems > 0 {
            ImportStatus::FinishedWithProblems
        } else {
            ImportStatus::Finished
        };
        let job_status = match status {
            ImportStatus::Cancelled => JobStatus::Cancelled,
            ImportStatus::FinishedWithProblems => JobStatus::FinishedWithProblems,
            ImportStatus::Finished => JobStatus::Finished,
        };
        catalog.finish_import_job(self.job, job_status, &counts.into(), None, self.clock.now_unix_s())?;
        let elapsed = started.elapsed();
        let summary = ImportSummary {
            job: self.job.0,
            status,
            counts,
            elapsed_ms: duration_ms(elapsed),
            rate_files_per_s: rate(counts.files_done(), elapsed),
        };
        on_progress(&writer.progress(&counters, ImportPhase::Finishing, started));
        Ok(summary)
    }

    /// After complete walks: known files not seen are `missing`, vanished duplicate files are
    /// forgotten.
    fn mark_vanished(
        &self,
        catalog: &mut Catalog,
        scans: &[ScanOutcome],
        writer: &mut Writer,
    ) -> Result<(), ApiError> {
        let mut missing: Vec<ImageId> = writer.vanished.clone();
        let mut gone_duplicates: HashMap<RootId, Vec<String>> = HashMap::new();
        for scan in scans.iter().filter(|s| s.complete) {
            let target = &self.targets[scan.target];
            if !target.is_folder {
                continue;
            }
            let Some(known) = self.known.get(&target.root) else { continue };
            missing.extend(
                known
                    .files
                    .values()
                    .filter(|k| {
                        k.status == ImageStatus::Ok
                            && target.covers(&k.rel_path)
                            && !scan.seen.contains(&k.rel_path)
                            && !writer.touched.contains(&k.id)
                    })
                    .map(|k| k.id),
            );
            gone_duplicates.entry(target.root).or_default().extend(
                known
                    .duplicates
                    .keys()
                    .filter(|rel| target.covers(rel) && !scan.seen.contains(*rel))
                    .cloned(),
            );
        }
        for (root, rel) in &writer.duplicates_now_images {
            gone_duplicates.entry(*root).or_default().push(rel.clone());
        }
        missing.sort_unstable();
        missing.dedup();
        let now = self.clock.now_unix_s();
        writer.marked_missing += catalog.set_status(&missing, ImageStatus::Missing, now)?;
        let mut roots: Vec<_> = gone_duplicates.into_iter().collect();
        roots.sort_by_key(|(root, _)| *root);
        for (root, mut rels) in roots {
            rels.sort_unstable();
            rels.dedup();
            catalog.remove_duplicates(root, &rels)?;
        }
        Ok(())
    }
}

fn walk(
    targets: &[Target],
    known: &HashMap<RootId, KnownRoot>,
    cancel: &AtomicBool,
    counters: &WalkCounters,
    work_tx: &Sender<Work>,
    msg_tx: &Sender<Msg>,
) -> Vec<ScanOutcome> {
    let empty = KnownRoot::default();
    let mut outcomes = Vec::with_capacity(targets.len());
    for (index, target) in targets.iter().enumerate() {
        let known_root = known.get(&target.root).unwrap_or(&empty);
        let mut seen = HashSet::new();
        let mut receiver_gone = false;
        let result = lacuna_ingest::scan(&target.scan_path, |item| {
            if cancel.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            let sent = match item {
                ScanItem::File(file) => {
                    counters.found.fetch_add(1, Ordering::Relaxed);
                    let rel_path = target.rel_path(&file.rel_path);
                    seen.insert(rel_path.clone());
                    let same = |size: u64, mtime: i64| size == file.file_size_bytes && mtime == file.mtime_ns;
                    let known_file = known_root.files.get(&rel_path);
                    match known_file {
                        Some(k) if same(k.file_size_bytes, k.mtime_ns) => {
                            counters.unchanged.fetch_add(1, Ordering::Relaxed);
                            if k.status == ImageStatus::Missing {
                                msg_tx.send(Msg::Present(k.id)).is_ok()
                            } else {
                                true
                            }
                        }
                        None if known_root
                            .duplicates
                            .get(&rel_path)
                            .is_some_and(|d| same(d.file_size_bytes, d.mtime_ns)) =>
                        {
                            counters.unchanged.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        _ => work_tx
                            .send(Work {
                                root: target.root,
                                rel_path,
                                file,
                                known_id: known_file.map(|k| k.id),
                            })
                            .is_ok(),
                    }
                }
                ScanItem::Problem(problem) => {
                    msg_tx.send(Msg::Problem { root: Some(target.root), known_id: None, problem }).is_ok()
                }
                ScanItem::Ignored(_) => {
                    counters.ignored.fetch_add(1, Ordering::Relaxed);
                    true
                }
            };
            if sent {
                ControlFlow::Continue(())
            } else {
                receiver_gone = true;
                ControlFlow::Break(())
            }
        });
        let complete = match result {
            Ok(()) => !cancel.load(Ordering::Relaxed) && !receiver_gone,
            Err(problem) => {
                // The folder itself could not be read (removed or unmounted mid-import).
                if msg_tx.send(Msg::Problem { root: Some(target.root), known_id: None, problem }).is_err() {
                    receiver_gone = true;
                }
                false
            }
        };
        outcomes.push(ScanOutcome { target: index, seen, complete });
        if receiver_gone || cancel.load(Ordering::Relaxed) {
            break;
        }
    }
    counters.complete.store(true, Ordering::SeqCst);
    outcomes
}

fn probe_loop(
    work_rx: &Receiver<Work>,
    msg_tx: &Sender<Msg>,
    cancel: &AtomicBool,
    options: &ProbeOptions,
    project_dir: &Path,
) {
    for work in work_rx {
        if cancel.load(Ordering::Relaxed) {
            continue; // drain the queue so the walker can finish
        }
        let display = work.file.abs_path.to_string_lossy().into_owned();
        let msg = match lacuna_ingest::probe_file(&work.file.abs_path, &display, options) {
            Ok(probe) => {
                let thumb = thumbnail_path(project_dir, &probe.image.content_hash);
                if thumb.exists() {
                    Msg::Probed { work, image: Box::new(probe.image) }
                } else {
                    match write_thumbnail(&thumb, &probe.thumbnail_jpeg) {
                        Ok(()) => Msg::Probed { work, image: Box::new(probe.image) },
                        Err(err) => Msg::Fatal(ApiError::new(
                            ErrorCode::Io,
                            format!(
                                "cannot write thumbnails into the project (disk full or read-only?): {err}"
                            ),
                        )),
                    }
                }
            }
            Err(problem) => Msg::Problem { root: Some(work.root), known_id: work.known_id, problem },
        };
        if msg_tx.send(msg).is_err() {
            return;
        }
    }
}

/// The job thread's side: turns results into catalog operations and commits them in batches.
#[derive(Debug)]
struct Writer {
    job: JobId,
    batch_size: usize,
    clock: Arc<dyn Clock>,
    ops: Vec<ImportOp>,
    /// Hashes inserted or moved in the current, uncommitted batch.
    pending_hashes: HashSet<ContentHash>,
    /// Images updated or moved by this run (never marked missing by it).
    touched: HashSet<ImageId>,
    /// Known images whose file vanished between the walk and the probe.
    vanished: Vec<ImageId>,
    /// Paths that were duplicate files and now hold an image of their own.
    duplicates_now_images: Vec<(RootId, String)>,
    added: u64,
    updated: u64,
    moved: u64,
    duplicates: u64,
    problems: u64,
    marked_missing: u64,
    /// The counts as of the last commit: progress reports only what is stored.
    committed: ImportCountsDto,
}

impl Writer {
    fn new(job: JobId, batch_size: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            job,
            batch_size,
            clock,
            ops: Vec::with_capacity(batch_size),
            pending_hashes: HashSet::new(),
            touched: HashSet::new(),
            vanished: Vec::new(),
            duplicates_now_images: Vec::new(),
            added: 0,
            updated: 0,
            moved: 0,
            duplicates: 0,
            problems: 0,
            marked_missing: 0,
            committed: ImportCountsDto::default(),
        }
    }

    fn handle(
        &mut self,
        catalog: &mut Catalog,
        msg: Msg,
        known: &HashMap<RootId, KnownRoot>,
    ) -> Result<(), ApiError> {
        match msg {
            Msg::Present(id) => self.ops.push(ImportOp::Present { id }),
            Msg::Problem { root, known_id, problem } => {
                if let (Some(id), ProblemKind::Vanished) = (known_id, problem.kind) {
                    self.vanished.push(id);
                }
                self.problems += 1;
                self.ops.push(ImportOp::Problem {
                    root,
                    path: problem.path,
                    kind: problem.kind,
                    message: problem.message,
                });
            }
            Msg::Probed { work, image } => self.handle_probed(catalog, work, *image, known)?,
            Msg::Fatal(err) => return Err(err),
        }
        Ok(())
    }

    fn handle_probed(
        &mut self,
        catalog: &mut Catalog,
        work: Work,
        probed: ProbedImage,
        known: &HashMap<RootId, KnownRoot>,
    ) -> Result<(), ApiError> {
        if let Some(id) = work.known_id {
            self.touched.insert(id);
            self.updated += 1;
            self.ops.push(ImportOp::Update { id, probed });
            return Ok(());
        }
        let hash = probed.content_hash;
        if self.pending_hashes.contains(&hash) {
            // The same content earlier in this batch: commit it so the lookup below sees it.
            self.commit(catalog)?;
        }
        let matches = catalog.images_by_hash(&hash)?;
        let was_duplicate = known.get(&work.root).is_some_and(|k| k.duplicates.contains_key(&work.rel_path));
        if matches.is_empty() {
            self.pending_hashes.insert(hash);
            self.added += 1;
            if was_duplicate {
                self.duplicates_now_images.push((work.root, work.rel_path.clone()));
            }
            self.ops.push(ImportOp::Insert { root: work.root, rel_path: work.rel_path, probed });
            return Ok(());
        }
        // A match whose file is gone from its recorded place was moved here.
        let moved_from = matches.iter().find(|m| {
            !self.touched.contains(&m.id)
                && (m.status == ImageStatus::Missing || !Path::new(&m.root_path).join(&m.rel_path).exists())
        });
        if let Some(m) = moved_from {
            self.touched.insert(m.id);
            self.pending_hashes.insert(hash);
            self.moved += 1;
            if was_duplicate {
                self.duplicates_now_images.push((work.root, work.rel_path.clone()));
            }
            self.ops.push(ImportOp::Move { id: m.id, root: work.root, rel_path: work.rel_path, probed });
        } else {
            self.duplicates += 1;
            self.ops.push(ImportOp::Duplicate {
                root: work.root,
                rel_path: work.rel_path,
                of: matches[0].id,
                file_size_bytes: work.file.file_size_bytes,
                mtime_ns: work.file.mtime_ns,
            });
        }
        Ok(())
    }

    fn commit(&mut self, catalog: &mut Catalog) -> Result<(), ApiError> {
        if !self.ops.is_empty() {
            catalog.apply_import_batch(self.job, &self.ops, self.clock.now_unix_s())?;
            self.ops.clear();
        }
        self.pending_hashes.clear();
        Ok(())
    }

    fn flush(&mut self, catalog: &mut Catalog, counters: &WalkCounters) -> Result<(), ApiError> {
        let had_ops = !self.ops.is_empty();
        self.commit(catalog)?;
        self.committed = self.counts(counters);
        if had_ops {
            catalog.update_job_counts(self.job, &self.committed.into())?;
        }
        Ok(())
    }

    fn counts(&self, counters: &WalkCounters) -> ImportCountsDto {
        ImportCountsDto {
            files_found: counters.found.load(Ordering::Relaxed),
            added: self.added,
            updated: self.updated,
            moved: self.moved,
            unchanged: counters.unchanged.load(Ordering::Relaxed),
            duplicates: self.duplicates,
            marked_missing: self.marked_missing,
            problems: self.problems,
            ignored: counters.ignored.load(Ordering::Relaxed),
        }
    }

    /// Progress as of the last commit (walk counters are live: they store nothing).
    fn progress(&self, counters: &WalkCounters, phase: ImportPhase, started: Instant) -> ImportProgress {
        let counts = ImportCountsDto {
            files_found: counters.found.load(Ordering::Relaxed),
            unchanged: counters.unchanged.load(Ordering::Relaxed),
            ignored: counters.ignored.load(Ordering::Relaxed),
            ..self.committed
        };
        let elapsed = started.elapsed();
        let done = counts.files_done();
        let rate_files_per_s = rate(done, elapsed);
        let scan_complete = counters.complete.load(Ordering::SeqCst);
        let eta_s = (scan_complete && rate_files_per_s > 0.0)
            .then(|| counts.files_found.saturating_sub(done) as f64 / rate_files_per_s);
        ImportProgress {
            job: self.job.0,
            phase,
            scan_complete,
            counts,
            elapsed_ms: duration_ms(elapsed),
            rate_files_per_s,
            eta_s,
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(prefix: &str) -> Target {
        Target { root: RootId(1), scan_path: PathBuf::from("/x"), rel_prefix: prefix.into(), is_folder: true }
    }

    #[test]
    fn target_covers_its_subtree_only() {
        assert!(target("").covers("a/b.jpg"));
        assert!(target("a").covers("a/b.jpg"));
        assert!(target("a").covers("a/c/d.jpg"));
        assert!(!target("a").covers("ab/c.jpg"));
        assert!(!target("a/b").covers("a/bc/d.jpg"));
        assert_eq!(target("a/b").rel_path("c.jpg"), "a/b/c.jpg");
        assert_eq!(target("").rel_path("c.jpg"), "c.jpg");
    }
}
