//! Import rate against a bare reduced-size decode of the same files, in one run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use lacuna_api::{ImportRequest, Project, SystemClock};
use serde::Serialize;

use crate::median;

#[derive(Debug, Serialize)]
struct ImportReport {
    files: usize,
    mean_file_kb: f64,
    threads: usize,
    repeats: usize,
    /// Read + libjpeg-turbo decode at 1/8 (DCT scaling), all cores.
    baseline_reduced_decode_images_per_s: f64,
    /// Read + full-size decode, all cores (for scale).
    full_decode_images_per_s: f64,
    /// Read + BLAKE3, all cores.
    hash_images_per_s: f64,
    hash_mb_per_s: f64,
    /// Fresh project: hash, EXIF, statistics, thumbnail, catalog rows.
    import_images_per_s: f64,
    /// import / baseline; the target is at least 0.80.
    import_vs_baseline: f64,
    /// Second import of the unchanged folder.
    reimport_files_per_s: f64,
}

fn jpeg_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "{}: no .jpg files", dir.display());
    Ok(files)
}

/// Runs `work` over every file on `threads` threads; returns files per second.
fn parallel_rate(
    files: &[PathBuf],
    threads: usize,
    work: impl Fn(&[u8]) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<f64> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { return Ok(()) };
                        let bytes = std::fs::read(path)?;
                        work(&bytes).with_context(|| format!("{}", path.display()))?;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
        }
        Ok(())
    })?;
    Ok(files.len() as f64 / started.elapsed().as_secs_f64())
}

pub fn run(dir: &Path, repeats: usize, json: bool) -> anyhow::Result<()> {
    let files = jpeg_files(dir)?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let total_bytes: u64 = files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum();
    // Warm the page cache so every measurement reads from memory alike.
    parallel_rate(&files, threads, |_| Ok(()))?;

    let mut baseline = Vec::new();
    let mut hashing = Vec::new();
    let mut import = Vec::new();
    let mut reimport = Vec::new();
    let mut full = Vec::new();
    for repeat in 0..repeats {
        eprintln!("repeat {}/{repeats}", repeat + 1);
        baseline.push(parallel_rate(&files, threads, |b| {
            lacuna_ingest::decode_jpeg_reduced(b, 8)?;
            Ok(())
        })?);
        hashing.push(parallel_rate(&files, threads, |b| {
            std::hint::black_box(lacuna_ingest::content_hash(b));
            Ok(())
        })?);
        let subset = &files[..files.len().min(300)];
        full.push(parallel_rate(subset, threads, |b| {
            lacuna_ingest::decode_jpeg_reduced(b, 1)?;
            Ok(())
        })?);
        let tmp = tempfile::tempdir()?;
        let project = Project::create(&tmp.path().join("bench.lacuna"), Arc::new(SystemClock))?;
        let request = ImportRequest { paths: vec![dir.to_path_buf()], ..ImportRequest::default() };
        let started = Instant::now();
        let summary = project.start_import(request.clone(), |_| {})?.wait()?;
        let secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(summary.counts.added as usize == files.len(), "import added {:?}", summary.counts);
        import.push(files.len() as f64 / secs);
        let started = Instant::now();
        let again = project.start_import(request, |_| {})?.wait()?;
        let secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(again.counts.unchanged as usize == files.len(), "re-import: {:?}", again.counts);
        reimport.push(files.len() as f64 / secs);
    }
    let baseline = median(baseline);
    let import = median(import);
    let hash = median(hashing);
    let report = ImportReport {
        files: files.len(),
        mean_file_kb: total_bytes as f64 / files.len() as f64 / 1024.0,
        threads,
        repeats,
        baseline_reduced_decode_images_per_s: baseline,
        full_decode_images_per_s: median(full),
        hash_images_per_s: hash,
        hash_mb_per_s: hash * total_bytes as f64 / files.len() as f64 / 1e6,
        import_images_per_s: import,
        import_vs_baseline: import / baseline,
        reimport_files_per_s: median(reimport),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "import benchmark: {} files of {:.0} KB, {} threads, median of {} repeats",
            report.files, report.mean_file_kb, threads, repeats
        );
        println!(
            "  bare 1/8 decode (baseline) {:>9.1} images/s",
            report.baseline_reduced_decode_images_per_s
        );
        println!("  full-size decode           {:>9.1} images/s", report.full_decode_images_per_s);
        println!(
            "  BLAKE3 hashing             {:>9.1} images/s ({:.0} MB/s)",
            report.hash_images_per_s, report.hash_mb_per_s
        );
        println!("  full import                {:>9.1} images/s", report.import_images_per_s);
        println!(
            "  import / baseline          {:>9.2}   (target >= 0.80: {})",
            report.import_vs_baseline,
            if report.import_vs_baseline >= 0.8 { "met" } else { "NOT met" }
        );
        println!(
            "  unchanged re-import        {:>9.0} files/s (target >= 20000: {})",
            report.reimport_files_per_s,
            if report.reimport_files_per_s >= 20_000.0 { "met" } else { "NOT met" }
        );
    }
    Ok(())
}
