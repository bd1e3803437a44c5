//! How the CLI prints things: tables for people, JSON for scripts, a progress bar on a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lacuna_api::{
    Annotation, ClassDto, Geometry, ImageDetails, ImageSummary, ImportProgress, ImportStatus, ImportSummary,
    LabelImportReport, PredictionDto, PrelabelProgress, PrelabelSummary, ProblemDto, ProjectStatus, RunDto,
    VersionDiffDto, VersionDto,
};
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

    pub fn clear(&self) {
        self.bar.finish_and_clear();
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
        let mut out = std::io::stdout().lock();
        let status = match summary.status {
            ImportStatus::Finished => "finished",
            ImportStatus::FinishedWithProblems => "finished with problems",
            ImportStatus::Cancelled => "cancelled (a re-run resumes)",
        };
        writeln!(
            out,
            "import {status} in {:.1} s ({:.0} files/s)",
            summary.elapsed_ms as f64 / 1000.0,
            summary.rate_files_per_s
        )?;
        writeln!(out, "  files found      {:>8}", c.files_found)?;
        writeln!(out, "  added            {:>8}", c.added)?;
        writeln!(out, "  updated          {:>8}", c.updated)?;
        writeln!(out, "  moved            {:>8}", c.moved)?;
        writeln!(out, "  unchanged        {:>8}", c.unchanged)?;
        writeln!(out, "  duplicates       {:>8}", c.duplicates)?;
        writeln!(out, "  marked missing   {:>8}", c.marked_missing)?;
        writeln!(out, "  problems         {:>8}", c.problems)?;
        writeln!(out, "  ignored          {:>8}  (not images by their names)", c.ignored)?;
        if c.problems > 0 {
            writeln!(out, "see them with: lacuna problems")?;
        }
        Ok(())
    }
}

pub fn report_progress(bar: &ProgressBar, json: bool, p: &ImportProgress) {
    if json {
        if let Ok(line) = serde_json::to_string(p) {
            note(&line);
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

pub fn print_status(s: &ProjectStatus) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "project   {}", s.project)?;
    writeln!(out, "images    {} ({} ok, {} missing)", s.images, s.images_ok, s.images_missing)?;
    writeln!(out, "duplicate files (not imported twice) {}", s.duplicate_files)?;
    writeln!(out, "folders")?;
    for folder in &s.folders {
        writeln!(out, "  {folder}")?;
    }
    if !s.cameras.is_empty() {
        writeln!(out, "cameras")?;
        for c in &s.cameras {
            writeln!(out, "  {:>8}  {}", c.images, c.camera.as_deref().unwrap_or("(no camera in EXIF)"))?;
        }
    }
    if let Some(job) = &s.last_import {
        writeln!(
            out,
            "last import: job {} {} · {} added, {} unchanged, {} problems",
            job.id, job.status, job.counts.added, job.counts.unchanged, job.counts.problems
        )?;
    }
    Ok(())
}

pub fn print_images(items: &[ImageSummary], next_cursor: Option<&str>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for i in items {
        writeln!(
            out,
            "{:>8}  {:<7} {:>5}x{:<5} {:<4} {:<19} {:<28} {}{}",
            i.id,
            i.status,
            i.width_px,
            i.height_px,
            i.format,
            i.captured_at.as_deref().unwrap_or("-"),
            i.camera.as_deref().unwrap_or("-"),
            i.path,
            if i.duplicate_count > 0 {
                format!("  (+{} duplicates)", i.duplicate_count)
            } else {
                String::new()
            },
        )?;
    }
    if let Some(cursor) = next_cursor {
        writeln!(out, "more: --cursor {cursor}")?;
    }
    Ok(())
}

pub fn print_details(d: &ImageDetails) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let s = &d.summary;
    writeln!(out, "image {} · {}", s.id, d.abs_path)?;
    writeln!(out, "  status     {}", s.status)?;
    writeln!(
        out,
        "  format     {} {}x{} (orientation {})",
        s.format, s.width_px, s.height_px, d.exif.orientation
    )?;
    writeln!(out, "  size       {} bytes", d.file_size_bytes)?;
    writeln!(out, "  hash       {}", d.content_hash)?;
    writeln!(out, "  camera     {}", s.camera.as_deref().unwrap_or("-"))?;
    writeln!(out, "  lens       {}", d.exif.lens_model.as_deref().unwrap_or("-"))?;
    writeln!(out, "  captured   {}", d.exif.captured_at.as_deref().unwrap_or("-"))?;
    if let Some(gps) = &d.exif.gps {
        writeln!(out, "  gps        {:.6}, {:.6}", gps.latitude_deg, gps.longitude_deg)?;
    }
    let st = &d.stats;
    writeln!(
        out,
        "  luma       mean {:.3} · p05 {:.3} · p50 {:.3} · p95 {:.3}",
        st.luma_mean, st.luma_p05, st.luma_p50, st.luma_p95
    )?;
    writeln!(
        out,
        "  contrast {:.3} · saturation {:.3} · sharpness {:.5}",
        st.contrast, st.saturation_mean, st.sharpness
    )?;
    for dup in &d.duplicates {
        writeln!(out, "  duplicate  {dup}")?;
    }
    Ok(())
}

pub fn print_problems(problems: &[ProblemDto]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if problems.is_empty() {
        writeln!(out, "no problems")?;
        return Ok(());
    }
    for p in problems {
        writeln!(out, "{} [{}]: {}", p.path, p.kind, p.message)?;
    }
    writeln!(out, "{} problem(s)", problems.len())?;
    Ok(())
}

/// A line on stderr for people or scripts watching. A closed stderr (the reader went away) is
/// not a reason to stop an import, so write errors are ignored here on purpose.
pub fn note(line: &str) {
    let mut err = std::io::stderr().lock();
    // Ignored: see above.
    let _ = writeln!(err, "{line}");
}

pub fn print_line(line: &str) -> std::io::Result<()> {
    writeln!(std::io::stdout().lock(), "{line}")
}

pub fn report_prelabel_progress(bar: &ProgressBar, json: bool, p: &PrelabelProgress) {
    if json {
        if let Ok(line) = serde_json::to_string(p) {
            note(&line);
        }
        return;
    }
    bar.set_length(p.images_total);
    bar.set_position(p.images_done + p.problems);
    let eta = p.eta_s.map(|s| format!(" ETA {}", human_duration(s))).unwrap_or_default();
    bar.set_message(format!(
        "{:.1} images/s{eta} · {} boxes shown, {} problems",
        p.rate_images_per_s, p.detections_shown, p.problems
    ));
}

pub fn print_prelabel_summary(s: &PrelabelSummary) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let status = match s.status {
        lacuna_api::PrelabelStatus::Finished => "finished",
        lacuna_api::PrelabelStatus::FinishedWithProblems => "finished with problems",
        lacuna_api::PrelabelStatus::Cancelled => "cancelled (a re-run resumes)",
    };
    writeln!(
        out,
        "pre-label run {} ({}) {status} in {:.1} s ({:.2} images/s)",
        s.run,
        s.model,
        s.elapsed_ms as f64 / 1000.0,
        s.rate_images_per_s
    )?;
    if s.resumed {
        writeln!(out, "  continued an earlier run: {} images were already done", s.already_done)?;
    }
    writeln!(out, "  images done      {:>8}", s.images_done)?;
    writeln!(out, "  boxes shown      {:>8}", s.detections_shown)?;
    writeln!(out, "  problems         {:>8}", s.problems)?;
    writeln!(out, "  weights          {}", s.weights_hash)?;
    let t = &s.stages;
    let share = |ms: u64| lacuna_api::PrelabelStages::percent_of(ms, s.elapsed_ms);
    writeln!(
        out,
        "  model thread     forward {:.0}% · output {:.0}% · store {:.0}% · waiting for images {:.0}%",
        share(t.forward_ms),
        share(t.postprocess_ms),
        share(t.store_ms),
        share(t.wait_ms)
    )?;
    writeln!(
        out,
        "  decode threads   {}: decode {:.1} s · letterbox {:.1} s ({:.0}% of their time busy)",
        t.decode_threads,
        t.decode_ms as f64 / 1000.0,
        t.letterbox_ms as f64 / 1000.0,
        t.decode_busy_percent(s.elapsed_ms).total
    )?;
    if let Some(u) = t.cpu_utilisation {
        writeln!(
            out,
            "  CPU              {:.0}% of {} cores ({:.1} s of CPU time)",
            100.0 * u,
            t.cores,
            t.cpu_ms as f64 / 1000.0
        )?;
    }
    Ok(())
}

pub fn print_predictions(predictions: &[PredictionDto]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for p in predictions {
        let [x0, y0, x1, y1] = p.bbox_xyxy;
        writeln!(
            out,
            "{:<40} {:<16} {:.3}  [{x0:.1}, {y0:.1}, {x1:.1}, {y1:.1}]{}",
            p.path,
            p.class,
            p.score,
            if p.flipped { " (mirrored pass)" } else { "" }
        )?;
    }
    writeln!(out, "{} box(es)", predictions.len())
}

pub fn print_runs(runs: &[RunDto]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if runs.is_empty() {
        return writeln!(out, "no pre-labeling runs yet");
    }
    for r in runs {
        writeln!(
            out,
            "run {:>3}  {:<10} {:<22} {:>7} images  {:>4} problems  {} {} batch {}{}",
            r.id,
            r.model,
            r.status,
            r.images_done,
            r.problems,
            r.device,
            r.precision,
            r.batch_size,
            if r.flip_tta { " flip-TTA" } else { "" }
        )?;
    }
    Ok(())
}

pub fn print_label_import(r: &LabelImportReport) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for p in &r.problems {
        writeln!(out, "{} [{}]: {}", p.location, p.kind.as_str(), p.message)?;
    }
    let c = &r.counts;
    writeln!(
        out,
        "{}: {} of {} images matched; {} annotations added, {} already there, {} replaced; {} images with no objects{}",
        r.format.as_str(),
        r.images_matched,
        r.images_in_file,
        c.annotations_added,
        c.annotations_unchanged,
        c.annotations_replaced,
        c.images_empty,
        if r.classes_created.is_empty() {
            String::new()
        } else {
            format!("; new classes: {}", r.classes_created.join(", "))
        }
    )?;
    if !r.problems.is_empty() {
        writeln!(out, "{} problem(s)", r.problems.len())?;
    }
    Ok(())
}

pub fn print_classes(classes: &[ClassDto]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if classes.is_empty() {
        writeln!(out, "no classes")?;
    }
    for c in classes {
        writeln!(
            out,
            "{:>4}  {:<24} {}  key {:<2} {:>8} annotations",
            c.class.id,
            c.class.name,
            c.class.color,
            c.class.hotkey.as_deref().unwrap_or("-"),
            c.annotations
        )?;
    }
    Ok(())
}

pub fn print_annotations(anns: &[Annotation], classes: &[ClassDto]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for a in anns {
        let class = classes.iter().find(|c| c.class.id == a.class).map_or("?", |c| c.class.name.as_str());
        let shape = match &a.geometry {
            Geometry::Box(b) => format!("box {} {} {} {}", b.x0, b.y0, b.x1, b.y1),
            Geometry::Polygon { parts } => {
                format!(
                    "polygon {} part(s), {} points",
                    parts.len(),
                    parts.iter().map(Vec::len).sum::<usize>()
                )
            }
            Geometry::Mask(m) => format!("mask {} px", m.area()),
        };
        writeln!(
            out,
            "{:>6}  {:<16} {:<40} {:<8} {} by {}",
            a.id,
            class,
            shape,
            a.source.as_str(),
            a.review_state.as_str(),
            a.author
        )?;
    }
    if anns.is_empty() {
        writeln!(out, "no annotations")?;
    }
    Ok(())
}

pub fn print_versions(versions: &[VersionDto]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if versions.is_empty() {
        writeln!(out, "no versions yet; freeze one with `lacuna version freeze`")?;
    }
    for v in versions {
        writeln!(
            out,
            "{}  {:<16} {:>8} images {:>9} annotations  by {}{}",
            v.short_id,
            v.name,
            v.images,
            v.annotations,
            v.created_by,
            v.parent.as_ref().map(|p| format!("  (parent {})", &p[..12.min(p.len())])).unwrap_or_default()
        )?;
    }
    Ok(())
}

pub fn print_diff(d: &VersionDiffDto) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let c = &d.diff.counts;
    writeln!(out, "{} ({}) -> {} ({})", d.from.name, d.from.short_id, d.to.name, d.to.short_id)?;
    writeln!(
        out,
        "images: +{} -{}, {} changed, {} moved between splits",
        c.images_added, c.images_removed, c.images_changed, c.images_split_changed
    )?;
    writeln!(
        out,
        "annotations: +{} -{}, {} changed ({} class changes), {} unchanged",
        c.annotations_added,
        c.annotations_removed,
        c.annotations_changed,
        c.annotations_class_changed,
        c.annotations_unchanged
    )?;
    for (pair, n) in &d.diff.class_changes {
        writeln!(out, "  class {pair}: {n}")?;
    }
    for p in &d.diff.images_added {
        writeln!(out, "+ {p}")?;
    }
    for p in &d.diff.images_removed {
        writeln!(out, "- {p}")?;
    }
    for a in &d.diff.annotations_added {
        writeln!(out, "+ {} {}", a.path, a.annotation.class)?;
    }
    for a in &d.diff.annotations_removed {
        writeln!(out, "- {} {}", a.path, a.annotation.class)?;
    }
    for ch in &d.diff.annotations_changed {
        writeln!(out, "~ {} {} -> {} (IoU {:.2})", ch.path, ch.before.class, ch.after.class, ch.iou)?;
    }
    if d.diff.truncated {
        writeln!(out, "(lists cut short; --max-details or --json for more)")?;
    }
    Ok(())
}
