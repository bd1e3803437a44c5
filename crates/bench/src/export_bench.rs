//! Versions and export on a generated catalog (issue 5's targets): 100,000 images and
//! 1,000,000 boxes; COCO and YOLO export each under 10 s with peak memory under 1 GB; freeze
//! a version under 5 s; diff two versions under 5 s.
//!
//! The parent builds the project, then runs every measured step in a child process (this
//! binary again, hidden subcommand `export-step`) so that each step's peak RSS (`VmHWM`) is
//! its own. The baseline, timed in the same run, is a bare `SELECT` of every annotation row.
//!
//! Exports use `--images none` (labels and manifest only): generated images have no files to
//! copy or link.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context as _, bail};
use lacuna_api::{ExportVersionRequest, Format, FreezeRequest, ImageMode, Project, SystemClock};
use lacuna_catalog::Catalog;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Classes of the generated boxes (COCO's first 20), drawn with Zipf frequencies.
const CLASSES: [&str; 20] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
];
const SEED: u64 = 42;
const NOW_UNIX_S: i64 = 1_700_000_000;
/// Share of images whose boxes change between the two frozen versions.
const PERTURB_FRACTION: f64 = 0.01;
/// Detail entries a diff lists (the CLI's default).
const DIFF_MAX_DETAILS: usize = 1000;
const MIB: f64 = 1024.0 * 1024.0;
/// Issue 5's memory budget for an export: 1 GB, taken as 1024 MiB.
const EXPORT_RSS_TARGET_MIB: f64 = 1024.0;

/// What one `export-step` child prints (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepOutput {
    pub step: String,
    /// Time of the measured call only (not process start or opening the project).
    pub seconds: f64,
    /// Peak resident set of the child process (`VmHWM`), MiB. It includes the pages of the
    /// catalog that SQLite memory-maps (up to 256 MiB) and its page cache (up to 64 MiB).
    pub peak_rss_mib: Option<f64>,
    /// Resident anonymous / file-backed memory at the end of the step, MiB.
    pub rss_anon_mib: Option<f64>,
    pub rss_file_mib: Option<f64>,
    /// What the step produced (counts), as the API returned them.
    pub detail: serde_json::Value,
}

/// One row of the report.
#[derive(Debug, Serialize)]
struct Row {
    step: String,
    what: String,
    seconds: f64,
    /// `seconds` / the baseline's seconds.
    ratio_to_baseline: f64,
    target_s: Option<f64>,
    /// `seconds` / `target_s`.
    budget_fraction: Option<f64>,
    peak_rss_mib: Option<f64>,
    target_rss_mib: Option<f64>,
    met: Option<bool>,
    detail: serde_json::Value,
}

#[derive(Debug, Serialize)]
struct Folder {
    what: String,
    path: PathBuf,
    files: u64,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    images: u64,
    boxes: u64,
    classes: usize,
    cores: usize,
    /// How exports place images: always `none` here.
    image_mode: &'static str,
    generate_seconds: f64,
    perturb_fraction: f64,
    perturb_seconds: f64,
    perturbed_annotations: u64,
    catalog_bytes_generated: u64,
    catalog_bytes_end: u64,
    steps: Vec<Row>,
    folders: Vec<Folder>,
}

pub fn run(images: u64, boxes_per_image: u32, dir: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().join("export-bench.lacuna"));
    let clock = Arc::new(SystemClock);
    let catalog_path = dir.join(lacuna_api::CATALOG_FILE);

    let started = Instant::now();
    drop(Project::create(&dir, clock.clone())?);
    let boxes = {
        let mut catalog = Catalog::open(&catalog_path, NOW_UNIX_S)?;
        let root = catalog.upsert_root("/bench/images", NOW_UNIX_S)?;
        catalog.insert_synthetic_images(root, images, SEED, NOW_UNIX_S)?;
        catalog.mark_synthetic_images_present()?;
        catalog.insert_synthetic_annotations(&CLASSES, boxes_per_image, SEED, NOW_UNIX_S)?
    };
    let generate_seconds = started.elapsed().as_secs_f64();
    eprintln!("generated {images} images and {boxes} boxes in {generate_seconds:.1} s");
    let catalog_bytes_generated = catalog_bytes(&catalog_path);

    let exe = std::env::current_exe().context("path of this benchmark binary")?;
    let step = |args: &[&str]| -> anyhow::Result<StepOutput> {
        let mut cmd = Command::new(&exe);
        cmd.arg("export-step").arg("--project").arg(&dir).args(args);
        let out = cmd.stderr(Stdio::inherit()).output().with_context(|| format!("running {cmd:?}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("step {args:?} failed ({}): {stdout}", out.status);
        }
        let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
        let parsed: StepOutput =
            serde_json::from_str(line).with_context(|| format!("step {args:?} printed {stdout:?}"))?;
        eprintln!(
            "  {:<8} {:>8.3} s  peak RSS {:>7.1} MiB",
            parsed.step,
            parsed.seconds,
            parsed.peak_rss_mib.unwrap_or(f64::NAN)
        );
        Ok(parsed)
    };

    let coco_dir = dir.join("exports").join("coco-v2");
    let yolo_dir = dir.join("exports").join("yolo-v2");
    let scan = step(&["--step", "scan"])?;
    let freeze1 = step(&["--step", "freeze", "--name", "v1"])?;
    let t = Instant::now();
    let perturbed_annotations = {
        let mut catalog = Catalog::open(&catalog_path, NOW_UNIX_S)?;
        catalog.perturb_synthetic_annotations(PERTURB_FRACTION, SEED + 1)?
    };
    let perturb_seconds = t.elapsed().as_secs_f64();
    let freeze2 = step(&["--step", "freeze", "--name", "v2"])?;
    let diff = step(&["--step", "diff", "--from", "v1", "--to", "v2"])?;
    let coco = step(&["--step", "coco", "--version", "v2", "--out", &coco_dir.to_string_lossy()])?;
    let yolo = step(&["--step", "yolo", "--version", "v2", "--out", &yolo_dir.to_string_lossy()])?;

    let baseline = scan.seconds;
    let row = |out: StepOutput, what: String, target_s: Option<f64>, target_rss_mib: Option<f64>| {
        let time_met = target_s.map(|t| out.seconds < t);
        let rss_met = target_rss_mib.map(|t| out.peak_rss_mib.is_some_and(|r| r < t));
        let met = match (time_met, rss_met) {
            (Some(a), Some(b)) => Some(a && b),
            (a, b) => a.or(b),
        };
        Row {
            step: out.step,
            what,
            seconds: out.seconds,
            ratio_to_baseline: out.seconds / baseline,
            target_s,
            budget_fraction: target_s.map(|t| out.seconds / t),
            peak_rss_mib: out.peak_rss_mib,
            target_rss_mib,
            met,
            detail: out.detail,
        }
    };
    let counts = |d: &serde_json::Value| {
        format!(
            "{} images, {} boxes",
            d["images"].as_u64().unwrap_or(0),
            d["annotations"].as_u64().unwrap_or(0)
        )
    };
    let scan_what = format!("baseline: read every annotation row ({} rows)", scan.detail["rows"]);
    let freeze1_what = format!("freeze v1 ({})", counts(&freeze1.detail));
    let freeze2_what = format!("freeze v2 ({})", counts(&freeze2.detail));
    let diff_what = format!("diff v1 -> v2 ({} images differ)", diff.detail["images_changed"]);
    let coco_what = format!("export v2 COCO, images none ({})", counts(&coco.detail));
    let yolo_what = format!("export v2 YOLO, images none ({})", counts(&yolo.detail));
    let steps = vec![
        row(scan, scan_what, None, None),
        row(freeze1, freeze1_what, Some(5.0), None),
        row(freeze2, freeze2_what, Some(5.0), None),
        row(diff, diff_what, Some(5.0), None),
        row(coco, coco_what, Some(10.0), Some(EXPORT_RSS_TARGET_MIB)),
        row(yolo, yolo_what, Some(10.0), Some(EXPORT_RSS_TARGET_MIB)),
    ];
    let mut folders = Vec::new();
    for (what, path) in [("COCO export", &coco_dir), ("YOLO export", &yolo_dir)] {
        let (files, bytes) = folder_size(path)?;
        folders.push(Folder { what: what.to_owned(), path: path.clone(), files, bytes });
    }
    let report = Report {
        images,
        boxes,
        classes: CLASSES.len(),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        image_mode: ImageMode::None.as_str(),
        generate_seconds,
        perturb_fraction: PERTURB_FRACTION,
        perturb_seconds,
        perturbed_annotations,
        catalog_bytes_generated,
        catalog_bytes_end: catalog_bytes(&catalog_path),
        steps,
        folders,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(r: &Report) {
    println!(
        "export benchmark: {} images, {} boxes, {} classes, {} cores; exports with images `{}` (generated \
         images have no files: labels + manifest only)",
        r.images, r.boxes, r.classes, r.cores, r.image_mode
    );
    println!(
        "  generated in {:.1} s; {:.0}% of images perturbed ({} boxes) in {:.2} s between v1 and v2",
        r.generate_seconds,
        r.perturb_fraction * 100.0,
        r.perturbed_annotations,
        r.perturb_seconds
    );
    let h = ["step", "seconds", "x baseline", "target", "budget", "peak RSS", "target", "met"];
    println!(
        "  {:<62} {:>8} {:>10} {:>8} {:>8} {:>11} {:>8}  {}",
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    );
    let opt = |v: Option<f64>, unit: &str, digits: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}{unit}"))
    };
    for s in &r.steps {
        println!(
            "  {:<62} {:>8.3} {:>10.2} {:>8} {:>8} {:>11} {:>8}  {}",
            s.what,
            s.seconds,
            s.ratio_to_baseline,
            opt(s.target_s, " s", 0),
            opt(s.budget_fraction.map(|f| f * 100.0), "%", 0),
            opt(s.peak_rss_mib, " MiB", 0),
            opt(s.target_rss_mib, " MiB", 0),
            match s.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
    }
    println!(
        "  catalog.sqlite: {:.1} MiB generated, {:.1} MiB with both versions",
        r.catalog_bytes_generated as f64 / MIB,
        r.catalog_bytes_end as f64 / MIB
    );
    for f in &r.folders {
        println!("  {}: {} files, {:.1} MiB", f.what, f.files, f.bytes as f64 / MIB);
    }
}

/// The catalog file and its WAL, bytes.
fn catalog_bytes(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path, Path::new(&wal)].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}

/// Files under `dir` and their total size.
fn folder_size(dir: &Path) -> anyhow::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| d.display().to_string())? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    Ok((files, bytes))
}

/// `VmHWM`, `RssAnon`, `RssFile` of this process, MiB (Linux; `None` elsewhere).
fn memory_mib() -> [Option<f64>; 3] {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            let kib: f64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kib / 1024.0)
        })
    };
    [field("VmHWM"), field("RssAnon"), field("RssFile")]
}

/// The `export-step` child: one measured step on the project in `project`.
pub fn step(
    project_dir: &Path,
    step: &str,
    name: Option<String>,
    from: Option<String>,
    to: Option<String>,
    version: Option<String>,
    out: Option<PathBuf>,
) -> anyhow::Result<StepOutput> {
    let clock = Arc::new(SystemClock);
    let (seconds, detail) = match step {
        "scan" => {
            let catalog = Catalog::open(&project_dir.join(lacuna_api::CATALOG_FILE), NOW_UNIX_S)?;
            let t = Instant::now();
            let (rows, bytes) = catalog.scan_annotation_rows()?;
            (t.elapsed().as_secs_f64(), json!({ "rows": rows, "text_bytes": bytes }))
        }
        "freeze" => {
            let project = Project::open(project_dir, clock)?;
            let req = FreezeRequest { name, author: "bench".into(), ..FreezeRequest::default() };
            let t = Instant::now();
            let result = project.freeze_version(&req)?;
            let seconds = t.elapsed().as_secs_f64();
            if !result.created {
                bail!("freeze made no new version: the labels did not change");
            }
            let v = &result.version;
            (seconds, json!({ "version": v.name, "images": v.images, "annotations": v.annotations }))
        }
        "diff" => {
            let project = Project::open(project_dir, clock)?;
            let (from, to) = (from.context("--from")?, to.context("--to")?);
            let t = Instant::now();
            let diff = project.diff_versions(&from, &to, DIFF_MAX_DETAILS)?;
            (t.elapsed().as_secs_f64(), serde_json::to_value(&diff.diff.counts)?)
        }
        "coco" | "yolo" => {
            let project = Project::open(project_dir, clock)?;
            let req = ExportVersionRequest {
                version: version.context("--version")?,
                format: if step == "coco" { Format::Coco } else { Format::Yolo },
                out_dir: out.context("--out")?,
                images: ImageMode::None,
                overwrite: false,
            };
            let cancel = AtomicBool::new(false);
            let t = Instant::now();
            let summary = project.export_version(&req, &mut |_, _| {}, &cancel)?;
            let seconds = t.elapsed().as_secs_f64();
            (
                seconds,
                json!({
                    "images": summary.images,
                    "annotations": summary.annotations,
                    "files": summary.files,
                    "bytes": summary.bytes,
                    "skipped": summary.skipped,
                }),
            )
        }
        other => bail!("unknown step `{other}` (scan, freeze, diff, coco, yolo)"),
    };
    let [peak_rss_mib, rss_anon_mib, rss_file_mib] = memory_mib();
    Ok(StepOutput { step: step.to_owned(), seconds, peak_rss_mib, rss_anon_mib, rss_file_mib, detail })
}
