//! Diversity: embeddings, the nearest-labeled index (IVF against brute force) and k-center greedy.
//!
//! The `timing_*` tests are ignored; run them in release to see the figures:
//! `cargo test -p lacuna-select --release --test diversity -- --ignored --nocapture`.

use std::time::Instant;

use lacuna_select::diversity::{
    DiversityError, Embeddings, IvfParams, NearestLabeled, Neighbor, brute_force_nearest, k_center_greedy,
    k_center_greedy_picks, update_min_distances,
};

// ---------------------------------------------------------------------------------------------
// Seeded synthetic data.

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn normal(&mut self) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// A mixture of clusters, each a low-dimensional patch (`intrinsic` random directions around a
/// random centre) plus a little isotropic noise: roughly how backbone embeddings of a photo
/// collection look (scenes and objects form clusters, each with few degrees of freedom). Cluster
/// sizes vary (weights ∝ 1/sqrt(rank)) and so do their spreads.
struct Mixture {
    dim: usize,
    centres: Vec<f32>,
    bases: Vec<f32>,
    spreads: Vec<f32>,
    cumulative: Vec<f32>,
    intrinsic: usize,
}

impl Mixture {
    fn new(dim: usize, clusters: usize, intrinsic: usize, seed: u64) -> Self {
        Self::with_spread(dim, clusters, intrinsic, 0.15, seed)
    }

    /// `spread`: scale of the within-cluster offsets (0.15 to 0.35 times it per cluster), relative
    /// to the distance between centres.
    fn with_spread(dim: usize, clusters: usize, intrinsic: usize, spread: f32, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let centres = (0..clusters * dim).map(|_| rng.normal()).collect();
        let bases = (0..clusters * intrinsic * dim).map(|_| rng.normal()).collect();
        let spreads = (0..clusters).map(|_| spread * (1.0 + 1.33 * rng.uniform())).collect();
        let mut cumulative = Vec::with_capacity(clusters);
        let mut total = 0.0;
        for c in 0..clusters {
            total += 1.0 / ((c + 1) as f32).sqrt();
            cumulative.push(total);
        }
        for c in &mut cumulative {
            *c /= total;
        }
        Self { dim, centres, bases, spreads, cumulative, intrinsic }
    }

    fn sample(&self, n: usize, seed: u64) -> Embeddings {
        let mut rng = Rng(seed);
        let dim = self.dim;
        let mut data = Vec::with_capacity(n * dim);
        let mut z = vec![0.0f32; self.intrinsic];
        for _ in 0..n {
            let u = rng.uniform();
            let c = self.cumulative.partition_point(|&x| x < u).min(self.cumulative.len() - 1);
            for v in &mut z {
                *v = rng.normal() * self.spreads[c];
            }
            let start = data.len();
            data.extend_from_slice(&self.centres[c * dim..(c + 1) * dim]);
            for (k, &zk) in z.iter().enumerate() {
                let b = &self.bases[(c * self.intrinsic + k) * dim..(c * self.intrinsic + k + 1) * dim];
                for (x, &bk) in data[start..].iter_mut().zip(b) {
                    *x += zk * bk;
                }
            }
            for x in &mut data[start..] {
                *x += 0.05 * rng.normal();
            }
        }
        Embeddings::new(dim, data).expect("whole rows")
    }
}

fn random_unit(dim: usize, rng: &mut Rng) -> Vec<f32> {
    let v: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// Distance between normalised vectors, in f64 (the reference).
fn reference_distance(a: &[f32], b: &[f32]) -> f64 {
    let na = a.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    let nb = b.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) / na - f64::from(y) / nb;
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

struct Quality {
    recall: f64,
    max_error: f32,
    mean_error: f32,
}

fn compare(approx: &[Option<Neighbor>], exact: &[Option<Neighbor>]) -> Quality {
    let (mut hits, mut max_error, mut sum_error) = (0usize, 0.0f32, 0.0f32);
    for (a, e) in approx.iter().zip(exact) {
        let (a, e) = (a.expect("non-empty index"), e.expect("non-empty index"));
        let err = a.distance - e.distance;
        assert!(err >= -1e-5, "an IVF hit closer than the exact nearest: {a:?} vs {e:?}");
        if a.index == e.index || err.abs() <= 1e-6 {
            hits += 1;
        }
        max_error = max_error.max(err);
        sum_error += err.max(0.0);
    }
    Quality {
        recall: hits as f64 / approx.len() as f64,
        max_error,
        mean_error: sum_error / approx.len() as f32,
    }
}

// ---------------------------------------------------------------------------------------------
// Embeddings.

#[test]
fn embeddings_check_their_shape() {
    assert_eq!(Embeddings::new(0, vec![]), Err(DiversityError::ZeroDim));
    assert_eq!(Embeddings::new(3, vec![1.0; 7]), Err(DiversityError::Ragged { dim: 3, len: 7 }));
    let mut e = Embeddings::new(3, vec![3.0, 0.0, 4.0, 0.0, 0.0, 0.0]).expect("two rows");
    assert_eq!((e.len(), e.dim(), e.is_empty()), (2, 3, false));
    assert_eq!(e.row(1), &[0.0, 0.0, 0.0]);
    assert_eq!(e.push(&[1.0, 2.0]), Err(DiversityError::DimMismatch { expected: 3, got: 2 }));
    e.push(&[f32::NAN, 1.0, 1.0]).expect("right length");
    let n = e.normalized();
    assert_eq!(n.row(0), &[0.6, 0.0, 0.8]);
    assert_eq!(n.row(1), &[0.0, 0.0, 0.0], "zero rows stay zero");
    assert_eq!(n.row(2), &[0.0, 0.0, 0.0], "non-finite rows become zero");
    assert_eq!(e.select(&[2, 0]).row(1), e.row(0));
    assert!(Embeddings::new(4, vec![]).expect("empty").is_empty());
}

// ---------------------------------------------------------------------------------------------
// NearestLabeled.

#[test]
fn exact_index_matches_reference_distances() {
    let mut rng = Rng(7);
    let labeled = Embeddings::new(16, (0..300 * 16).map(|_| rng.normal()).collect()).expect("rows");
    let queries = Embeddings::new(16, (0..50 * 16).map(|_| rng.normal() * 3.0).collect()).expect("rows");
    let index = NearestLabeled::build(&labeled, &IvfParams::default());
    assert!(index.is_exact());
    let got = index.nearest_many(&queries).expect("same dim");
    assert_eq!(got, brute_force_nearest(&labeled, &queries).expect("same dim"));
    for (q, n) in queries.rows().zip(&got) {
        let n = n.expect("non-empty");
        let best = labeled.rows().map(|l| reference_distance(q, l)).fold(f64::INFINITY, f64::min);
        assert!((f64::from(n.distance) - best).abs() < 1e-5, "{} vs {best}", n.distance);
        assert!((f64::from(n.distance) - reference_distance(q, labeled.row(n.index))).abs() < 1e-5);
    }
}

#[test]
fn ivf_recall_against_brute_force_on_clustered_data() {
    let mixture = Mixture::new(64, 60, 6, 1);
    let labeled = mixture.sample(20_000, 2);
    let queries = mixture.sample(1_000, 3);
    let index = NearestLabeled::build(&labeled, &IvfParams::default());
    assert!(!index.is_exact());
    assert_eq!(index.n_lists(), 283);
    let exact = brute_force_nearest(&labeled, &queries).expect("same dim");
    let q = compare(&index.nearest_many(&queries).expect("same dim"), &exact);
    println!(
        "20k labeled, 64-d, nprobe {}: recall@1 {:.3}, max error {:.4}, mean error {:.5}",
        index.nprobe(),
        q.recall,
        q.max_error,
        q.mean_error
    );
    assert!(q.recall >= 0.95, "recall@1 {}", q.recall);
    assert!(q.mean_error < 0.01, "mean error {}", q.mean_error);

    // Probing every list is exact.
    let mut all = index.clone();
    all.set_nprobe(usize::MAX);
    let q = compare(&all.nearest_many(&queries).expect("same dim"), &exact);
    assert_eq!(q.recall, 1.0);
    assert!(q.max_error.abs() < 1e-6);
}

#[test]
fn index_is_deterministic_and_single_queries_match_batches() {
    let mixture = Mixture::new(32, 20, 4, 11);
    let labeled = mixture.sample(5_000, 12);
    let queries = mixture.sample(200, 13);
    let a = NearestLabeled::build(&labeled, &IvfParams::default());
    let b = NearestLabeled::build(&labeled, &IvfParams::default());
    let batch = a.nearest_many(&queries).expect("same dim");
    assert_eq!(batch, b.nearest_many(&queries).expect("same dim"));
    for (q, n) in queries.rows().zip(&batch) {
        assert_eq!(a.nearest(q).expect("same dim"), *n);
    }
    let d = a.min_distances(&queries).expect("same dim");
    assert_eq!(d, batch.iter().map(|n| n.expect("non-empty").distance).collect::<Vec<_>>());
}

#[test]
fn add_then_query_finds_the_added_point() {
    let mixture = Mixture::new(32, 20, 4, 21);
    let labeled = mixture.sample(5_000, 22);
    let mut rng = Rng(23);
    for mut index in [NearestLabeled::build(&labeled, &IvfParams::default()), NearestLabeled::exact(&labeled)]
    {
        let v: Vec<f32> = random_unit(32, &mut rng).into_iter().map(|x| x * 7.0).collect();
        let before = index.nearest(&v).expect("same dim").expect("non-empty");
        assert!(before.distance > 0.5);
        let id = index.add(&v).expect("same dim");
        assert_eq!((id, index.len()), (5_000, 5_001));
        let after = index.nearest(&v).expect("same dim").expect("non-empty");
        assert_eq!(after.index, id);
        assert!(after.distance < 1e-6, "{}", after.distance);
        // Scale does not matter: distances are between normalised vectors.
        let half: Vec<f32> = v.iter().map(|x| x * 0.5).collect();
        assert_eq!(index.nearest(&half).expect("same dim").expect("non-empty").index, id);
    }
}

#[test]
fn empty_index_then_add() {
    let empty = Embeddings::new(4, Vec::new()).expect("empty");
    let mut index = NearestLabeled::build(&empty, &IvfParams::default());
    assert!(index.is_empty() && index.is_exact());
    let q = Embeddings::new(4, vec![1.0, 0.0, 0.0, 0.0]).expect("one row");
    assert_eq!(index.nearest_many(&q).expect("same dim"), vec![None]);
    assert_eq!(index.min_distances(&q).expect("same dim"), vec![f32::INFINITY]);
    assert_eq!(index.add(&[0.0, 2.0, 0.0, 0.0]), Ok(0));
    let n = index.nearest(q.row(0)).expect("same dim").expect("one labeled");
    assert_eq!(n.index, 0);
    assert!((n.distance - std::f32::consts::SQRT_2).abs() < 1e-6);
    assert_eq!(index.add(&[1.0]), Err(DiversityError::DimMismatch { expected: 4, got: 1 }));
    assert!(index.nearest(&[1.0]).is_err());
}

#[test]
fn rebuild_advice() {
    let mixture = Mixture::new(8, 5, 2, 31);
    let params = IvfParams { exact_below: 100, ..IvfParams::default() };
    let mut small = NearestLabeled::build(&mixture.sample(99, 32), &params);
    assert!(small.is_exact() && !small.rebuild_advised());
    small.add(&[1.0; 8]).expect("same dim");
    assert!(small.rebuild_advised());
    let big = mixture.sample(400, 33);
    let mut ivf = NearestLabeled::build(&big, &params);
    assert_eq!(ivf.n_lists(), 40);
    for row in big.rows() {
        ivf.add(row).expect("same dim");
    }
    assert!(!ivf.rebuild_advised());
    ivf.add(big.row(0)).expect("same dim");
    assert!(ivf.rebuild_advised());
}

#[test]
fn update_min_distances_matches_the_reference() {
    let mut rng = Rng(41);
    let candidates = Embeddings::new(24, (0..500 * 24).map(|_| rng.normal()).collect()).expect("rows");
    let v: Vec<f32> = (0..24).map(|_| rng.normal()).collect();
    let mut d = vec![1.2f32; 500];
    update_min_distances(&candidates, &mut d, &v).expect("same dim");
    for (row, &got) in candidates.rows().zip(&d) {
        let expected = reference_distance(row, &v).min(1.2);
        assert!((f64::from(got) - expected).abs() < 1e-4, "{got} vs {expected}");
    }
    assert!(update_min_distances(&candidates, &mut d[..3], &v).is_err());
}

// ---------------------------------------------------------------------------------------------
// k-center greedy.

/// `per` points tightly around each of `centres` (unit vectors), interleaved.
fn tight_clusters(centres: &[Vec<f32>], per: usize, rng: &mut Rng) -> Embeddings {
    let dim = centres[0].len();
    let mut data = Vec::new();
    for _ in 0..per {
        for c in centres {
            data.extend(c.iter().map(|&x| x + 0.01 * rng.normal()));
        }
    }
    Embeddings::new(dim, data).expect("rows")
}

#[test]
fn k_center_picks_one_per_cluster_first() {
    let mut rng = Rng(51);
    let centres: Vec<Vec<f32>> = (0..3).map(|_| random_unit(32, &mut rng)).collect();
    let candidates = tight_clusters(&centres, 30, &mut rng);
    let cluster = |i: usize| i % 3;

    // Nothing labeled.
    let picks = k_center_greedy(&candidates, &vec![f32::INFINITY; 90], 5, None);
    assert_eq!(picks[0], 0, "all infinitely far: the lowest index");
    let mut first: Vec<usize> = picks[..3].iter().map(|&i| cluster(i)).collect();
    first.sort_unstable();
    assert_eq!(first, vec![0, 1, 2]);

    // Cluster 1 is already labeled: clusters 0 and 2 first; after that, everything left is a
    // near-duplicate of something labeled or picked.
    let labeled = Embeddings::new(32, centres[1].clone()).expect("one row");
    let initial = NearestLabeled::exact(&labeled).min_distances(&candidates).expect("same dim");
    let picks = k_center_greedy_picks(&candidates, &initial, 3, None);
    let mut first: Vec<usize> = picks[..2].iter().map(|p| cluster(p.index)).collect();
    first.sort_unstable();
    assert_eq!(first, vec![0, 2]);
    assert!(picks[0].distance > 0.5 && picks[1].distance > 0.5);
    assert!(picks[2].distance < 0.2, "third pick is a near-duplicate: {:?}", picks[2]);
}

#[test]
fn weights_change_the_order() {
    // Labeled: e0. Candidates: e1 and e2, both at sqrt(2) from e0 and from each other; and a
    // point at 60° from e0 (distance 1).
    let e = |i: usize| {
        let mut v = vec![0.0f32; 4];
        v[i] = 1.0;
        v
    };
    let near = vec![0.5, 0.0, 0.0, 0.75f32.sqrt()];
    let candidates = Embeddings::new(4, [e(1), e(2), near].concat()).expect("rows");
    let labeled = Embeddings::new(4, e(0)).expect("one row");
    let initial = NearestLabeled::exact(&labeled).min_distances(&candidates).expect("same dim");
    assert!((initial[2] - 1.0).abs() < 1e-6);

    // Unweighted: farthest first, ties to the lowest index.
    assert_eq!(k_center_greedy(&candidates, &initial, 3, None), vec![0, 1, 2]);
    // Equally far: the higher weight wins.
    assert_eq!(k_center_greedy(&candidates, &initial, 1, Some(&[1.0, 1.5, 1.0])), vec![1]);
    // Distance × weight: a very uncertain nearer image (1 × 1.5) beats a far certain one
    // (1.414 × 1), but not a far one about as uncertain (1.414 × 1.2).
    let picks = k_center_greedy_picks(&candidates, &initial, 3, Some(&[1.0, 1.2, 1.5]));
    assert_eq!(picks.iter().map(|p| p.index).collect::<Vec<_>>(), vec![1, 2, 0]);
    assert!((picks[0].gain - std::f32::consts::SQRT_2 * 1.2).abs() < 1e-5);
    // Zero weight: only after everything else.
    assert_eq!(k_center_greedy(&candidates, &initial, 3, Some(&[0.0, 1.0, 1.0])), vec![1, 2, 0]);
    // Nothing labeled: the highest weight first.
    assert_eq!(k_center_greedy(&candidates, &[f32::INFINITY; 3], 1, Some(&[1.0, 1.0, 2.0])), vec![2]);
}

#[test]
fn k_center_never_picks_twice_and_handles_duplicates() {
    let candidates = Embeddings::new(2, vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]).expect("rows");
    let picks = k_center_greedy(&candidates, &[f32::INFINITY; 4], 10, None);
    assert_eq!(picks, vec![0, 2, 1, 3], "duplicates of a pick are at distance 0: lowest index");
    assert!(k_center_greedy(&candidates, &[0.0; 4], 0, None).is_empty());
    let none = Embeddings::new(2, vec![]).expect("empty");
    assert!(k_center_greedy(&none, &[], 3, None).is_empty());
}

/// The textbook algorithm in f64: update every candidate after each pick.
fn naive_k_center(candidates: &Embeddings, initial: &[f32], k: usize, weights: &[f32]) -> Vec<usize> {
    let n = candidates.len();
    let mut min: Vec<f64> = initial.iter().map(|&d| f64::from(d)).collect();
    let mut picks: Vec<usize> = Vec::new();
    while picks.len() < k.min(n) {
        let mut best = usize::MAX;
        let mut best_gain = f64::NEG_INFINITY;
        for i in 0..n {
            let g = min[i] * f64::from(weights[i]);
            if !picks.contains(&i) && g > best_gain {
                best = i;
                best_gain = g;
            }
        }
        picks.push(best);
        for (m, row) in min.iter_mut().zip(candidates.rows()) {
            *m = m.min(reference_distance(row, candidates.row(best)));
        }
    }
    picks
}

#[test]
fn lazy_k_center_matches_the_textbook_algorithm() {
    let mixture = Mixture::new(32, 12, 4, 61);
    let candidates = mixture.sample(1_500, 62);
    let labeled = mixture.sample(3_000, 63);
    let initial = brute_force_nearest(&labeled, &candidates)
        .expect("same dim")
        .into_iter()
        .map(|n| n.expect("non-empty").distance)
        .collect::<Vec<_>>();
    let mut rng = Rng(64);
    let weights: Vec<f32> = (0..candidates.len()).map(|_| 0.5 + rng.uniform()).collect();
    let k = 150;
    let ones = vec![1.0; candidates.len()];
    assert_eq!(
        k_center_greedy(&candidates, &initial, k, None),
        naive_k_center(&candidates, &initial, k, &ones)
    );
    assert_eq!(
        k_center_greedy(&candidates, &initial, k, Some(&weights)),
        naive_k_center(&candidates, &initial, k, &weights)
    );
}

// ---------------------------------------------------------------------------------------------
// Timings (release): `cargo test -p lacuna-select --release --test diversity -- --ignored --nocapture
// --test-threads=1`

/// Well separated clusters of few degrees of freedom (500 clusters, 12 intrinsic dimensions).
fn clustered(dim: usize) -> Mixture {
    Mixture::with_spread(dim, 500, 12, 0.15, 2024)
}

/// Wider clusters of more degrees of freedom (500 clusters, 24 intrinsic dimensions, twice the
/// spread): nearest neighbours are far (0.85 on average against 0.47) and IVF needs more probes.
fn diffuse(dim: usize) -> Mixture {
    Mixture::with_spread(dim, 500, 24, 0.3, 2024)
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn timing_diversity_100k_labeled_20k_candidates() {
    let dim = 256;
    let mixture = clustered(dim);
    let labeled = mixture.sample(100_000, 1);
    let candidates = mixture.sample(20_000, 2);
    println!("100k labeled, 20k candidates, {dim}-d, clustered");

    let t = Instant::now();
    let index = NearestLabeled::build(&labeled, &IvfParams::default());
    let build = t.elapsed();
    let sizes = index.list_sizes();
    println!(
        "build IVF: {build:.3?} ({} lists, sizes {}..={}, mean {})",
        index.n_lists(),
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0),
        labeled.len() / sizes.len()
    );

    let t = Instant::now();
    let found = index.nearest_many(&candidates).expect("same dim");
    let query = t.elapsed();
    println!("query 20k candidates, nprobe {}: {query:.3?}", index.nprobe());
    for nprobe in [8, 32] {
        let mut other = index.clone();
        other.set_nprobe(nprobe);
        let t = Instant::now();
        let _ = other.nearest_many(&candidates).expect("same dim");
        println!("query 20k candidates, nprobe {nprobe}: {:.3?}", t.elapsed());
    }

    let initial: Vec<f32> = found.iter().map(|n| n.expect("non-empty").distance).collect();
    let mut rng = Rng(3);
    let weights: Vec<f32> = (0..candidates.len()).map(|_| 0.5 + rng.uniform()).collect();
    let t = Instant::now();
    let picks = k_center_greedy(&candidates, &initial, 1_000, None);
    let pick = t.elapsed();
    println!("k-center greedy, 1,000 picks of 20k: {pick:.3?}");
    let t = Instant::now();
    let weighted = k_center_greedy(&candidates, &initial, 1_000, Some(&weights));
    println!("k-center greedy, 1,000 weighted picks of 20k: {:.3?}", t.elapsed());
    assert_eq!((picks.len(), weighted.len()), (1_000, 1_000));
    println!("full recomputation (build + query + pick): {:.3?}", build + query + pick);

    // Incremental: one newly labeled image.
    let mut index = index;
    let v = mixture.sample(1, 4);
    let t = Instant::now();
    index.add(v.row(0)).expect("same dim");
    println!("add one labeled image: {:.1?}", t.elapsed());
    let t = Instant::now();
    let _ = index.nearest(candidates.row(0)).expect("same dim");
    println!("one query: {:.1?}", t.elapsed());
    let mut min = initial.clone();
    let t = Instant::now();
    update_min_distances(&candidates, &mut min, v.row(0)).expect("same dim");
    println!("update 20k candidates' min distances: {:.2?}", t.elapsed());
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn timing_ivf_recall_by_nprobe() {
    let dim = 256;
    for (name, mixture) in [("clustered", clustered(dim)), ("diffuse", diffuse(dim))] {
        let labeled = mixture.sample(100_000, 1);
        let queries = mixture.sample(2_000, 2);
        let t = Instant::now();
        let exact = brute_force_nearest(&labeled, &queries).expect("same dim");
        let mean = exact.iter().map(|n| n.expect("non-empty").distance).sum::<f32>() / exact.len() as f32;
        println!(
            "{name}: 100k labeled, 2,000 queries, mean nearest distance {mean:.3}; brute force {:.2?}",
            t.elapsed()
        );
        let index = NearestLabeled::build(&labeled, &IvfParams::default());
        for nprobe in [1, 2, 4, 8, 16, 32, 64] {
            let mut index = index.clone();
            index.set_nprobe(nprobe);
            let t = Instant::now();
            let approx = index.nearest_many(&queries).expect("same dim");
            let elapsed = t.elapsed();
            let q = compare(&approx, &exact);
            println!(
                "  nprobe {nprobe:>2}: recall@1 {:.3}, max error {:.3}, mean error {:.4} ({elapsed:.1?})",
                q.recall, q.max_error, q.mean_error
            );
        }
        let candidates = mixture.sample(20_000, 3);
        let initial = index.min_distances(&candidates).expect("same dim");
        let t = Instant::now();
        let _ = k_center_greedy(&candidates, &initial, 1_000, None);
        println!("  k-center greedy, 1,000 picks of 20k: {:.3?}", t.elapsed());
    }
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn timing_update_min_distances_1m() {
    let dim = 256;
    let pool = clustered(dim).sample(1_000_000, 8);
    let v = clustered(dim).sample(1, 9);
    let mut min = vec![f32::INFINITY; pool.len()];
    update_min_distances(&pool, &mut min, v.row(0)).expect("same dim");
    let t = Instant::now();
    update_min_distances(&pool, &mut min, v.row(0)).expect("same dim");
    println!("update 1M candidates' min distances after one new label: {:.1?}", t.elapsed());
}
