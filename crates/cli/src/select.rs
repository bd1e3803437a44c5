//! `lacuna conditions …`, `lacuna coverage`, `lacuna queue`, `lacuna review-queue`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use lacuna_api::{ImageId, Project, QueueRequest, ReviewRequest, RunId, Weights};

use crate::{EXIT_PROBLEMS, api, output};

#[derive(Debug, Subcommand)]
pub enum ConditionsCommand {
    /// State an image's condition (trusted above every other source).
    Set { image: i64, key: String, value: String },
    /// Remove a condition you set (the next trusted source shows again).
    Clear { image: i64, key: String },
    /// Every claim about an image and the value that wins per key.
    Show {
        image: i64,
        #[arg(long)]
        json: bool,
    },
    /// Import a sidecar CSV or JSON: a `path` column plus any keys (weather, site, sequence…).
    Import { file: PathBuf },
    /// Path rules that read keys from folder names, e.g. `{camera}/{date}/*`.
    Rules {
        /// Add this rule.
        #[arg(long, conflicts_with = "remove")]
        add: Option<String>,
        /// Remove this rule.
        #[arg(long)]
        remove: Option<String>,
    },
    /// Derive conditions for new or changed images now (queue and coverage do it anyway).
    Refresh,
}

fn print_pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

pub fn conditions(project: &Project, cmd: ConditionsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConditionsCommand::Set { image, key, value } => {
            project.set_condition(ImageId(image), &key, &value).map_err(api)?;
            output::print_line(&format!("image {image}: {key} = {value} (human)"))?;
        }
        ConditionsCommand::Clear { image, key } => {
            let removed = project.clear_condition(ImageId(image), &key).map_err(api)?;
            output::print_line(if removed {
                "cleared"
            } else {
                "nothing to clear: no human value for that key"
            })?;
        }
        ConditionsCommand::Show { image, json } => {
            let (claims, resolved) = project.image_conditions(ImageId(image)).map_err(api)?;
            if json {
                output::print_json(&serde_json::json!({ "claims": claims, "resolved": resolved }))?;
            } else {
                for c in &resolved {
                    output::print_line(&format!(
                        "{:<14} {:<28} {} ({:.0}%)",
                        c.key,
                        c.value,
                        c.source.as_str(),
                        c.confidence * 100.0
                    ))?;
                }
                let overruled = claims.len().saturating_sub(resolved.len());
                if overruled > 0 {
                    output::note(&format!("{overruled} less trusted claim(s) overruled; --json lists them"));
                }
            }
        }
        ConditionsCommand::Import { file } => {
            let report = project.import_conditions(&file).map_err(api)?;
            for p in &report.problems {
                output::print_line(p)?;
            }
            output::print_line(&format!("{} rows, {} conditions stored", report.rows, report.stored))?;
            if !report.problems.is_empty() {
                return Ok(ExitCode::from(EXIT_PROBLEMS));
            }
        }
        ConditionsCommand::Rules { add, remove } => {
            if let Some(p) = add {
                let n = project.add_path_rule(&p).map_err(api)?;
                output::note(&format!("rule added; conditions re-derived for {n} images"));
            }
            if let Some(p) = remove {
                project.remove_path_rule(&p).map_err(api)?;
                output::note("rule removed");
            }
            for rule in project.path_rules().map_err(api)? {
                output::print_line(&rule)?;
            }
        }
        ConditionsCommand::Refresh => {
            let n = project.refresh_conditions().map_err(api)?;
            output::print_line(&format!("conditions derived for {n} images"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn coverage(
    project: &Project,
    key: Option<String>,
    target: Option<Vec<String>>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(t) = target {
        // KEY VALUE SHARE|clear
        let (k, v, share) = (&t[0], &t[1], &t[2]);
        let share = if share == "clear" {
            None
        } else {
            let s = share.trim_end_matches('%');
            let mut x: f64 = s.parse().with_context(|| format!("target share `{share}` is not a number"))?;
            if share.ends_with('%') || x > 1.0 {
                x /= 100.0;
            }
            Some(x)
        };
        project.set_coverage_target(k, v, share).map_err(api)?;
    }
    let report = project.coverage().map_err(api)?;
    let rows: Vec<_> = report.rows.iter().filter(|r| key.as_deref().is_none_or(|k| r.key == k)).collect();
    if json {
        output::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::print_line(&format!("{} images in the pool, {} labeled", report.pool, report.labeled))?;
    output::print_line(&format!(
        "{:<12} {:<30} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>9}",
        "key", "value", "pool", "pool%", "labeled", "lab%", "target%", "gap", "low-conf"
    ))?;
    for r in rows {
        output::print_line(&format!(
            "{:<12} {:<30} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6.2} {:>9}",
            r.key,
            r.value,
            r.pool,
            print_pct(r.pool_share),
            r.labeled,
            print_pct(r.labeled_share),
            format!("{}{}", print_pct(r.target_share), if r.target_is_pool { "" } else { "*" }),
            r.gap,
            r.low_confidence_rate.map(print_pct).unwrap_or_else(|| "-".into())
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
pub fn queue(
    project: &Project,
    weights: Option<String>,
    limit: usize,
    assign: Option<String>,
    run: Option<i64>,
    release: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if release {
        let who = assign.context("--release needs --assign NAME (whose images to give back)")?;
        let n = project.release_assignments(&who, None).map_err(api)?;
        output::print_line(&format!("released {n} image(s) held by {who}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let weights = match weights {
        Some(w) => Weights::parse(&w).map_err(|e| anyhow::anyhow!(e))?,
        None => Weights::default(),
    };
    let req = QueueRequest { weights, limit, assign_to: assign, run: run.map(RunId) };
    let result = project.queue(&req).map_err(api)?;
    if json {
        output::print_json(&result.items)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::note(&format!(
        "{} candidates of {} images ({} labeled){}",
        result.candidates,
        result.pool,
        result.labeled,
        result
            .run
            .map(|r| format!("; predictions of run {r}"))
            .unwrap_or_else(|| "; no pre-labeling run yet".into())
    ));
    for e in &result.items {
        output::print_line(&format!(
            "{:>4}  {:.3}  {:<40}  {}",
            e.rank,
            e.score,
            e.path,
            e.reasons.join(" · ")
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn review_queue(
    project: &Project,
    band: &str,
    limit: usize,
    assign: Option<String>,
    run: Option<i64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (lo, hi) =
        band.split_once(',').with_context(|| format!("--band {band}: give low,high (e.g. 0.3,0.6)"))?;
    let band = (
        lo.trim().parse::<f32>().with_context(|| format!("--band: `{lo}` is not a number"))?,
        hi.trim().parse::<f32>().with_context(|| format!("--band: `{hi}` is not a number"))?,
    );
    let req = ReviewRequest { band, limit, assign_to: assign, run: run.map(RunId) };
    let items = project.review_queue(&req).map_err(api)?;
    if json {
        output::print_json(&items)?;
        return Ok(ExitCode::SUCCESS);
    }
    if items.is_empty() {
        output::print_line("nothing to review")?;
    }
    for (i, it) in items.iter().enumerate() {
        output::print_line(&format!("{:>4}  {:.2}  {:<36}  {}", i + 1, it.importance, it.path, it.reason))?;
    }
    Ok(ExitCode::SUCCESS)
}
