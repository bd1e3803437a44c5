//! `lacuna-bench queue-catalog`: the labeling queue and coverage end to end through the API on
//! a generated catalog at issue 6's scale — 1,000,000 present images with three condition keys
//! (light: night 20% of the pool; weather; camera), a pre-labeling run with one box (80-class
//! probabilities) and a 256-d embedding per image, 100,000 labeled (night 2% of them).
//!
//! Measured, each through `lacuna_api::Project` exactly as the CLI and the app call it:
//! - the first ranking after pre-labeling (it computes and stores the run's uncertainty
//!   summaries, once per run);
//! - a full recomputation from the catalog in a freshly opened project (batch of 1,000);
//! - the coverage table cold (fresh project) and kept (the ranking already in memory);
//! - the incremental update: one image labeled through the API, then the next batch of 1,000
//!   (median of several);
//! - the proof at scale: the night share of the labeled set after labeling the first 100 picks,
//!   against 100 random unlabeled images (mean of 20 draws).
//!
//! Baseline in the same run: sorting 1,000,000 uncertainty scores (as in `queue`). The
//! generated catalog is made once under `--dir` and copied for each run, so every run starts
//! from the same state.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use lacuna_api::{CATALOG_FILE, ImageId, ImageLabelState, Project, QueueRequest, SystemClock};
use lacuna_catalog::{Catalog, RankState, SyntheticRanking};
use serde::Serialize;

const NOW: i64 = 1_700_000_000;
const SEED: u64 = 11;
/// The generator marks about 5% of its rows missing.
const PRESENT_SHARE: f64 = 0.95;

#[derive(Debug, Serialize)]
struct Step {
    step: String,
    seconds: f64,
    ratio_to_baseline: f64,
    target_s: Option<f64>,
    met: Option<bool>,
}

fn step(name: &str, seconds: f64, baseline: f64, target: Option<f64>) -> Step {
    Step {
        step: name.to_string(),
        seconds,
        ratio_to_baseline: seconds / baseline,
        target_s: target,
        met: target.map(|t| seconds < t),
    }
}

fn open(dir: &Path) -> anyhow::Result<Project> {
    Ok(Project::open(dir, Arc::new(SystemClock))?)
}

/// Makes the generated catalog in `base` unless it is there already.
fn generate(base: &Path, images: u64, labeled: u64) -> anyhow::Result<()> {
    let marker = base.join(format!("generated-{images}-{labeled}"));
    if marker.exists() {
        return Ok(());
    }
    if base.exists() {
        std::fs::remove_dir_all(base).with_context(|| format!("clearing {}", base.display()))?;
    }
    std::fs::create_dir_all(base)?;
    let t = Instant::now();
    let mut catalog = Catalog::create(&base.join(CATALOG_FILE))?;
    let root = catalog.upsert_root("/data/generated", NOW)?;
    let rows = (images as f64 / PRESENT_SHARE).ceil() as u64;
    catalog.insert_synthetic_images(root, rows, SEED, NOW)?;
    let summary = catalog.insert_synthetic_ranking(
        &SyntheticRanking {
            seed: SEED,
            dim: 256,
            clusters: 64,
            labeled,
            night_share: 0.2,
            night_labeled_share: 0.02,
            classes: 80,
        },
        NOW,
    )?;
    catalog.checkpoint()?;
    drop(catalog);
    std::fs::create_dir_all(base.join(lacuna_api::THUMBNAIL_DIR))?;
    eprintln!(
        "generated {} present images ({} night), {} labeled ({} night), run {} in {:.0} s",
        summary.images,
        summary.night,
        summary.labeled,
        summary.labeled_night,
        summary.run,
        t.elapsed().as_secs_f64()
    );
    std::fs::write(&marker, b"")?;
    Ok(())
}

pub fn run(
    dir: Option<PathBuf>,
    images: u64,
    labeled: u64,
    batch: usize,
    repeats: usize,
    json: bool,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("bench-data/queue-catalog"));
    let base = dir.join("base");
    generate(&base, images, labeled)?;
    let work = dir.join("run");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(work.join(lacuna_api::THUMBNAIL_DIR))?;
    std::fs::copy(base.join(CATALOG_FILE), work.join(CATALOG_FILE))
        .context("copying the generated catalog")?;

    // Baseline: sort 1M scores.
    let mut scores: Vec<f32> =
        (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 8) as f32).collect();
    let t = Instant::now();
    scores.sort_by(f32::total_cmp);
    let baseline = t.elapsed().as_secs_f64();
    let mut steps = vec![step("baseline: sort 1M uncertainty scores", baseline, baseline, None)];

    let req = QueueRequest { limit: batch, ..QueueRequest::default() };
    let t = Instant::now();
    let first = open(&work)?.queue(&req)?;
    steps.push(step(
        "first ranking of the run (computes its uncertainty summaries)",
        t.elapsed().as_secs_f64(),
        baseline,
        None,
    ));

    let mut full = Vec::new();
    for _ in 0..3 {
        let project = open(&work)?;
        let t = Instant::now();
        project.queue(&req)?;
        full.push(t.elapsed().as_secs_f64());
    }
    steps.push(step(
        &format!("full recomputation from the catalog, batch of {batch} (median of 3)"),
        crate::median(full),
        baseline,
        Some(5.0),
    ));

    let project = open(&work)?;
    let t = Instant::now();
    let cov = project.coverage()?;
    steps.push(step("coverage table, cold (reads the catalog)", t.elapsed().as_secs_f64(), baseline, None));
    let mut kept_cov = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        project.coverage()?;
        kept_cov.push(t.elapsed().as_secs_f64());
    }
    steps.push(step(
        &format!("coverage table, kept ({} values; median of {repeats})", cov.rows.len()),
        crate::median(kept_cov),
        baseline,
        Some(0.2),
    ));

    let mut current = project.queue(&req)?;
    let mut label_s = Vec::new();
    let mut update_s = Vec::new();
    for _ in 0..repeats {
        let image = current.items.first().context("an empty queue")?.image;
        let t = Instant::now();
        project.set_image_state("bench", image, ImageLabelState::Labeled)?;
        label_s.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        current = project.queue(&req)?;
        update_s.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            current.items.iter().all(|i| i.image != image),
            "a labeled image stayed in the queue"
        );
    }
    steps.push(step(
        &format!("incremental: one image labeled, then the next {batch} (median of {repeats})"),
        crate::median(update_s),
        baseline,
        Some(0.05),
    ));
    steps.push(step("  (the label write itself, for scale)", crate::median(label_s), baseline, None));

    // The proof at scale: night share of the labeled set after 100 picks vs 100 random ones.
    let proof = proof(&work, &project)?;

    if json {
        println!(
            "{}",
            serde_json::json!({
                "images": first.pool, "labeled": first.labeled, "batch": batch,
                "steps": steps, "proof": proof,
                "first_reasons": first.items.first().map(|i| &i.reasons),
            })
        );
    } else {
        println!("{} present images, {} labeled, batch {batch}", first.pool, first.labeled);
        for s in &steps {
            println!(
                "  {:<72} {:>9.4} s {:>8.2}x {}",
                s.step,
                s.seconds,
                s.ratio_to_baseline,
                s.met.map_or(String::new(), |m| if m { "met".into() } else { "NOT met".into() })
            );
        }
        println!(
            "  proof: night {:.1}% of labeled before; after labeling the first 100 picks {:.1}% \
             ({} of the 100 are night); after 100 random unlabeled images {:.1}% (mean of 20 draws)",
            proof.before * 100.0,
            proof.after_queue * 100.0,
            proof.night_in_picks,
            proof.after_random * 100.0
        );
        if let Some(item) = first.items.first() {
            println!("  first pick's reasons: {}", item.reasons.join(" · "));
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct Proof {
    before: f64,
    after_queue: f64,
    night_in_picks: usize,
    after_random: f64,
}

fn proof(work: &Path, project: &Project) -> anyhow::Result<Proof> {
    let catalog = Catalog::open(&work.join(CATALOG_FILE), NOW)?;
    let mut night: HashMap<ImageId, bool> = HashMap::new();
    catalog.for_each_condition_ref(|image, key, value, _, _| {
        if key == "light" {
            night.insert(image, value == "night");
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let pool = catalog.rank_pool()?;
    let labeled: Vec<ImageId> = pool.iter().filter(|p| p.1 == RankState::Done).map(|p| p.0).collect();
    let unlabeled: Vec<ImageId> = pool.iter().filter(|p| p.1 == RankState::Unlabeled).map(|p| p.0).collect();
    let is_night = |i: &ImageId| night.get(i).copied().unwrap_or(false);
    let labeled_night = labeled.iter().filter(|i| is_night(i)).count();
    let n = labeled.len() as f64;
    let picks = project.queue(&QueueRequest { limit: 100, ..QueueRequest::default() })?;
    let night_in_picks = picks.items.iter().filter(|i| is_night(&i.image)).count();
    let mut random_shares = Vec::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20 {
        let mut k = 0;
        for _ in 0..100 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if is_night(&unlabeled[(state % unlabeled.len() as u64) as usize]) {
                k += 1;
            }
        }
        random_shares.push((labeled_night + k) as f64 / (n + 100.0));
    }
    Ok(Proof {
        before: labeled_night as f64 / n,
        after_queue: (labeled_night + night_in_picks) as f64 / (n + picks.items.len() as f64),
        night_in_picks,
        after_random: random_shares.iter().sum::<f64>() / random_shares.len() as f64,
    })
}
