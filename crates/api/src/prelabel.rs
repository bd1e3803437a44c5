//! The pre-labeling job: run a detector over catalogued images and store its predictions.
//!
//! ```text
//! feeder thread ──(id, path) bounded──▶ decode threads ──letterboxed (bounded)──▶ job thread
//!  pages the catalog,                    read, decode (DCT-scaled),               batches, runs the
//!  skips finished images                 orient, letterbox                        model, commits
//! ```
//!
//! Results are committed per batch as part of a `model_run` identified by the model's weights
//! hash and every parameter that changes results, so a rerun continues where the last stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use lacuna_catalog::{
    Catalog, ImageFilter, JobStatus, ModelRecord, PredictionRecord, RunImageResult, RunParams, RunProblem,
};
use lacuna_core::{ImageId, ImageStatus, RunId};
use lacuna_vision::{Detection, Detector, Letterbox, PostprocessOptions, Precision};
use serde::{Deserialize, Serialize};

use crate::{ApiError, Clock, ErrorCode, ImageQuery, PrelabelJob, Project};

/// Environment variable naming the default model file.
pub const MODEL_ENV: &str = "LACUNA_MODEL";
/// The default model's file name under `models/`.
pub const DEFAULT_MODEL_FILE: &str = "yolov12n.onnx";

/// What to pre-label and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(default)]
pub struct PrelabelRequest {
    /// An Ultralytics ONNX export, or safetensors with its model card. `None`: the default model.
    pub model: Option<PathBuf>,
    /// Which images (filters of [`ImageQuery`]; paging fields are ignored). Missing files are
    /// always skipped.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub images: ImageQuery,
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub batch_size: u32,
    /// `f32`, `f16` or `bf16`.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub precision: String,
    /// `cpu`, `cuda` or `cuda:N`.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub device: String,
    /// Also run on the horizontally flipped image and store those boxes (for uncertainty).
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub flip_tta: bool,
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub keep_threshold: f32,
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub display_threshold: f32,
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub iou_threshold: f32,
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub max_detections: u32,
    /// Decode threads; 0: one per core.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub decode_threads: usize,
}

impl Default for PrelabelRequest {
    fn default() -> Self {
        let post = PostprocessOptions::default();
        Self {
            model: None,
            images: ImageQuery::default(),
            batch_size: 8,
            precision: "f32".into(),
            device: "cpu".into(),
            flip_tta: false,
            keep_threshold: post.keep_threshold,
            display_threshold: post.display_threshold,
            iou_threshold: post.iou_threshold,
            max_detections: post.max_detections as u32,
            decode_threads: 0,
        }
    }
}

/// A progress event of a running pre-label job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrelabelProgress {
    pub run: i64,
    /// Images this job has to do (finished ones of an earlier attempt excluded).
    pub images_total: u64,
    /// Images committed so far by this job.
    pub images_done: u64,
    pub problems: u64,
    /// Boxes at or above the display threshold so far.
    pub detections_shown: u64,
    pub elapsed_ms: u64,
    pub rate_images_per_s: f64,
    pub eta_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PrelabelStatus {
    Finished,
    FinishedWithProblems,
    Cancelled,
}

/// How a pre-label job ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrelabelSummary {
    pub run: i64,
    pub model: String,
    pub weights_hash: String,
    pub status: PrelabelStatus,
    /// True when the run existed and this job continued it.
    pub resumed: bool,
    /// Images already finished by the run before this job.
    pub already_done: u64,
    pub images_done: u64,
    pub problems: u64,
    pub detections_shown: u64,
    pub elapsed_ms: u64,
    pub rate_images_per_s: f64,
    /// Where the time went.
    pub stages: PrelabelStages,
}

/// Where a pre-label job's time went. The decode threads work in parallel with the model, so
/// their figures are summed over the threads; the others are the job thread's own (model,
/// decoding its output, storing, and waiting for decoded images).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrelabelStages {
    pub decode_threads: u32,
    /// Reading and decoding files (DCT-scaled), summed over the decode threads.
    pub decode_ms: u64,
    /// Resizing into the model's letterbox, summed over the decode threads.
    pub letterbox_ms: u64,
    /// The model's forward passes (flip TTA included).
    pub forward_ms: u64,
    /// Boxes, NMS, masks and embeddings from the model's output.
    pub postprocess_ms: u64,
    /// Committing results to the catalog.
    pub store_ms: u64,
    /// The job thread waiting for decoded images: how long the model had nothing to do.
    pub wait_ms: u64,
    /// CPU time of the whole process (every thread, user + system) during the job.
    pub cpu_ms: u64,
    /// Cores available to the process.
    pub cores: u32,
    /// `cpu_ms / (elapsed_ms * cores)`: 1.0 when every core was busy all the time; `None`
    /// where the system does not report process CPU time.
    pub cpu_utilisation: Option<f64>,
}

impl PrelabelStages {
    /// `ms` as a percentage of a job that took `elapsed_ms`.
    pub fn percent_of(ms: u64, elapsed_ms: u64) -> f64 {
        100.0 * ms as f64 / elapsed_ms.max(1) as f64
    }

    /// How busy the decode threads were over a job that took `elapsed_ms`, in percent of their
    /// combined time.
    pub fn decode_busy_percent(&self, elapsed_ms: u64) -> DecodeBusy {
        let capacity = (elapsed_ms.max(1) * u64::from(self.decode_threads.max(1))) as f64;
        let percent = |ms: u64| 100.0 * ms as f64 / capacity;
        DecodeBusy {
            total: percent(self.decode_ms + self.letterbox_ms),
            decode: percent(self.decode_ms),
            letterbox: percent(self.letterbox_ms),
        }
    }
}

/// [`PrelabelStages::decode_busy_percent`]: percentages of the decode threads' time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeBusy {
    pub total: f64,
    pub decode: f64,
    pub letterbox: f64,
}

/// Time spent by the decode threads, in nanoseconds (summed over threads).
#[derive(Debug, Default)]
struct DecodeClock {
    decode_ns: std::sync::atomic::AtomicU64,
    letterbox_ns: std::sync::atomic::AtomicU64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn nanos_to_ms(ns: u64) -> u64 {
    ns / 1_000_000
}

/// One image on its way to the model.
#[derive(Debug)]
struct Prepared {
    image: ImageId,
    outcome: Result<(Vec<f32>, Letterbox), String>,
}

impl Project {
    /// Finds the model file: the request's, `$LACUNA_MODEL`, or `models/yolov12n.onnx` in the
    /// current folder or above the running executable.
    pub fn resolve_model_path(requested: Option<&Path>) -> Result<PathBuf, ApiError> {
        if let Some(path) = requested {
            return Ok(path.to_path_buf());
        }
        if let Some(path) = std::env::var_os(MODEL_ENV) {
            return Ok(PathBuf::from(path));
        }
        let mut candidates = vec![PathBuf::from("models").join(DEFAULT_MODEL_FILE)];
        if let Ok(exe) = std::env::current_exe() {
            candidates.extend(exe.ancestors().skip(1).map(|dir| dir.join("models").join(DEFAULT_MODEL_FILE)));
        }
        candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ModelNotFound,
                format!(
                    "no model given and the default model is not installed (models/{DEFAULT_MODEL_FILE}); \
                     run scripts/fetch-default-model.sh or pass --model PATH"
                ),
            )
        })
    }

    /// Starts pre-labeling in the background. The model is loaded first: bad weights fail here.
    pub fn start_prelabel(
        &self,
        request: PrelabelRequest,
        mut on_progress: impl FnMut(&PrelabelProgress) + Send + 'static,
    ) -> Result<PrelabelJob, ApiError> {
        let precision = Precision::parse(&request.precision).ok_or_else(|| {
            ApiError::invalid(format!("precision: {:?} is not one of f32, f16, bf16", request.precision))
        })?;
        if request.batch_size == 0 || request.batch_size > 1024 {
            return Err(ApiError::invalid(format!("batch_size: {} is outside 1..=1024", request.batch_size)));
        }
        for (field, value) in [
            ("keep_threshold", request.keep_threshold),
            ("display_threshold", request.display_threshold),
            ("iou_threshold", request.iou_threshold),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ApiError::invalid(format!("{field}: {value} is outside 0..=1")));
            }
        }
        let device = lacuna_vision::parse_device(&request.device).map_err(vision_error)?;
        let model_path = Self::resolve_model_path(request.model.as_deref())?;
        let detector = Detector::load(&model_path, &device, precision).map_err(vision_error)?;
        let clock = self.clock();
        let mut catalog = Catalog::open(&self.catalog_path(), clock.now_unix_s())?;
        let filter = self.filter_from_query(&catalog, &request.images)?;
        let card = detector.card();
        let model = catalog.upsert_model(
            &ModelRecord {
                name: card.name.clone(),
                family: card.family.as_str().to_owned(),
                scale: card.scale.as_str().to_owned(),
                task: card.task.as_str().to_owned(),
                weights_path: model_path.to_string_lossy().into_owned(),
                weights_hash: detector.weights_hash().to_owned(),
                input_size_px: card.input_size_px,
                license: card.license.clone(),
                source: card.source.clone(),
                class_names: card.class_names.clone(),
            },
            clock.now_unix_s(),
        )?;
        let params = RunParams {
            device: request.device.clone(),
            precision: precision.as_str().to_owned(),
            batch_size: request.batch_size,
            keep_threshold: request.keep_threshold,
            display_threshold: request.display_threshold,
            iou_threshold: request.iou_threshold,
            max_detections: request.max_detections,
            flip_tta: request.flip_tta,
        };
        let (run, resumed) = catalog.open_model_run(model, &params, clock.now_unix_s())?;
        let cancel = Arc::new(AtomicBool::new(false));
        let job = PrelabelRun {
            run,
            resumed,
            request,
            filter,
            detector,
            catalog_path: self.catalog_path(),
            cancel: Arc::clone(&cancel),
            clock,
        };
        let handle = std::thread::Builder::new()
            .name("lacuna-prelabel".into())
            .spawn(move || {
                let result = job.execute(&mut catalog, &mut on_progress);
                let now = job.clock.now_unix_s();
                let recorded = match &result {
                    Ok(summary) => {
                        let status = match summary.status {
                            PrelabelStatus::Finished => JobStatus::Finished,
                            PrelabelStatus::FinishedWithProblems => JobStatus::FinishedWithProblems,
                            PrelabelStatus::Cancelled => JobStatus::Cancelled,
                        };
                        catalog.finish_model_run(run, status, None, now)
                    }
                    Err(err) => catalog.finish_model_run(run, JobStatus::Failed, Some(&err.message), now),
                };
                match (result, recorded) {
                    (Ok(summary), Ok(())) => Ok(summary),
                    (Err(err), _) => Err(err),
                    (Ok(_), Err(err)) => Err(err.into()),
                }
            })
            .map_err(|e| ApiError::internal(format!("could not start the pre-label thread: {e}")))?;
        Ok(PrelabelJob::new(run.0, cancel, handle))
    }
}

fn vision_error(err: lacuna_vision::VisionError) -> ApiError {
    let code = match &err {
        lacuna_vision::VisionError::Io { .. } => ErrorCode::ModelNotFound,
        lacuna_vision::VisionError::Device { .. } => ErrorCode::InvalidInput,
        _ if err.is_out_of_memory() => ErrorCode::OutOfMemory,
        _ => ErrorCode::ModelInvalid,
    };
    ApiError::new(code, err.to_string())
}

#[derive(Debug)]
struct PrelabelRun {
    run: RunId,
    resumed: bool,
    request: PrelabelRequest,
    filter: ImageFilter,
    detector: Detector,
    catalog_path: PathBuf,
    cancel: Arc<AtomicBool>,
    clock: Arc<dyn Clock>,
}

impl PrelabelRun {
    fn execute(
        &self,
        catalog: &mut Catalog,
        on_progress: &mut dyn FnMut(&PrelabelProgress),
    ) -> Result<PrelabelSummary, ApiError> {
        let started = Instant::now();
        let cpu_started = cpu_time::ProcessTime::try_now().ok();
        let finished = catalog.finished_run_images(self.run)?;
        let filter = ImageFilter { status: Some(ImageStatus::Ok), ..self.filter.clone() };
        let total = catalog.count_images(&filter)?;
        // Images of this selection an earlier attempt of the run finished (the run may also
        // have finished images outside today's filter).
        let mut already_done = 0u64;
        if !finished.is_empty() {
            let mut after = None;
            loop {
                let ids = catalog.list_image_ids(&filter, after, 10_000)?;
                let Some(&last) = ids.last() else { break };
                already_done += ids.iter().filter(|id| finished.contains(id)).count() as u64;
                after = Some(last);
            }
        }
        let images_total = total.saturating_sub(already_done);
        let size = self.detector.input_size_px();
        let threads = match self.request.decode_threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        let batch_size = self.request.batch_size as usize;
        let (path_tx, path_rx) = bounded::<(ImageId, PathBuf)>(batch_size * 4);
        let (prep_tx, prep_rx) = bounded::<Prepared>(batch_size * 2);

        let feeder = {
            let catalog_path = self.catalog_path.clone();
            let cancel = Arc::clone(&self.cancel);
            let now = self.clock.now_unix_s();
            std::thread::Builder::new()
                .name("lacuna-prelabel-feed".into())
                .spawn(move || feed(&catalog_path, now, &filter, &finished, &path_tx, &cancel))
                .map_err(|e| ApiError::internal(format!("could not start the feeder: {e}")))?
        };
        let decode_clock = Arc::new(DecodeClock::default());
        let mut decoders = Vec::with_capacity(threads);
        for i in 0..threads {
            let path_rx = path_rx.clone();
            let prep_tx = prep_tx.clone();
            let cancel = Arc::clone(&self.cancel);
            let clock = Arc::clone(&decode_clock);
            decoders.push(
                std::thread::Builder::new()
                    .name(format!("lacuna-decode-{i}"))
                    .spawn(move || decode_loop(&path_rx, &prep_tx, size, &cancel, &clock))
                    .map_err(|e| ApiError::internal(format!("could not start a decode thread: {e}")))?,
            );
        }
        drop(path_rx);
        drop(prep_tx);

        let options = PostprocessOptions {
            keep_threshold: self.request.keep_threshold,
            display_threshold: self.request.display_threshold,
            iou_threshold: self.request.iou_threshold,
            max_detections: self.request.max_detections as usize,
        };
        let mut counts = Counts::default();
        let mut last_progress = Instant::now() - Duration::from_secs(1);
        let mut failure: Option<ApiError> = None;
        let mut batch: Vec<(ImageId, Letterbox)> = Vec::with_capacity(batch_size);
        let mut pixels: Vec<f32> = Vec::with_capacity(batch_size * 3 * (size as usize).pow(2));
        let mut problems: Vec<RunProblem> = Vec::new();
        let mut disconnected = false;
        while !disconnected {
            let waiting = Instant::now();
            let received = prep_rx.recv_timeout(Duration::from_millis(200));
            counts.wait += waiting.elapsed();
            match received {
                Ok(Prepared { image, outcome: Ok((input, letterbox)) }) => {
                    pixels.extend_from_slice(&input);
                    batch.push((image, letterbox));
                }
                Ok(Prepared { image, outcome: Err(message) }) => problems.push(RunProblem { image, message }),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => disconnected = true,
            }
            let full = batch.len() >= batch_size;
            if failure.is_none()
                && (full || (disconnected && !batch.is_empty()) || problems.len() >= batch_size)
            {
                if let Err(err) = self.run_batch(catalog, &batch, &pixels, &options, &problems, &mut counts) {
                    self.cancel.store(true, Ordering::SeqCst);
                    failure = Some(err);
                }
                batch.clear();
                pixels.clear();
                problems.clear();
            }
            if last_progress.elapsed() >= Duration::from_millis(200) || disconnected {
                on_progress(&counts.progress(self.run, images_total, started));
                last_progress = Instant::now();
            }
        }
        if failure.is_none() && !problems.is_empty() {
            self.run_batch(catalog, &[], &[], &options, &problems, &mut counts)?;
        }
        feeder.join().map_err(|_| ApiError::internal("the feeder panicked"))??;
        for d in decoders {
            d.join().map_err(|_| ApiError::internal("a decode thread panicked"))?;
        }
        if let Some(err) = failure {
            return Err(err);
        }
        let elapsed = started.elapsed();
        let cpu = cpu_started.map(|t| t.elapsed());
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let stages = PrelabelStages {
            decode_threads: u32::try_from(threads).unwrap_or(u32::MAX),
            decode_ms: nanos_to_ms(decode_clock.decode_ns.load(Ordering::Relaxed)),
            letterbox_ms: nanos_to_ms(decode_clock.letterbox_ns.load(Ordering::Relaxed)),
            forward_ms: millis(counts.forward),
            postprocess_ms: millis(counts.postprocess),
            store_ms: millis(counts.store),
            wait_ms: millis(counts.wait),
            cpu_ms: cpu.map_or(0, millis),
            cores: u32::try_from(cores).unwrap_or(u32::MAX),
            cpu_utilisation: cpu.map(|c| c.as_secs_f64() / (elapsed.as_secs_f64().max(1e-9) * cores as f64)),
        };
        let status = if self.cancel.load(Ordering::SeqCst) {
            PrelabelStatus::Cancelled
        } else if counts.problems > 0 {
            PrelabelStatus::FinishedWithProblems
        } else {
            PrelabelStatus::Finished
        };
        Ok(PrelabelSummary {
            run: self.run.0,
            model: self.detector.card().name.clone(),
            weights_hash: self.detector.weights_hash().to_owned(),
            status,
            resumed: self.resumed,
            already_done,
            images_done: counts.images_done,
            problems: counts.problems,
            detections_shown: counts.detections_shown,
            elapsed_ms: millis(elapsed),
            rate_images_per_s: counts.images_done as f64 / elapsed.as_secs_f64().max(1e-9),
            stages,
        })
    }

    /// Runs the model on one batch and commits its results (and any problems) in one
    /// transaction.
    fn run_batch(
        &self,
        catalog: &mut Catalog,
        batch: &[(ImageId, Letterbox)],
        pixels: &[f32],
        options: &PostprocessOptions,
        problems: &[RunProblem],
        counts: &mut Counts,
    ) -> Result<(), ApiError> {
        let mut results = Vec::with_capacity(batch.len());
        if !batch.is_empty() {
            let letterboxes: Vec<Letterbox> = batch.iter().map(|(_, lb)| *lb).collect();
            let (found, timings) = self
                .detector
                .detect_timed(pixels, &letterboxes, options, self.request.flip_tta)
                .map_err(vision_error)?;
            counts.forward += timings.forward;
            counts.postprocess += timings.postprocess;
            let per_image_ms =
                (timings.forward + timings.postprocess).as_secs_f32() * 1000.0 / batch.len() as f32;
            for ((image, _), found) in batch.iter().zip(found) {
                counts.detections_shown +=
                    found.detections.iter().filter(|d| d.score >= options.display_threshold).count() as u64;
                let predictions = found
                    .detections
                    .iter()
                    .map(|d| record(d, false))
                    .chain(found.flipped.iter().map(|d| record(d, true)))
                    .collect();
                results.push(RunImageResult {
                    image: *image,
                    predictions,
                    embedding: Some(found.embedding),
                    inference_ms: per_image_ms,
                });
            }
        }
        let storing = Instant::now();
        catalog.store_run_results(self.run, &results, problems)?;
        counts.store += storing.elapsed();
        counts.images_done += results.len() as u64;
        counts.problems += problems.len() as u64;
        Ok(())
    }
}

fn record(d: &Detection, flipped: bool) -> PredictionRecord {
    PredictionRecord {
        class_id: d.class_id,
        score: d.score,
        bbox_xyxy_px: d.bbox_xyxy_px,
        class_probs: d.class_probs.clone(),
        flipped,
        mask_rle: d.mask.as_ref().map(|m| m.rle.to_coco_string()),
        mask_polygons: d.mask.as_ref().and_then(|m| {
            let flat: Vec<Vec<f32>> =
                m.polygons.iter().map(|p| p.iter().flatten().copied().collect()).collect();
            serde_json::to_string(&flat).ok()
        }),
    }
}

#[derive(Debug, Default)]
struct Counts {
    images_done: u64,
    problems: u64,
    detections_shown: u64,
    forward: Duration,
    postprocess: Duration,
    store: Duration,
    wait: Duration,
}

impl Counts {
    fn progress(&self, run: RunId, images_total: u64, started: Instant) -> PrelabelProgress {
        let elapsed = started.elapsed();
        let dealt = self.images_done + self.problems;
        let rate = dealt as f64 / elapsed.as_secs_f64().max(1e-9);
        PrelabelProgress {
            run: run.0,
            images_total,
            images_done: self.images_done,
            problems: self.problems,
            detections_shown: self.detections_shown,
            elapsed_ms: millis(elapsed),
            rate_images_per_s: rate,
            eta_s: (rate > 0.0).then(|| images_total.saturating_sub(dealt) as f64 / rate),
        }
    }
}

/// Pages the catalog (its own connection) and sends the images still to do.
fn feed(
    catalog_path: &Path,
    now_unix_s: i64,
    filter: &ImageFilter,
    finished: &std::collections::HashSet<ImageId>,
    tx: &Sender<(ImageId, PathBuf)>,
    cancel: &AtomicBool,
) -> Result<(), ApiError> {
    let catalog = Catalog::open(catalog_path, now_unix_s)?;
    let mut after = None;
    loop {
        let page = catalog.list_images(filter, after, 500)?;
        let Some(last) = page.last() else { return Ok(()) };
        after = Some(last.id);
        for row in page {
            if cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            if finished.contains(&row.id) {
                continue;
            }
            let path = PathBuf::from(&row.root_path).join(&row.rel_path);
            if tx.send((row.id, path)).is_err() {
                return Ok(());
            }
        }
    }
}

fn decode_loop(
    rx: &Receiver<(ImageId, PathBuf)>,
    tx: &Sender<Prepared>,
    size: u32,
    cancel: &AtomicBool,
    clock: &DecodeClock,
) {
    let plane = 3 * (size as usize).pow(2);
    let add = |counter: &std::sync::atomic::AtomicU64, since: Instant| {
        counter.fetch_add(u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    };
    for (image, path) in rx {
        if cancel.load(Ordering::Relaxed) {
            continue;
        }
        let display = path.to_string_lossy().into_owned();
        let decoding = Instant::now();
        let decoded = lacuna_ingest::decode_for_model(&path, &display, size, u64::MAX);
        add(&clock.decode_ns, decoding);
        let letterboxing = Instant::now();
        let outcome = decoded
            .map(|pixels| {
                let mut input = vec![0f32; plane];
                let lb = lacuna_vision::letterbox_into(
                    &pixels.rgb,
                    pixels.width_px,
                    pixels.height_px,
                    size,
                    &mut input,
                );
                // Boxes are reported in the image's own pixels, not the reduced decode's.
                (input, lb.with_image_size(pixels.full_width_px, pixels.full_height_px))
            })
            .map_err(|p| p.message);
        add(&clock.letterbox_ns, letterboxing);
        if tx.send(Prepared { image, outcome }).is_err() {
            return;
        }
    }
}

/// One stored box, as `lacuna predictions --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionDto {
    /// Path relative to its imported folder.
    pub path: String,
    pub image_id: i64,
    /// Class name (from the model's card).
    pub class: String,
    pub class_id: u32,
    pub score: f32,
    /// Corners in the image's own pixels, EXIF orientation applied.
    pub bbox_xyxy: [f32; 4],
    /// From the horizontally flipped pass (only with `include_flipped`).
    pub flipped: bool,
}

/// A pre-labeling run as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunDto {
    pub id: i64,
    pub model: String,
    pub weights_hash: String,
    pub status: String,
    pub device: String,
    pub precision: String,
    pub batch_size: u32,
    pub keep_threshold: f32,
    pub display_threshold: f32,
    pub iou_threshold: f32,
    pub flip_tta: bool,
    pub images_done: u64,
    pub problems: u64,
    pub error: Option<String>,
    pub started_at_unix_s: i64,
    pub finished_at_unix_s: Option<i64>,
}

impl Project {
    /// Pre-labeling runs, newest first.
    pub fn model_runs(&self) -> Result<Vec<RunDto>, ApiError> {
        Ok(self
            .catalog()?
            .model_runs()?
            .into_iter()
            .map(|r| RunDto {
                id: r.id.0,
                model: r.model_name,
                weights_hash: r.weights_hash,
                status: r.status.as_str().to_owned(),
                device: r.params.device,
                precision: r.params.precision,
                batch_size: r.params.batch_size,
                keep_threshold: r.params.keep_threshold,
                display_threshold: r.params.display_threshold,
                iou_threshold: r.params.iou_threshold,
                flip_tta: r.params.flip_tta,
                images_done: r.images_done,
                problems: r.problems,
                error: r.error,
                started_at_unix_s: r.started_at_unix_s,
                finished_at_unix_s: r.finished_at_unix_s,
            })
            .collect())
    }

    /// Stored boxes of `run` (the newest run when `None`) with score ≥ `min_score` (the run's
    /// display threshold when `None`), by image then score.
    pub fn predictions(
        &self,
        run: Option<i64>,
        min_score: Option<f32>,
        include_flipped: bool,
    ) -> Result<Vec<PredictionDto>, ApiError> {
        let catalog = self.catalog()?;
        let runs = catalog.model_runs()?;
        let chosen = match run {
            Some(id) => runs.iter().find(|r| r.id.0 == id),
            None => runs.first(),
        }
        .ok_or_else(|| match run {
            Some(id) => ApiError::new(ErrorCode::NotFound, format!("run: no pre-labeling run {id}")),
            None => {
                ApiError::new(ErrorCode::NotFound, "no pre-labeling run yet; run `lacuna prelabel` first")
            }
        })?;
        let min_score = min_score.unwrap_or(chosen.params.display_threshold);
        Ok(catalog
            .predictions(chosen.id, min_score, include_flipped)?
            .into_iter()
            .map(|p| PredictionDto {
                path: p.rel_path,
                image_id: p.image.0,
                class: p.class_name.unwrap_or_else(|| format!("class {}", p.class_id)),
                class_id: p.class_id,
                score: p.score,
                bbox_xyxy: p.bbox_xyxy_px,
                flipped: p.flipped,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_shares_are_percentages_of_the_job_and_of_the_decode_threads() {
        let stages =
            PrelabelStages { decode_threads: 2, decode_ms: 300, letterbox_ms: 100, ..Default::default() };
        assert_eq!(PrelabelStages::percent_of(250, 1000), 25.0);
        // A zero-length job divides by 1 ms, not by zero.
        assert_eq!(PrelabelStages::percent_of(0, 0), 0.0);
        // Two threads over 1 s: 2 s of capacity.
        let busy = stages.decode_busy_percent(1000);
        assert_eq!(busy, DecodeBusy { total: 20.0, decode: 15.0, letterbox: 5.0 });
    }
}
