//! `lacuna-bench`: measures Lacuna against baselines measured in the same run.
//!
//! - `import`: on a folder of generated 1920x1080 JPEGs, the full import rate (hash, EXIF,
//!   statistics, thumbnail, catalog) against a bare 1/8 DCT-scaled decode of the same files on
//!   all cores; plus full-size decode and hashing for scale, and an unchanged re-import.
//! - `catalog`: a generated catalog of 1,000,000 images: open, a filtered page of 200 rows per
//!   filter, counts by camera.
//! - `export`: a generated project of 100,000 images and 1,000,000 boxes: a bare read of every
//!   annotation row (the baseline), freezing two versions (1% of images changed in between),
//!   their diff, and COCO and YOLO exports with `--images none` (generated images have no
//!   files); each step runs in its own child process (hidden `export-step`) so its peak RSS
//!   is its own. One measurement per step (each takes seconds), not a median.
//! - `queue`: the ranking functions on generated in-memory data (1,000,000 images).
//! - `queue-catalog`: the queue and coverage through the API on a generated 1,000,000-image
//!   catalog (first ranking, full recomputation, coverage, incremental update, proof at scale).
//! - `prelabel`: the whole pre-label job over generated 1920x1080 JPEGs against the bare model
//!   forward at the same batch size (same process); time per stage and CPU utilisation.
//! - `ui-project`: the 100,000-image project the UI benchmark measures (scripts/bench-ui.sh).
//! - `gen-jpegs`: just write the generated folder.
//!
//! Figures are medians of several repeats (single runs for `export`) and are printed as a table
//! and as JSON (`--json`).

mod catalog_bench;
mod export_bench;
mod import_bench;
mod prelabel_bench;
mod queue_bench;
mod queue_catalog_bench;
mod synth;
mod ui_project;
mod vision_bench;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "lacuna-bench", about = "Lacuna benchmarks against same-run baselines")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Write generated photo-like JPEGs.
    GenJpegs {
        out: PathBuf,
        #[arg(long, default_value_t = 2000)]
        count: usize,
        #[arg(long, default_value_t = 1920)]
        width: u32,
        #[arg(long, default_value_t = 1080)]
        height: u32,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Make the project the UI benchmark runs on (real JPEGs imported through the API).
    UiProject {
        #[arg(long, default_value = "bench-data/ui-100k")]
        out: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        images: usize,
        /// Images of 1920x1080 (pre-labeled, at the head of the queues); the rest are 320x180.
        #[arg(long, default_value_t = 1_000)]
        large: usize,
        /// Human boxes on the first image (the drag measurement).
        #[arg(long, default_value_t = 1_000)]
        boxes: usize,
    },
    /// Import rate vs bare reduced-size decode, hashing, unchanged re-import.
    Import {
        /// Folder of JPEGs to use; generated into bench-data/jpegs-1080p when omitted.
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 2000)]
        count: usize,
        /// Repeats per measurement (the median is reported).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// candle vs onnxruntime on CPU for the same weights, sizes, batches and thread counts.
    Vision {
        /// ONNX exports to compare (default: the default YOLOv12n).
        #[arg(long = "model")]
        models: Vec<PathBuf>,
        /// candle precisions to time (f32, bf16, f16); onnxruntime runs the f32 file.
        #[arg(long, value_delimiter = ',', default_value = "f32")]
        precisions: Vec<String>,
        #[arg(long, value_delimiter = ',', default_value = "640")]
        sizes: Vec<usize>,
        #[arg(long, value_delimiter = ',', default_value = "1,8")]
        batches: Vec<usize>,
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        threads: Vec<usize>,
        #[arg(long, default_value_t = 7)]
        repeats: usize,
        /// Rounds per case, candle and onnxruntime alternating (each a fresh child process):
        /// the figures are medians over rounds, so a slow minute of a shared machine weighs
        /// on both runtimes instead of one.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Python with onnxruntime (scripts/setup-python.sh makes .venv).
        #[arg(long, default_value = ".venv/bin/python")]
        python: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The pre-label job end to end vs the bare forward; time per stage, CPU utilisation.
    Prelabel {
        /// Folder of JPEGs (generated when missing); default bench-data/prelabel-1080p-<images>.
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 96)]
        images: usize,
        #[arg(long, default_value = "models/yolov12n.onnx")]
        model: PathBuf,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// (internal) one candle timing in this process; prints JSON.
    #[command(hide = true)]
    VisionCandle {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        size: usize,
        #[arg(long)]
        batch: usize,
        #[arg(long, default_value_t = 7)]
        repeats: usize,
        #[arg(long, default_value = "f32")]
        precision: String,
    },
    /// Where candle's time goes in one model, by module kind (and by yaml row with --rows).
    VisionProfile {
        #[arg(long, default_value = "models/yolov12n.onnx")]
        model: PathBuf,
        #[arg(long, default_value_t = 640)]
        size: usize,
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Also print each yaml row's median time.
        #[arg(long)]
        rows: bool,
    },
    /// Open / page / count timings on a generated catalog.
    Catalog {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// The ranking functions at scale: coverage, full queue recomputation, incremental update.
    Queue {
        #[arg(long, default_value_t = 1_000_000)]
        images: usize,
        #[arg(long, default_value_t = 100_000)]
        labeled: usize,
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        #[arg(long)]
        json: bool,
    },
    /// The queue and coverage end to end through the API on a generated 1M-image catalog:
    /// first ranking, full recomputation, coverage, incremental update, the proof at scale.
    QueueCatalog {
        /// Where the generated catalog is kept between runs.
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 1_000_000)]
        images: u64,
        #[arg(long, default_value_t = 100_000)]
        labeled: u64,
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        #[arg(long, default_value_t = 9)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// Freeze, diff and COCO / YOLO export timings and peak memory on a generated project.
    Export {
        #[arg(long, default_value_t = 100_000)]
        images: u64,
        /// Mean boxes per image (uniform 0..=2x; the total is exactly images x this).
        #[arg(long, default_value_t = 10)]
        boxes_per_image: u32,
        /// Project folder to create (must not hold a project); a temporary one when omitted.
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// (internal) one `export` step in this process; prints one JSON line.
    #[command(hide = true)]
    ExportStep {
        #[arg(long)]
        project: PathBuf,
        /// scan | freeze | diff | coco | yolo
        #[arg(long)]
        step: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::GenJpegs { out, count, width, height, seed } => {
            let written = synth::write_jpegs(&out, count, width, height, seed)?;
            eprintln!("wrote {written} new JPEGs into {}", out.display());
            Ok(())
        }
        Cmd::UiProject { out, images, large, boxes } => {
            ui_project::run(&out, &ui_project::Spec { images, large, boxes })
        }
        Cmd::Import { dir, count, repeats, json } => {
            let dir = match dir {
                Some(d) => d,
                None => {
                    let d = PathBuf::from("bench-data/jpegs-1080p");
                    let written = synth::write_jpegs(&d, count, 1920, 1080, 7)?;
                    if written > 0 {
                        eprintln!("generated {written} JPEGs into {}", d.display());
                    }
                    d
                }
            };
            import_bench::run(&dir, repeats.max(1), json)
        }
        Cmd::Vision { models, precisions, sizes, batches, threads, repeats, rounds, python, json } => {
            let models = if models.is_empty() { vec![PathBuf::from("models/yolov12n.onnx")] } else { models };
            let runs = vision_bench::Runs { repeats: repeats.max(1), rounds: rounds.max(1) };
            vision_bench::run(&models, &precisions, &sizes, &batches, &threads, runs, &python, json)
        }
        Cmd::Prelabel { dir, images, model, batch, repeats, json } => {
            prelabel_bench::run(dir, images, &model, batch.max(1), repeats.max(1), json)
        }
        Cmd::VisionCandle { model, size, batch, repeats, precision } => {
            let timing = vision_bench::candle_once(&model, size, batch, repeats.max(1), &precision)?;
            println!("{}", serde_json::to_string(&timing)?);
            Ok(())
        }
        Cmd::VisionProfile { model, size, batch, repeats, rows } => {
            vision_bench::profile(&model, size, batch, repeats, rows)
        }
        Cmd::Catalog { rows, repeats, json } => catalog_bench::run(rows, repeats.max(1), json),
        Cmd::Queue { images, labeled, batch, json } => queue_bench::run(images, labeled, batch, json),
        Cmd::QueueCatalog { dir, images, labeled, batch, repeats, json } => {
            queue_catalog_bench::run(dir, images, labeled, batch, repeats.max(1), json)
        }
        Cmd::Export { images, boxes_per_image, dir, json } => {
            export_bench::run(images, boxes_per_image, dir, json)
        }
        Cmd::ExportStep { project, step, name, from, to, version, out } => {
            let output = export_bench::step(&project, &step, name, from, to, version, out)?;
            println!("{}", serde_json::to_string(&output)?);
            Ok(())
        }
    }
}

/// Median of measurements (seconds).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
