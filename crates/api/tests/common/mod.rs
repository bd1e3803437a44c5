//! Setup shared by the API's integration tests.

use std::path::Path;
use std::sync::Arc;

use lacuna_api::{CATALOG_FILE, FixedClock, Project};
use lacuna_catalog::{Catalog, SyntheticRanking};

pub const NOW: i64 = 1_700_000_000;

/// A project in `dir` of `images` generated image rows and one generated pre-labeling run over
/// them (one box per present image, 3 classes, nothing labeled).
pub fn pre_labeled_project(dir: &Path, images: u64) -> Project {
    let mut catalog = Catalog::create(&dir.join(CATALOG_FILE)).expect("catalog");
    let root = catalog.upsert_root("/data", NOW).expect("root");
    catalog.insert_synthetic_images(root, images, 3, NOW).expect("images");
    let spec = SyntheticRanking {
        seed: 3,
        dim: 8,
        clusters: 4,
        labeled: 0,
        night_share: 0.2,
        night_labeled_share: 0.0,
        classes: 3,
    };
    catalog.insert_synthetic_ranking(&spec, NOW).expect("run");
    drop(catalog);
    Project::open(dir, Arc::new(FixedClock(NOW))).expect("open")
}
