//! `lacuna-bench queue`: the ranking functions of `lacuna-select` at the scale, on
//! generated in-memory data (no catalog I/O): 1,000,000 images with three condition keys (light,
//! weather, camera), 256-d embeddings, 100,000 labeled. Measured: the coverage table, a full
//! queue recomputation for a batch of 1,000 picks (uncertainty ranks, coverage components,
//! shortlist, nearest-labeled index over the labeled embeddings, novelty, k-center greedy,
//! reasons), and the incremental update after one newly labeled image (counts, gaps, the
//! shortlist's nearest distances, the best 1,000 again). Baseline in the same run: sorting the
//! 1,000,000 uncertainty scores.

use std::collections::BTreeMap;
use std::time::Instant;

use lacuna_select::coverage::{self, ValueCounts};
use lacuna_select::diversity::{Embeddings, IvfParams, NearestLabeled, k_center_greedy};
use lacuna_select::incremental::QueueState;
use lacuna_select::queue::{self, Candidate, Gaps, UncertaintySignals, Weights};
use lacuna_select::uncertainty::percentile_ranks;
use serde::Serialize;

const DIM: usize = 256;
const CLUSTERS: usize = 64;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A clustered embedding for image `id` (deterministic, so any subset can be made on demand).
fn embedding(id: u64, centers: &[f32]) -> Vec<f32> {
    let mut rng = Rng(id.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xE3B);
    let c = (rng.next() % CLUSTERS as u64) as usize;
    (0..DIM).map(|d| centers[c * DIM + d] + 0.35 * (rng.unit() - 0.5)).collect()
}

#[derive(Debug, Serialize)]
struct Step {
    step: &'static str,
    seconds: f64,
    ratio_to_baseline: f64,
    target_s: Option<f64>,
    met: Option<bool>,
}

pub fn run(images: usize, labeled: usize, batch: usize, json: bool) -> anyhow::Result<()> {
    let mut rng = Rng(7);
    let centers: Vec<f32> = (0..CLUSTERS * DIM).map(|_| rng.unit() - 0.5).collect();
    let lights = ["day", "low_light", "night"];
    let weathers = ["clear", "overcast", "fog_haze", "unknown"];
    // Pool: night 20%, low light 10%, day 70%; the labeled set (the first `labeled` ids of a
    // shuffled order) under-represents night.
    let mut conds: Vec<[u8; 3]> = Vec::with_capacity(images);
    let mut uncertainty = Vec::with_capacity(images);
    for _ in 0..images {
        let r = rng.unit();
        let light = if r < 0.2 {
            2
        } else if r < 0.3 {
            1
        } else {
            0
        };
        conds.push([light, (rng.next() % 4) as u8, (rng.next() % 20) as u8]);
        uncertainty.push(rng.unit());
    }
    let mut is_labeled = vec![false; images];
    let mut n = 0;
    let mut i = 0usize;
    while n < labeled && i < images {
        // Labeled mostly from day images: night is 2% of labeled.
        let keep = match conds[i][0] {
            2 => rng.unit() < 0.02 / 0.2,
            _ => true,
        };
        if keep {
            is_labeled[i] = true;
            n += 1;
        }
        i += 1;
    }
    let key_value = |img: usize, k: usize| -> (String, String) {
        match k {
            0 => ("light".into(), lights[conds[img][0] as usize].into()),
            1 => ("weather".into(), weathers[conds[img][1] as usize].into()),
            _ => ("camera".into(), format!("cam{:02}", conds[img][2])),
        }
    };
    println!("generated {images} images ({labeled} labeled), 3 condition keys, {DIM}-d embeddings");

    // Baseline: sort the uncertainty scores.
    let t = Instant::now();
    let mut sorted = uncertainty.clone();
    sorted.sort_by(f32::total_cmp);
    let baseline = t.elapsed().as_secs_f64();

    // Coverage table from per-image value ids.
    let t = Instant::now();
    let mut counts_by_id = vec![(0u64, 0u64); 3 + 4 + 20];
    for img in 0..images {
        let ids = [conds[img][0] as usize, 3 + conds[img][1] as usize, 7 + conds[img][2] as usize];
        for id in ids {
            counts_by_id[id].0 += 1;
            if is_labeled[img] {
                counts_by_id[id].1 += 1;
            }
        }
    }
    let mut counts: BTreeMap<(String, String), ValueCounts> = BTreeMap::new();
    for (id, (pool, lab)) in counts_by_id.iter().enumerate() {
        let kv = if id < 3 {
            ("light".to_string(), lights[id].to_string())
        } else if id < 7 {
            ("weather".to_string(), weathers[id - 3].to_string())
        } else {
            ("camera".to_string(), format!("cam{:02}", id - 7))
        };
        counts.insert(kv, ValueCounts { pool: *pool, labeled: *lab, ..ValueCounts::default() });
    }
    let rows = coverage::coverage(&counts, &[]);
    let coverage_s = t.elapsed().as_secs_f64();

    // Labeled embeddings (generated outside the timing: in the product they are read).
    let labeled_ids: Vec<usize> = (0..images).filter(|&i| is_labeled[i]).collect();
    let mut labeled_data = Vec::with_capacity(labeled_ids.len() * DIM);
    for &id in &labeled_ids {
        labeled_data.extend(embedding(id as u64, &centers));
    }
    let labeled_emb = Embeddings::new(DIM, labeled_data)?;
    let cand_ids: Vec<usize> = (0..images).filter(|&i| !is_labeled[i]).collect();

    // Full recomputation.
    let weights = Weights::default();
    let t = Instant::now();
    let cand_u: Vec<f32> = cand_ids.iter().map(|&i| uncertainty[i]).collect();
    let ranks = percentile_ranks(&cand_u);
    let gaps = Gaps::new(&rows);
    let candidates: Vec<Candidate> = cand_ids
        .iter()
        .zip(&ranks)
        .map(|(&img, &rank)| Candidate {
            id: img as i64,
            uncertainty: Some(UncertaintySignals {
                score: uncertainty[img],
                rank,
                entropy_max: uncertainty[img],
                tta_disagreement: None,
                missed_objects: 0,
                missed_score: 0.0,
            }),
            conditions: (0..3).map(|k| key_value(img, k)).collect(),
        })
        .collect();
    let mut comps: Vec<queue::Components> = candidates.iter().map(|c| queue::components(c, &gaps)).collect();
    let prelim: Vec<f32> = comps.iter().map(|c| queue::preliminary_score(c, &weights)).collect();
    let short = queue::shortlist(&prelim, (batch * 20).max(2_000));
    let mut short_data = Vec::with_capacity(short.len() * DIM);
    for &s in &short {
        short_data.extend(embedding(cand_ids[s] as u64, &centers));
    }
    let short_emb = Embeddings::new(DIM, short_data)?.normalized();
    let index = NearestLabeled::build(&labeled_emb.normalized(), &IvfParams::default());
    let distances = index.min_distances(&short_emb)?;
    let nov = queue::novelty(&distances);
    for (k, &s) in short.iter().enumerate() {
        comps[s].diversity = nov[k];
        comps[s].nearest_labeled_distance = Some(distances[k]);
    }
    let w: Vec<f32> = short.iter().map(|&s| queue::final_score(&comps[s], &weights)).collect();
    let picks = k_center_greedy(&short_emb, &distances, batch, Some(&w));
    let items: Vec<Vec<String>> = picks.iter().map(|&p| queue::reasons(&comps[short[p]], &weights)).collect();
    let full_s = t.elapsed().as_secs_f64();
    let night_picks = picks.iter().filter(|&&p| conds[cand_ids[short[p]]][0] == 2).count() as f64
        / picks.len().max(1) as f64;

    // Incremental: the state built once (not timed), then one newly labeled image.
    let shortlist = (short.clone(), short_emb.clone(), distances.clone());
    let mut state = QueueState::new(candidates, counts, vec![], weights, Some(shortlist));
    let first = picks.first().map(|&p| cand_ids[short[p]]).unwrap_or(0);
    let t = Instant::now();
    state.on_labeled(first as i64, Some(&embedding(first as u64, &centers))).map_err(anyhow::Error::msg)?;
    let top = state.top(batch);
    let incremental_s = t.elapsed().as_secs_f64();

    let steps = vec![
        Step {
            step: "baseline: sort 1M uncertainty scores",
            seconds: baseline,
            ratio_to_baseline: 1.0,
            target_s: None,
            met: None,
        },
        Step {
            step: "coverage table (3 keys, 27 values)",
            seconds: coverage_s,
            ratio_to_baseline: coverage_s / baseline,
            target_s: Some(0.2),
            met: Some(coverage_s < 0.2),
        },
        Step {
            step: "full queue recomputation, batch of 1,000",
            seconds: full_s,
            ratio_to_baseline: full_s / baseline,
            target_s: Some(5.0),
            met: Some(full_s < 5.0),
        },
        Step {
            step: "incremental update after one labeled image (+ best 1,000)",
            seconds: incremental_s,
            ratio_to_baseline: incremental_s / baseline,
            target_s: Some(0.05),
            met: Some(incremental_s < 0.05),
        },
    ];
    if json {
        println!(
            "{}",
            serde_json::json!({
                "images": images, "labeled": labeled, "batch": batch, "dim": DIM,
                "night_share_of_picks": night_picks, "steps": steps,
                "first_reasons": items.first(), "top_after_update": top.len(),
            })
        );
    } else {
        for s in &steps {
            println!(
                "  {:<62} {:>8.3} s {:>8.2}x {}",
                s.step,
                s.seconds,
                s.ratio_to_baseline,
                s.met.map_or(String::new(), |m| if m { "met".into() } else { "NOT met".into() })
            );
        }
        println!(
            "  night share of the picked batch: {:.0}% (2% of labeled, 20% of pool)",
            night_picks * 100.0
        );
        if let Some(r) = items.first() {
            println!("  first pick's reasons: {}", r.join(" · "));
        }
    }
    Ok(())
}
