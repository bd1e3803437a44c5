//! A generated catalog of many images: how fast it opens, pages and counts.

use std::sync::Arc;
use std::time::Instant;

use lacuna_api::{ImageQuery, Project, SystemClock};
use lacuna_catalog::Catalog;
use serde::Serialize;

use crate::median;

#[derive(Debug, Serialize)]
struct Timing {
    what: String,
    /// Rows the measured call returned (pages) or counted.
    rows: u64,
    median_ms: f64,
    target_ms: f64,
}

pub fn run(rows: u64, repeats: usize, json: bool) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("million.lacuna");
    let clock = Arc::new(SystemClock);
    let started = Instant::now();
    {
        let project = Project::create(&dir, clock.clone())?;
        drop(project);
        let mut catalog = Catalog::open(&dir.join(lacuna_api::CATALOG_FILE), 0)?;
        let root = catalog.upsert_root("/bench/images", 0)?;
        catalog.insert_synthetic_images(root, rows, 42, 1_700_000_000)?;
    }
    eprintln!("generated {rows} rows in {:.1} s", started.elapsed().as_secs_f64());

    let mut timings = Vec::new();
    let mut time =
        |what: &str, target_ms: f64, f: &mut dyn FnMut() -> anyhow::Result<u64>| -> anyhow::Result<()> {
            let mut samples = Vec::new();
            let mut rows = 0;
            for _ in 0..repeats {
                let t = Instant::now();
                rows = f()?;
                samples.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            timings.push(Timing { what: what.to_owned(), rows, median_ms: median(samples), target_ms });
            Ok(())
        };
    time("open project", 1000.0, &mut || {
        Project::open(&dir, clock.clone())?;
        Ok(0)
    })?;
    let project = Project::open(&dir, clock.clone())?;
    let status = project.status()?;
    let camera = status.cameras.iter().find_map(|c| c.camera.clone());
    let folder = project.list_images(&ImageQuery { limit: Some(1), ..ImageQuery::default() })?.items[0]
        .path
        .rsplit_once('/')
        .map(|(dir, _)| dir.to_owned());
    let queries: Vec<(&str, ImageQuery)> = vec![
        ("page of 200, no filter", ImageQuery::default()),
        ("page of 200, status=missing", ImageQuery { status: Some("missing".into()), ..Default::default() }),
        ("page of 200, camera", ImageQuery { camera: camera.clone(), ..Default::default() }),
        ("page of 200, folder", ImageQuery { folder: folder.clone(), ..Default::default() }),
        (
            "page of 200, capture day",
            ImageQuery {
                captured_from: Some("2023-03-01".into()),
                captured_before: Some("2023-03-02".into()),
                ..Default::default()
            },
        ),
        ("page of 200, has duplicates", ImageQuery { has_duplicates: Some(true), ..Default::default() }),
        (
            "page of 200, camera + capture month",
            ImageQuery {
                camera,
                captured_from: Some("2023-06".into()),
                captured_before: Some("2023-07".into()),
                ..Default::default()
            },
        ),
    ];
    for (what, query) in queries {
        let query = ImageQuery { limit: Some(200), ..query };
        time(what, 50.0, &mut || Ok(project.list_images(&query)?.items.len() as u64))?;
    }
    let catalog = Catalog::open(&dir.join(lacuna_api::CATALOG_FILE), 0)?;
    time("counts by camera", 200.0, &mut || Ok(catalog.counts_by_camera()?.len() as u64))?;
    time("status (totals + cameras)", 1000.0, &mut || Ok(project.status()?.images))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&timings)?);
    } else {
        println!("catalog benchmark: {rows} images, median of {repeats}");
        for t in &timings {
            println!(
                "  {:<36} {:>9.2} ms  {:>7} rows  (target < {:>5.0} ms: {}, ratio {:.2})",
                t.what,
                t.median_ms,
                t.rows,
                t.target_ms,
                if t.median_ms < t.target_ms { "met" } else { "NOT met" },
                t.median_ms / t.target_ms
            );
        }
    }
    Ok(())
}
