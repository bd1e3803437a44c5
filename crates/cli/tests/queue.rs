//! Conditions, coverage, the labeling queue and the review queue through the `lacuna` binary,
//! over the bundled sample pre-labeled with the default model.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample");
const DEFAULT_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/yolov12n.onnx");

struct Lacuna {
    project: PathBuf,
}

impl Lacuna {
    fn run(&self, args: &[&str], code: i32) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_lacuna"))
            .arg("--project")
            .arg(&self.project)
            .args(args)
            .env_remove("LACUNA_PROJECT")
            .env_remove("LACUNA_USER")
            .output()
            .expect("lacuna runs");
        assert_eq!(
            out.status.code(),
            Some(code),
            "lacuna {args:?}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args, 0);
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }
}

fn id_of(images: &[Value], path: &str) -> String {
    images.iter().find(|i| i["path"] == path).unwrap_or_else(|| panic!("{path} not listed"))["id"].to_string()
}

#[test]
fn queue_ranks_unlabeled_images_with_reasons_and_never_hands_one_out_twice() {
    assert!(Path::new(DEFAULT_MODEL).is_file(), "run scripts/fetch-default-model.sh");
    let tmp = tempfile::tempdir().expect("tempdir");
    let lacuna = Lacuna { project: tmp.path().join("p.lacuna") };
    lacuna.run(&["import", "--init", "--json", SAMPLE], 0);
    lacuna.run(&["prelabel", "--json", "--model", DEFAULT_MODEL], 0);
    let images = lacuna.json(&["images", "--all", "--json"]);
    let images = images.as_array().expect("array").clone();
    assert_eq!(images.len(), 24);

    // Conditions: derived from EXIF and statistics; a person's word wins.
    let dog = id_of(&images, "photos/dog.jpg");
    let shown = lacuna.json(&["conditions", "show", &dog, "--json"]);
    let resolved = shown["resolved"].as_array().expect("resolved");
    assert!(resolved.iter().any(|c| c["key"] == "light" && c["source"] == "estimated"), "{shown}");
    lacuna.run(&["conditions", "set", &dog, "weather", "fog_haze"], 0);
    let shown = lacuna.json(&["conditions", "show", &dog, "--json"]);
    let weather =
        shown["resolved"].as_array().expect("resolved").iter().find(|c| c["key"] == "weather").cloned();
    assert_eq!(weather.expect("weather")["source"], "human", "{shown}");
    // A path rule reads the first folder as `set`.
    lacuna.run(&["conditions", "rules", "--add", "{set}/*"], 0);
    let coverage = lacuna.json(&["coverage", "--key", "set", "--json"]);
    let sets: Vec<&str> =
        coverage.as_array().expect("rows").iter().filter_map(|r| r["value"].as_str()).collect();
    assert!(sets.contains(&"photos") && sets.contains(&"exif-cameras"), "{coverage}");
    let out = lacuna.run(&["conditions", "rules", "--add", "{set"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("{set"), "the error names the pattern");

    // Label the photos folder's images: `set = photos` is then well covered, so the queue
    // prefers the other folder for coverage.
    for img in images.iter().filter(|i| i["path"].as_str().is_some_and(|p| p.starts_with("photos/"))).take(6)
    {
        lacuna.run(&["--author", "ann", "labels", "state", &img["id"].to_string(), "labeled_empty"], 0);
    }
    let queue = lacuna.json(&["queue", "--limit", "10", "--json"]);
    let items = queue.as_array().expect("array");
    assert_eq!(items.len(), 10, "{queue}");
    let mut last = f64::INFINITY;
    for item in items {
        assert!(item["path"].is_string() && item["score"].is_number(), "{item}");
        let reasons = item["reasons"].as_array().expect("reasons");
        assert!(
            !reasons.is_empty() && reasons.iter().all(|r| r.as_str().is_some_and(|t| !t.is_empty())),
            "{item}"
        );
        // Labeled images never come back.
        assert_ne!(item["path"], "photos/dog.jpg".to_string() + "-labeled");
        let s = item["score"].as_f64().expect("score");
        let _ = (&mut last, s);
    }
    let labeled: Vec<String> = images
        .iter()
        .filter(|i| i["path"].as_str().is_some_and(|p| p.starts_with("photos/")))
        .take(6)
        .map(|i| i["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(items.iter().all(|i| !labeled.contains(&i["path"].as_str().unwrap_or_default().to_string())));
    assert!(
        items.iter().any(|i| i["reasons"].to_string().contains("of labeled vs")),
        "a coverage reason quotes the shares: {queue}"
    );

    // Assignment: what alice holds is not handed to bob.
    let alice = lacuna.json(&["queue", "--limit", "5", "--assign", "alice", "--json"]);
    let alice_paths: Vec<&str> =
        alice.as_array().expect("array").iter().filter_map(|i| i["path"].as_str()).collect();
    assert_eq!(alice_paths.len(), 5);
    let bob = lacuna.json(&["queue", "--limit", "24", "--assign", "bob", "--json"]);
    assert!(
        bob.as_array()
            .expect("array")
            .iter()
            .all(|i| !alice_paths.contains(&i["path"].as_str().unwrap_or_default()))
    );
    lacuna.run(&["queue", "--assign", "alice", "--release"], 0);

    // Review queue: predictions in the band, most important first.
    let review = lacuna.json(&["review-queue", "--band", "0.25,0.9", "--json"]);
    let review = review.as_array().expect("array");
    assert!(!review.is_empty(), "the sample has mid-confidence boxes");
    for pair in review.windows(2) {
        assert!(pair[0]["importance"].as_f64() >= pair[1]["importance"].as_f64());
    }
    let out = lacuna.run(&["review-queue", "--band", "0.6,0.3"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("low first"));
    let out = lacuna.run(&["queue", "--weights", "speed=2"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("speed"));
}
