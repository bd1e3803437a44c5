//! candle vs onnxruntime on CPU, same weights, same input size, same thread count, one run
//! (optionally several alternating rounds per case).
//!
//! Each thread count runs in a child process (`RAYON_NUM_THREADS` for candle, whose CPU
//! kernels use rayon; `intra_op_num_threads` for onnxruntime), so the thread pools never mix.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use lacuna_vision::{Detector, Precision};
use serde::{Deserialize, Serialize};

use crate::median;

/// One measured case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    pub median_ms: f64,
    pub images_per_s: f64,
}

#[derive(Debug, Serialize)]
struct Case {
    model: String,
    /// candle's precision (onnxruntime always runs the f32 file).
    precision: String,
    size_px: usize,
    batch: usize,
    threads: usize,
    candle: Timing,
    onnxruntime: Option<Timing>,
    /// candle latency / onnxruntime latency (lower is better; 1.0 = as fast).
    ratio: Option<f64>,
    note: Option<String>,
}

/// Times candle in this process (the parent sets RAYON_NUM_THREADS).
pub fn candle_once(
    model: &Path,
    size: usize,
    batch: usize,
    repeats: usize,
    precision: &str,
) -> anyhow::Result<Timing> {
    let precision = Precision::parse(precision).context("precision: f32, f16 or bf16")?;
    let detector = Detector::load(model, &candle_core_cpu(), precision)?;
    time_forward(&detector, size, batch, repeats)
}

/// Median forward time of a loaded detector over random input (after one warm-up run).
pub fn time_forward(
    detector: &Detector,
    size: usize,
    batch: usize,
    repeats: usize,
) -> anyhow::Result<Timing> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let pixels: Vec<f32> = (0..batch * 3 * size * size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    // One warm-up run (allocations, caches), then the timed repeats.
    detector.forward_only(&pixels, batch, size)?;
    let mut samples = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t = Instant::now();
        detector.forward_only(&pixels, batch, size)?;
        samples.push(t.elapsed().as_secs_f64());
    }
    let m = median(samples);
    Ok(Timing { median_ms: m * 1000.0, images_per_s: batch as f64 / m })
}

fn candle_core_cpu() -> lacuna_vision::Device {
    lacuna_vision::Device::Cpu
}

fn candle_child(
    model: &Path,
    size: usize,
    batch: usize,
    threads: usize,
    repeats: usize,
    precision: &str,
) -> anyhow::Result<Timing> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(["vision-candle", "--model"])
        .arg(model)
        .args(["--size", &size.to_string(), "--batch", &batch.to_string(), "--repeats", &repeats.to_string()])
        .args(["--precision", precision])
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .context("running the candle child")?;
    anyhow::ensure!(out.status.success(), "candle child failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn ort_child(
    python: &Path,
    model: &Path,
    size: usize,
    batch: usize,
    threads: usize,
    repeats: usize,
) -> anyhow::Result<(Option<Timing>, Option<String>)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ort_bench.py");
    let out = Command::new(python)
        .arg(script)
        .arg("--model")
        .arg(model)
        .args(["--size", &size.to_string(), "--batch", &batch.to_string(), "--threads", &threads.to_string()])
        .args(["--repeats", &repeats.to_string()])
        .output()
        .context("running the onnxruntime script (bash scripts/setup-python.sh makes .venv)")?;
    anyhow::ensure!(out.status.success(), "onnxruntime failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
        return Ok((None, Some(err.to_owned())));
    }
    let note = v["sequential_batch"].as_bool().unwrap_or(false).then(|| {
        "the ONNX file has a fixed batch of 1: onnxruntime ran the batch as sequential calls".to_owned()
    });
    Ok((
        Some(Timing {
            median_ms: v["median_ms"].as_f64().unwrap_or(f64::NAN),
            images_per_s: v["images_per_s"].as_f64().unwrap_or(f64::NAN),
        }),
        note,
    ))
}

/// How many times each case is timed: `repeats` forwards per child process (after one
/// warm-up), `rounds` child processes per runtime, candle and onnxruntime alternating.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    pub repeats: usize,
    pub rounds: usize,
}

/// The median over rounds of each round's median.
fn over_rounds(rounds: &[Timing], batch: usize) -> Timing {
    let median_ms = median(rounds.iter().map(|t| t.median_ms).collect());
    Timing { median_ms, images_per_s: batch as f64 * 1000.0 / median_ms }
}

#[allow(clippy::too_many_arguments)] // the command line's lists, spelled out
pub fn run(
    models: &[PathBuf],
    precisions: &[String],
    sizes: &[usize],
    batches: &[usize],
    threads: &[usize],
    runs: Runs,
    python: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let Runs { repeats, rounds } = runs;
    let mut cases = Vec::new();
    for model in models {
        for &size in sizes {
            for &batch in batches {
                for &t in threads {
                    eprintln!("{} size {size} batch {batch} threads {t}", model.display());
                    // Per round: candle at each precision, then onnxruntime (f32) right after.
                    let mut candle_rounds = vec![Vec::with_capacity(rounds); precisions.len()];
                    let (mut ort_rounds, mut note) = (Vec::with_capacity(rounds), None);
                    for _ in 0..rounds {
                        for (timings, p) in candle_rounds.iter_mut().zip(precisions) {
                            timings.push(candle_child(model, size, batch, t, repeats, p)?);
                        }
                        let (ort, n) = ort_child(python, model, size, batch, t, repeats)?;
                        ort_rounds.extend(ort);
                        note = n;
                    }
                    let ort = (!ort_rounds.is_empty()).then(|| over_rounds(&ort_rounds, batch));
                    for (precision, timings) in precisions.iter().zip(candle_rounds) {
                        let candle = over_rounds(&timings, batch);
                        let ratio = ort.as_ref().map(|o| candle.median_ms / o.median_ms);
                        cases.push(Case {
                            model: model
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                            precision: precision.clone(),
                            size_px: size,
                            batch,
                            threads: t,
                            candle,
                            onnxruntime: ort.clone(),
                            ratio,
                            note: note.clone(),
                        });
                    }
                }
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&cases)?);
        return Ok(());
    }
    println!(
        "candle vs onnxruntime f32 (CPU, median of {repeats} per process, median of {rounds} alternating rounds; \
         ratio = candle latency / onnxruntime latency)"
    );
    println!(
        "{:<22} {:>5} {:>5} {:>5} {:>7} {:>12} {:>12} {:>10} {:>10} {:>7}",
        "model", "prec", "size", "batch", "threads", "candle ms", "ort ms", "candle i/s", "ort i/s", "ratio"
    );
    for c in &cases {
        let (ort_ms, ort_ips) =
            c.onnxruntime.as_ref().map_or((f64::NAN, f64::NAN), |o| (o.median_ms, o.images_per_s));
        println!(
            "{:<22} {:>5} {:>5} {:>5} {:>7} {:>12.1} {:>12.1} {:>10.2} {:>10.2} {:>7.2}{}",
            c.model,
            c.precision,
            c.size_px,
            c.batch,
            c.threads,
            c.candle.median_ms,
            ort_ms,
            c.candle.images_per_s,
            ort_ips,
            c.ratio.unwrap_or(f64::NAN),
            c.note.as_deref().map(|n| format!("  ({n})")).unwrap_or_default()
        );
    }
    Ok(())
}

/// Where candle's time goes: median time per yaml row over `repeats` forwards, summed by
/// module kind, printed with each kind's share (and each row's, with `rows`).
pub fn profile(model: &Path, size: usize, batch: usize, repeats: usize, rows: bool) -> anyhow::Result<()> {
    use lacuna_vision::{DType, Device, Tensor, Yolo, YoloConfig};
    let weights = lacuna_vision::load_weights(model, &Device::Cpu, DType::F32)?;
    let card = weights.card.clone();
    let cfg = YoloConfig::new(card.family, card.scale, card.task, card.num_classes());
    let yolo = Yolo::new(&cfg, weights.var_builder(DType::F32, &Device::Cpu))?;
    let input = Tensor::rand(0f32, 1f32, (batch, 3, size, size), &Device::Cpu)?;
    yolo.forward(&input)?; // warm-up
    let mut per_row: std::collections::BTreeMap<(usize, &'static str), Vec<f64>> = Default::default();
    for _ in 0..repeats.max(1) {
        let (_, timings) = yolo.forward_profiled(&input)?;
        for t in timings {
            per_row.entry((t.index, t.kind)).or_default().push(t.duration_ms);
        }
    }
    let per_row: Vec<_> = per_row.into_iter().map(|(row, samples)| (row, median(samples))).collect();
    let mut by_kind: std::collections::BTreeMap<&'static str, f64> = Default::default();
    for &((_, kind), ms) in &per_row {
        *by_kind.entry(kind).or_default() += ms;
    }
    let total: f64 = by_kind.values().sum();
    println!(
        "candle profile: {} ({} {}), {size}x{size}, batch {batch}, threads {}, median of {repeats}",
        model.display(),
        card.family.as_str(),
        card.scale.as_str(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into())
    );
    let mut kinds: Vec<_> = by_kind.into_iter().collect();
    kinds.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (kind, ms) in kinds {
        println!("  {kind:<10} {ms:>9.1} ms  {:>5.1}%", 100.0 * ms / total);
    }
    println!("  {:<10} {total:>9.1} ms", "total");
    if rows {
        println!("by row:");
        for ((index, kind), ms) in per_row {
            println!("  {index:>3} {kind:<10} {ms:>9.2} ms  {:>5.1}%", 100.0 * ms / total);
        }
    }
    Ok(())
}
