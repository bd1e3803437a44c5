//! `prelabel`: the whole pre-label job (`Project::start_prelabel`, what `lacuna prelabel`
//! runs) over a folder of generated 1920x1080 JPEGs, against the bare model forward at the
//! same batch size in the same process (the ceiling the pipeline can reach): images/s of both,
//! their ratio, where the job's time went and how busy the cores were.
//!
//! Every repeat imports the folder into a fresh project in a temporary folder, so each run
//! pre-labels every image (a rerun of the same run would resume and do nothing).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use lacuna_api::{ImportRequest, PrelabelRequest, PrelabelStages, PrelabelSummary, Project, SystemClock};
use serde::Serialize;

use crate::{synth, vision_bench};

#[derive(Debug, Serialize)]
struct Report {
    images: usize,
    batch: usize,
    threads: String,
    /// Median over the repeats.
    prelabel_images_per_s: f64,
    /// The bare forward on random input at the same batch size.
    forward_images_per_s: f64,
    /// prelabel / forward (1.0: the pipeline costs nothing beyond the model).
    ratio: f64,
    /// The stages of the median repeat.
    stages: PrelabelStages,
    elapsed_ms: u64,
}

pub fn run(
    dir: Option<PathBuf>,
    images: usize,
    model: &Path,
    batch: usize,
    repeats: usize,
    json: bool,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(format!("bench-data/prelabel-1080p-{images}")));
    let written = synth::write_jpegs(&dir, images, 1920, 1080, 11)?;
    if written > 0 {
        eprintln!("generated {written} JPEGs into {}", dir.display());
    }
    let model = model.canonicalize().with_context(|| format!("model {}", model.display()))?;
    // The bare-forward baseline: this process's own copy of the model (the job loads its own).
    let detector =
        lacuna_vision::Detector::load(&model, &lacuna_vision::Device::Cpu, lacuna_vision::Precision::F32)?;
    let size = detector.input_size_px() as usize;

    let mut runs: Vec<PrelabelSummary> = Vec::with_capacity(repeats);
    for r in 0..repeats {
        let tmp = tempfile::tempdir()?;
        let project = Project::create(&tmp.path().join("bench.lacuna"), Arc::new(SystemClock))?;
        let request = ImportRequest { paths: vec![dir.clone()], ..ImportRequest::default() };
        project.start_import(request, |_| {})?.wait()?;
        let request = PrelabelRequest {
            model: Some(model.clone()),
            batch_size: u32::try_from(batch)?,
            ..PrelabelRequest::default()
        };
        let summary = project.start_prelabel(request, |_| {})?.wait()?;
        anyhow::ensure!(
            summary.images_done as usize == images && summary.problems == 0,
            "repeat {r}: {} images done, {} problems (expected {images}, 0)",
            summary.images_done,
            summary.problems
        );
        eprintln!("repeat {r}: {:.2} images/s", summary.rate_images_per_s);
        runs.push(summary);
    }
    runs.sort_by(|a, b| a.rate_images_per_s.total_cmp(&b.rate_images_per_s));
    let middle = runs.swap_remove(runs.len() / 2);
    let forward = vision_bench::time_forward(&detector, size, batch, repeats.max(3))?;
    let prelabel = middle.rate_images_per_s;
    let report = Report {
        images,
        batch,
        threads: std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into()),
        prelabel_images_per_s: prelabel,
        forward_images_per_s: forward.images_per_s,
        ratio: prelabel / forward.images_per_s,
        stages: middle.stages.clone(),
        elapsed_ms: middle.elapsed_ms,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let s = &report.stages;
    let job = |ms: u64| PrelabelStages::percent_of(ms, report.elapsed_ms);
    println!(
        "pre-label {} generated 1920x1080 JPEGs, {}, batch {batch}, median of {repeats}",
        images,
        model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    );
    println!(
        "  prelabel {:.2} images/s · bare forward {:.2} images/s · ratio {:.2}",
        report.prelabel_images_per_s, report.forward_images_per_s, report.ratio
    );
    println!(
        "  model thread: forward {:.1}% · output {:.1}% · store {:.1}% · waiting for images {:.1}% · other {:.1}%",
        job(s.forward_ms),
        job(s.postprocess_ms),
        job(s.store_ms),
        job(s.wait_ms),
        (100.0 - job(s.forward_ms + s.postprocess_ms + s.store_ms + s.wait_ms)).max(0.0)
    );
    let busy = s.decode_busy_percent(report.elapsed_ms);
    println!(
        "  {} decode threads busy {:.1}% of their time (decode {:.1}%, letterbox {:.1}%)",
        s.decode_threads, busy.total, busy.decode, busy.letterbox
    );
    match s.cpu_utilisation {
        Some(u) => println!(
            "  CPU: {:.1}% of {} cores ({:.1} s CPU in {:.1} s)",
            100.0 * u,
            s.cores,
            s.cpu_ms as f64 / 1000.0,
            report.elapsed_ms as f64 / 1000.0
        ),
        None => println!("  CPU: not reported by this system"),
    }
    Ok(())
}
