//! Proof the queue works: in a generated pool where dark images are 20% of the pool but 2% of
//! the labeled set, the first 100 picks move the labeled share of dark images clearly toward
//! the target (the pool's share), while random picks do not.

use std::collections::BTreeMap;

use lacuna_select::coverage::{ValueCounts, coverage};
use lacuna_select::queue::{self, Candidate, Gaps, UncertaintySignals, Weights};

/// A tiny deterministic generator (xorshift), so the test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

struct Pool {
    dark: Vec<bool>,
    labeled: Vec<bool>,
    uncertainty: Vec<f32>,
}

fn generate() -> Pool {
    let n = 10_000;
    let mut rng = Rng(0x5eed);
    let dark: Vec<bool> = (0..n).map(|i| i % 5 == 0).collect(); // 20%
    // 1,000 labeled images, 2% of them dark.
    let mut labeled = vec![false; n];
    let (mut dark_labeled, mut light_labeled) = (0, 0);
    for i in 0..n {
        if dark[i] && dark_labeled < 20 {
            labeled[i] = true;
            dark_labeled += 1;
        } else if !dark[i] && light_labeled < 980 && i % 3 == 1 {
            labeled[i] = true;
            light_labeled += 1;
        }
    }
    // The model is about as unsure on dark images as on others (so only coverage tells them
    // apart): the test isolates the coverage signal.
    let uncertainty = (0..n).map(|_| rng.unit()).collect();
    Pool { dark, labeled, uncertainty }
}

fn dark_share(pool: &Pool, picks: &[usize]) -> f64 {
    let mut labeled: Vec<usize> = (0..pool.dark.len()).filter(|&i| pool.labeled[i]).collect();
    labeled.extend_from_slice(picks);
    labeled.iter().filter(|&&i| pool.dark[i]).count() as f64 / labeled.len() as f64
}

/// Picks `k` images one at a time, recomputing coverage after each (the incremental queue).
fn queue_picks(pool: &Pool, k: usize, weights: &Weights) -> Vec<usize> {
    let n = pool.dark.len();
    let value = |i: usize| if pool.dark[i] { "night" } else { "day" };
    let mut labeled = pool.labeled.clone();
    let mut picks = Vec::new();
    let ranks = lacuna_select::uncertainty::percentile_ranks(&pool.uncertainty);
    for _ in 0..k {
        let mut counts: BTreeMap<(String, String), ValueCounts> = BTreeMap::new();
        for (i, is_labeled) in labeled.iter().enumerate() {
            let c = counts.entry(("light".to_string(), value(i).to_string())).or_default();
            c.pool += 1;
            if *is_labeled {
                c.labeled += 1;
            }
        }
        let gaps = Gaps::new(&coverage(&counts, &[]));
        let best = (0..n)
            .filter(|&i| !labeled[i])
            .map(|i| {
                let cand = Candidate {
                    id: i as i64,
                    uncertainty: Some(UncertaintySignals {
                        score: pool.uncertainty[i],
                        rank: ranks[i],
                        entropy_max: 0.0,
                        tta_disagreement: None,
                        missed_objects: 0,
                        missed_score: 0.0,
                    }),
                    conditions: vec![("light".to_string(), value(i).to_string())],
                };
                (i, queue::final_score(&queue::components(&cand, &gaps), weights))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i)
            .expect("candidates left");
        labeled[best] = true;
        picks.push(best);
    }
    picks
}

#[test]
fn first_100_picks_move_the_dark_share_toward_its_target_and_random_does_not() {
    let pool = generate();
    let before = dark_share(&pool, &[]);
    assert!((before - 0.02).abs() < 1e-9, "setup: {before}");

    let weights = Weights { uncertainty: 1.0, coverage: 1.0, diversity: 0.0 };
    let picks = queue_picks(&pool, 100, &weights);
    let after = dark_share(&pool, &picks);

    let mut rng = Rng(42);
    let unlabeled: Vec<usize> = (0..pool.dark.len()).filter(|&i| !pool.labeled[i]).collect();
    let mut random_shares = Vec::new();
    for _ in 0..20 {
        let mut chosen = Vec::new();
        while chosen.len() < 100 {
            let i = unlabeled[(rng.next() % unlabeled.len() as u64) as usize];
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        random_shares.push(dark_share(&pool, &chosen));
    }
    let random = random_shares.iter().sum::<f64>() / random_shares.len() as f64;
    println!(
        "dark share of labeled: before {:.1}%, after 100 queue picks {:.1}%, after 100 random picks {:.1}% (mean of 20); \
         target 20%",
        before * 100.0,
        after * 100.0,
        random * 100.0
    );
    // 100 picks can raise the share from 2% (20 of 1,000) to at most 10.9% (120 of 1,100);
    // random picking adds ~22 dark images (pool share of the unlabeled) → ~3.8%.
    assert!(after >= 0.09, "the queue should pick mostly dark images: {after}");
    assert!(random < 0.05, "random picking barely moves it: {random}");
    assert!(after - before > 3.0 * (random - before), "queue {after} vs random {random}");
}
