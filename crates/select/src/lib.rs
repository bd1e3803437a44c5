//! Lacuna's active learning, as pure functions (no I/O, no catalog): the API crate reads the
//! catalog, calls these, and stores what they return.
//!
//! - [`conditions`]: conditions per image (camera, time of day from the sun's elevation, light
//!   level and weather-like look estimated from image statistics, path rules, sidecar files),
//!   each with its source and confidence, resolved by trust;
//! - [`uncertainty`]: per-image uncertainty from the stored predictions (least confidence,
//!   margin, entropy aggregated over boxes, flip-TTA disagreement, probably-missed objects);
//! - [`diversity`]: distance to the nearest labeled image in embedding space, and k-center
//!   greedy batch selection;
//! - [`coverage`]: per condition value, its share of the pool, of the labeled set and of a
//!   target, a gap score, and the model's confidence there;
//! - [`incremental`]: the queue kept in memory and updated after each labeled image;
//! - [`queue`]: the ranked labeling queue combining the three with weights, with reasons in
//!   plain words and the numbers behind them.

pub mod conditions;
pub mod coverage;
pub mod diversity;
pub mod incremental;
pub mod queue;
pub mod uncertainty;
