//! `ui-project`: the project the UI benchmark (scripts/bench-ui.sh) measures the app on.
//!
//! 100,000 real JPEG files imported through the API the app uses (so every thumbnail, path and
//! probe is real): `large` images of 1920x1080 first (the annotate and review measurements walk
//! them), then the rest as 320x180 pictures in folders of 1,000 (the catalog grid's bulk).
//! The large images get a generated pre-labeling run (one box each with class probabilities and
//! an embedding, conditions; [`Catalog::insert_synthetic_ranking`]), which puts them at the head
//! of the labeling and review queues; the small ones stay un-pre-labeled. One large image gets
//! 1,000 human boxes (the drag measurement). Classes `class0`..`class9` match the run's. Last,
//! one 8192x6144 (50 megapixel) picture (the large-image measurement).
//!
//! Made once into `out` (a marker file records the sizes); files already generated are kept.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use lacuna_api::{AnnotationInput, CATALOG_FILE, ImageId, ImageQuery, ImportRequest, Project, SystemClock};
use lacuna_catalog::{Catalog, SyntheticRanking};
use lacuna_core::{BoxXyxy, Geometry};

use crate::synth::{Rng, write_jpegs};

const SEED: u64 = 20_261_123;
const SMALL_PER_FOLDER: usize = 1_000;
const CLASSES: usize = 10;
const AUTHOR: &str = "bench";

/// What to make.
#[derive(Debug, Clone)]
pub struct Spec {
    pub images: usize,
    pub large: usize,
    pub boxes: usize,
}

/// Makes the project in `out/project.lacuna` unless the marker says it is there.
pub fn run(out: &Path, spec: &Spec) -> anyhow::Result<()> {
    anyhow::ensure!(spec.large <= spec.images, "--large must not exceed --images");
    let marker = out.join(format!("made-{}-{}-{}", spec.images, spec.large, spec.boxes));
    let project_dir = out.join("project.lacuna");
    if marker.exists() {
        add_huge(out, &project_dir)?;
        eprintln!("ui-project: {} is ready", project_dir.display());
        return Ok(());
    }
    let t = Instant::now();
    let large_dir = out.join("images/large");
    let wrote = write_jpegs(&large_dir, spec.large, 1920, 1080, SEED)?;
    eprintln!("ui-project: {wrote} large JPEGs written ({:.0} s)", t.elapsed().as_secs_f64());
    let small = spec.images - spec.large;
    let folders = small.div_ceil(SMALL_PER_FOLDER);
    for f in 0..folders {
        let n = SMALL_PER_FOLDER.min(small - f * SMALL_PER_FOLDER);
        write_jpegs(&out.join(format!("images/small/set-{f:03}")), n, 320, 180, SEED + 1 + f as u64)?;
    }
    eprintln!("ui-project: {small} small JPEGs ready ({:.0} s)", t.elapsed().as_secs_f64());

    if project_dir.exists() {
        std::fs::remove_dir_all(&project_dir)
            .with_context(|| format!("clearing {}", project_dir.display()))?;
    }
    let clock = Arc::new(SystemClock);
    let project = Project::create(&project_dir, clock.clone())?;
    import(&project, &large_dir)?;
    drop(project);
    {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
        let mut catalog = Catalog::open(&project_dir.join(CATALOG_FILE), now)?;
        catalog.insert_synthetic_ranking(
            &SyntheticRanking {
                seed: SEED,
                dim: 64,
                clusters: 16,
                labeled: (spec.large / 10) as u64,
                night_share: 0.2,
                night_labeled_share: 0.02,
                classes: CLASSES,
            },
            now,
        )?;
    }
    let project = Project::open(&project_dir, clock)?;
    import(&project, &out.join("images/small"))?;
    eprintln!("ui-project: imported ({:.0} s)", t.elapsed().as_secs_f64());
    for c in 0..CLASSES {
        project.create_class(AUTHOR, &format!("class{c}"), None, None)?;
    }
    if spec.boxes > 0 {
        let page = project.list_images(&ImageQuery { limit: Some(1), ..ImageQuery::default() })?;
        let first = page.items.first().context("the project has no images")?;
        add_boxes(&project, ImageId(first.id), first.width_px, first.height_px, spec.boxes)?;
        std::fs::write(out.join("boxes-image"), first.id.to_string())?;
    }
    std::fs::write(&marker, b"")?;
    add_huge(out, &project_dir)?;
    eprintln!("ui-project: {} ready ({:.0} s)", project_dir.display(), t.elapsed().as_secs_f64());
    Ok(())
}

/// One 8192x6144 (50.3 megapixel) photo-like JPEG imported last (the large-image measurement);
/// its id goes to `out/huge-image`.
fn add_huge(out: &Path, project_dir: &Path) -> anyhow::Result<()> {
    let id_file = out.join("huge-image");
    if id_file.exists() {
        return Ok(());
    }
    let dir = out.join("images/huge");
    write_jpegs(&dir, 1, 8192, 6144, SEED ^ 0x50)?;
    let project = Project::open(project_dir, Arc::new(SystemClock))?;
    import(&project, &dir)?;
    let folder = dir.canonicalize().with_context(|| format!("{}", dir.display()))?;
    let page = project
        .list_images(&ImageQuery { folder: Some(folder.display().to_string()), ..ImageQuery::default() })?;
    let huge = page.items.first().context("the 50-megapixel image was not imported")?;
    std::fs::write(id_file, huge.id.to_string())?;
    Ok(())
}

fn import(project: &Project, dir: &Path) -> anyhow::Result<()> {
    let request = ImportRequest { paths: vec![dir.to_path_buf()], ..ImportRequest::default() };
    let summary = project.start_import(request, |_| {})?.wait()?;
    eprintln!(
        "ui-project: imported {}: {} added at {:.0} files/s",
        dir.display(),
        summary.counts.added,
        summary.rate_files_per_s
    );
    Ok(())
}

/// `count` boxes of 16–120 px at seeded places, one undo step.
fn add_boxes(project: &Project, image: ImageId, width: u32, height: u32, count: usize) -> anyhow::Result<()> {
    let mut rng = Rng::new(SEED ^ 0xB0C5);
    let (w, h) = (f64::from(width), f64::from(height));
    let inputs: Vec<AnnotationInput> = (0..count)
        .map(|i| {
            let bw = 16.0 + 104.0 * f64::from(rng.unit());
            let bh = 16.0 + 104.0 * f64::from(rng.unit());
            let x0 = (w - bw) * f64::from(rng.unit());
            let y0 = (h - bh) * f64::from(rng.unit());
            AnnotationInput {
                image,
                class: format!("class{}", i % CLASSES),
                geometry: Geometry::Box(BoxXyxy { x0, y0, x1: x0 + bw, y1: y0 + bh }),
                attributes: Default::default(),
            }
        })
        .collect();
    project.add_annotations(AUTHOR, &inputs)?;
    Ok(())
}
