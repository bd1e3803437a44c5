use std::time::Instant;

use lacuna_catalog::Catalog;
use lacuna_core::ImageId;

#[test]
#[ignore]
fn scratch() {
    let path = std::env::var("LACUNA_BENCH_CATALOG").expect("env");
    let catalog = Catalog::open(std::path::Path::new(&path), 0).expect("open");
    for round in 0..3 {
        let start = Instant::now();
        for id in 1000..1200 {
            catalog.image(ImageId(id + round * 1000)).expect("img");
        }
        println!("200 image(): {:?}", start.elapsed());
    }
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch("PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;").expect("p");
    let qs = [
        "SELECT i.id, i.rel_path, i.content_hash FROM image i WHERE i.id = ?1",
        "SELECT i.id, r.path FROM image i JOIN source_root r ON r.id = i.root_id WHERE i.id = ?1",
        "SELECT i.id, (SELECT count(*) FROM duplicate_file d WHERE d.of_image_id = i.id) FROM image i WHERE i.id = ?1",
    ];
    for q in qs {
        let mut stmt = conn.prepare(q).expect("prep");
        for round in 0..2 {
            let start = Instant::now();
            for id in 5000..5200 {
                let _: i64 = stmt.query_row([id + round * 1000], |r| r.get(0)).expect("row");
            }
            println!("{:>8.2}ms {q}", start.elapsed().as_secs_f64() * 1000.0);
        }
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {q}")).expect("x");
        let rows: Vec<String> = explain.query_map([1], |r| r.get(3)).expect("q").collect::<Result<_, _>>().expect("r");
        println!("   {rows:?}");
    }
}
