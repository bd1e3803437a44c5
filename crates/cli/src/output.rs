//! How the CLI prints things: tables for people, JSON for scripts, a progress bar on a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lacuna_api::{ImageDetails, ImageSummary, ImportProgress, ImportStatus, ImportSummary, ProblemDto, ProjectStatus};
use serde::Serialize;

pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Draws the import progress bar (terminal only) and prints the summary.
#[derive(Debug)]
pub struct ImportReporter {
    json: bool,
    bar: ProgressBar,
}

impl ImportReporter {
    pub fn new(json: bool) -> Self {
        let bar = if json || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        };
        Self { json, bar }
    }

    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }

    pub fn finish(&mut self, summary: &ImportSummary) -> anyhow::Result<()> {
        self.bar.finish_and_clear();
        if self.json {
            return print_json(summary);
        }
        let c = &summary.counts;
        let status = match summary.status {
            ImportStatus::Finished => "finished",
            ImportStatus::FinishedWithProblems => "finished with problems",
            ImportStatus::Cancelled => "cancelled (a re-run resumes)",
        };
        println!("import {status} in {:.1} s ({:.0} files/s)", summary.elapsed_ms as f64 / 1000.0, summary.rate_files_per_s);
        println!("  files found      {:>8}", c.files_found);
        println!("  added            {:>8}", c.added);
        println!("  updated          {:>8}", c.updated);
        println!("  moved            {:>8}", c.moved);
        println!("  unchanged        {:>8}", c.unchanged);
        println!("  duplicates       {:>8}", c.duplicates);
        println!("  marked missing   {:>8}", c.marked_missing);
        println!("  problems         {:>8}", c.problems);
        println!("  ignored (not images by name) {:>}", c.ignored);
        if c.problems > 0 {
            println!("see them with: lacuna problems");
        }
        Ok(())
    }
}

pub fn report_progress(bar: &ProgressBar, json: bool, p: &ImportProgress) {
    if json {
        if let Ok(line) = serde_json::to_string(p) {
            eprintln!("{line}");
        }
        return;
    }
    let c = &p.counts;
    bar.set_length(c.files_found);
    bar.set_position(c.files_done());
    let eta = match p.eta_s {
        Some(s) => format!("ETA {}", human_duration(s)),
        None => "walking…".to_owned(),
    };
    bar.set_message(format!(
        "{:.0}/s {eta} · +{} new, {} unchanged, {} dup, {} problems",
        p.rate_files_per_s, c.added, c.unchanged, c.duplicates, c.problems
    ));
}

fn human_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

pub fn print_status(s: &ProjectStatus) {
    println!("project   {}", s.project);
    println!("images    {} ({} ok, {} missing)", s.images, s.images_ok, s.images_missing);
    println!("duplicate files (not imported twice) {}", s.duplicate_files);
    println!("folders");
    for folder in &s.folders {
        println!("  {folder}");
    }
    if !s.cameras.is_empty() {
        println!("cameras");
        for c in &s.cameras {
            println!("  {:>8}  {}", c.images, c.camera.as_deref().unwrap_or("(no camera in EXIF)"));
        }
    }
    if let Some(job) = &s.last_import {
        println!(
            "last import: job {} {} · {} added, {} unchanged, {} problems",
            job.id, job.status, job.counts.added, job.counts.unchanged, job.counts.problems
        );
    }
}

pub fn print_images(items: &[ImageSummary], next_cursor: Option<&str>) {
    for i in items {
        println!(
            "{:>8}  {:<7} {:>5}x{:<5} {:<4} {:<19} {:<28} {}{}",
            i.id,
            i.status,
            i.width_px,
            i.height_px,
            i.format,
            i.captured_at.as_deref().unwrap_or("-"),
            i.camera.as_deref().unwrap_or("-"),
            i.path,
            if i.duplicate_count > 0 { format!("  (+{} duplicates)", i.duplicate_count) } else { String::new() },
        );
    }
    if let Some(cursor) = next_cursor {
        println!("more: --cursor {cursor}");
    }
}

pub fn print_details(d: &ImageDetails) {
    let s = &d.summary;
    println!("image {} · {}", s.id, d.abs_path);
    println!("  status     {}", s.status);
    println!("  format     {} {}x{} (orientation {})", s.format, s.width_px, s.height_px, d.exif.orientation);
    println!("  size       {} bytes", d.file_size_bytes);
    println!("  hash       {}", d.content_hash);
    println!("  camera     {}", s.camera.as_deref().unwrap_or("-"));
    println!("  lens       {}", d.exif.lens_model.as_deref().unwrap_or("-"));
    println!("  captured   {}", d.exif.captured_at.as_deref().unwrap_or("-"));
    if let Some(gps) = &d.exif.gps {
        println!("  gps        {:.6}, {:.6}", gps.latitude_deg, gps.longitude_deg);
    }
    let st = &d.stats;
    println!(
        "  luma       mean {:.3} · p05 {:.3} · p50 {:.3} · p95 {:.3}",
        st.luma_mean, st.luma_p05, st.luma_p50, st.luma_p95
    );
    println!("  contrast {:.3} · saturation {:.3} · sharpness {:.5}", st.contrast, st.saturation_mean, st.sharpness);
    for dup in &d.duplicates {
        println!("  duplicate  {dup}");
    }
}

pub fn print_problems(problems: &[ProblemDto]) {
    if problems.is_empty() {
        println!("no problems");
        return;
    }
    for p in problems {
        println!("{} [{}]: {}", p.path, p.kind, p.message);
    }
    println!("{} problem(s)", problems.len());
}

