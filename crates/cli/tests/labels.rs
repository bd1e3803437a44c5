//! End-to-end tests of `lacuna labels …`, `lacuna version …` and `lacuna export` over the bundled
//! sample: round trips through COCO, YOLO and VOC, version list and diff, byte-identical exports,
//! label-import problems and undo/redo. Each test works in its own temp dir and names its author.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample");

/// Runs `lacuna` on one project as one author and, when it does not exit as expected, panics
/// with everything it saw.
#[derive(Debug, Clone)]
struct Lacuna {
    project: PathBuf,
    author: String,
}

impl Lacuna {
    fn new(project: &Path, author: &str) -> Self {
        Self { project: project.to_path_buf(), author: author.to_string() }
    }

    /// The same project as another author.
    fn as_author(&self, author: &str) -> Self {
        Self::new(&self.project, author)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lacuna"));
        cmd.arg("--project")
            .arg(&self.project)
            .arg("--author")
            .arg(&self.author)
            .args(args)
            .env_remove("LACUNA_PROJECT")
            .env_remove("LACUNA_USER");
        cmd
    }

    fn run(&self, args: &[&str], expected_code: i32) -> Output {
        let out = self.command(args).output().expect("lacuna runs");
        if out.status.code() != Some(expected_code) {
            panic!(
                "lacuna {args:?} (as {}) exited with {:?}, expected {expected_code}\n--- stdout\n{}\n--- stderr\n{}",
                self.author,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
        }
        out
    }

    /// Runs and returns stderr (for failures: what the user is told).
    fn stderr(&self, args: &[&str], expected_code: i32) -> String {
        String::from_utf8_lossy(&self.run(args, expected_code).stderr).into_owned()
    }

    fn json(&self, args: &[&str], expected_code: i32) -> Value {
        let out = self.run(args, expected_code);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("lacuna {args:?}: stdout is not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout))
        })
    }

    fn import_sample(&self) {
        self.json(&["import", "--init", "--json", SAMPLE], 0);
    }

    fn images(&self) -> Vec<Value> {
        match self.json(&["images", "--all", "--json"], 0) {
            Value::Array(items) => items,
            other => panic!("images --all --json printed {other}"),
        }
    }

    /// The catalogued image at `path` (relative to the sample folder): id, width, height.
    fn image(&self, path: &str) -> Img {
        let images = self.images();
        let found = images
            .iter()
            .find(|i| i["path"] == path)
            .unwrap_or_else(|| panic!("{path} is not in the catalog: {images:#?}"));
        let num = |field: &str| found[field].as_i64().unwrap_or_else(|| panic!("no {field} in {found}"));
        Img { id: num("id"), w: num("width_px") as f64, h: num("height_px") as f64 }
    }

    fn add_class(&self, name: &str) {
        self.run(&["labels", "class", "add", name], 0);
    }

    /// Draws an annotation (`geometry`: `["--box", "x0,y0,x1,y1"]` or `--polygon` parts, plus
    /// any flags); returns its id.
    fn add(&self, image: &Img, class: &str, geometry: &[String]) -> i64 {
        let id = image.id.to_string();
        let mut args: Vec<&str> = vec!["labels", "add", &id, "--class", class, "--json"];
        args.extend(geometry.iter().map(String::as_str));
        let created = self.json(&args, 0);
        created["id"].as_i64().unwrap_or_else(|| panic!("labels add printed {created}"))
    }

    fn set_state(&self, image: &Img, state: &str) {
        self.run(&["labels", "state", &image.id.to_string(), state], 0);
    }

    /// Class id → name.
    fn class_names(&self) -> BTreeMap<i64, String> {
        let classes = self.json(&["labels", "classes", "--json"], 0);
        classes
            .as_array()
            .expect("classes array")
            .iter()
            .map(|c| {
                (c["id"].as_i64().expect("class id"), c["name"].as_str().expect("class name").to_string())
            })
            .collect()
    }

    /// Class names in the project's order.
    fn class_list(&self) -> Vec<String> {
        let classes = self.json(&["labels", "classes", "--json"], 0);
        classes
            .as_array()
            .expect("classes array")
            .iter()
            .map(|c| c["name"].as_str().expect("class name").to_string())
            .collect()
    }

    fn list(&self, image: &Img) -> Vec<Value> {
        match self.json(&["labels", "list", &image.id.to_string(), "--json"], 0) {
            Value::Array(items) => items,
            other => panic!("labels list printed {other}"),
        }
    }

    /// An image's annotations as (class name, geometry, attributes), in a canonical order.
    fn contents(&self, image: &Img) -> Vec<Content> {
        let names = self.class_names();
        let mut out: Vec<Content> = self
            .list(image)
            .iter()
            .map(|a| {
                let class = a["class"].as_i64().expect("class id");
                Content {
                    class: names.get(&class).cloned().unwrap_or_else(|| panic!("class {class} unknown")),
                    geometry: a["geometry"].clone(),
                    attributes: a["attributes"].clone(),
                }
            })
            .collect();
        out.sort_by_key(Content::key);
        out
    }

    /// `version freeze --json` (extra args: `--name` etc.); returns the version object.
    fn freeze(&self, extra: &[&str]) -> Value {
        let mut args = vec!["version", "freeze", "--json"];
        args.extend_from_slice(extra);
        let result = self.json(&args, 0);
        result["version"].clone()
    }

    fn label_states(&self) -> BTreeMap<String, u64> {
        let states = self.json(&["labels", "states", "--json"], 0);
        states
            .as_array()
            .expect("states array")
            .iter()
            .map(|s| (s["state"].as_str().expect("state").to_string(), s["images"].as_u64().expect("n")))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Img {
    id: i64,
    w: f64,
    h: f64,
}

impl Img {
    /// A coordinate at fraction `f` of the width, on a quarter pixel (exact in binary).
    fn x(&self, f: f64) -> f64 {
        (self.w * f * 4.0).round() / 4.0
    }

    fn y(&self, f: f64) -> f64 {
        (self.h * f * 4.0).round() / 4.0
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Content {
    class: String,
    geometry: Value,
    attributes: Value,
}

impl Content {
    fn key(&self) -> String {
        format!("{}|{}|{}", self.class, self.geometry, self.attributes)
    }
}

fn text(v: &[f64]) -> String {
    v.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
}

fn bx(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<String> {
    vec!["--box".into(), text(&[x0, y0, x1, y1])]
}

fn polygon(parts: &[&[f64]]) -> Vec<String> {
    parts.iter().flat_map(|p| ["--polygon".to_string(), text(p)]).collect()
}

fn with(mut geometry: Vec<String>, flags: &[&str]) -> Vec<String> {
    geometry.extend(flags.iter().map(|f| f.to_string()));
    geometry
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Every file under `dir`, relative to it, `/`-separated, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root");
                out.push(
                    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The problems of a label-import report, as (kind, location) pairs.
fn problems(report: &Value) -> Vec<(String, Value)> {
    report["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems list in {report}"))
        .iter()
        .map(|p| (p["kind"].as_str().expect("kind").to_string(), p["location"].clone()))
        .collect()
}

fn counts(report: &Value, field: &str) -> u64 {
    report["counts"][field].as_u64().unwrap_or_else(|| panic!("no counts.{field} in {report}"))
}

/// A box geometry's corners.
fn box_of(geometry: &Value) -> [f64; 4] {
    assert_eq!(geometry["kind"], "box", "{geometry}");
    ["x0", "y0", "x1", "y1"].map(|k| geometry[k].as_f64().unwrap_or_else(|| panic!("no {k} in {geometry}")))
}

/// A polygon geometry's parts.
fn parts_of(geometry: &Value) -> Vec<Vec<[f64; 2]>> {
    assert_eq!(geometry["kind"], "polygon", "{geometry}");
    geometry["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|part| {
            part.as_array()
                .expect("part")
                .iter()
                .map(|p| [p[0].as_f64().expect("x"), p[1].as_f64().expect("y")])
                .collect()
        })
        .collect()
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: {a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-6, "{what}: {a:?} vs {b:?} (off by {})", (x - y).abs());
    }
}

// -------------------------------------------------------------------------------------------------

/// The labels of the COCO round trip: boxes and polygons (one of two parts), attributes and tags,
/// on images of every split the sample's hashes give, one of them 80x80.
fn label_for_round_trip(a: &Lacuna) -> Vec<(&'static str, Img)> {
    for class in ["dog", "person", "kite", "horse"] {
        a.add_class(class);
    }
    let dog = a.image("photos/dog.jpg");
    let horses = a.image("photos/horses.jpg");
    let kite = a.image("photos/kite.jpg");
    let sony = a.image("exif-cameras/r_sony.jpg");
    assert_eq!((sony.w, sony.h), (80.0, 80.0), "the exif-cameras shots are 80x80 thumbnails");
    assert!(dog.w > 200.0 && horses.w > 200.0 && kite.w > 200.0, "{dog:?} {horses:?} {kite:?}");

    a.add(&dog, "dog", &bx(dog.x(0.1) + 0.5, dog.y(0.2), dog.x(0.6) + 0.25, dog.y(0.9)));
    a.add(
        &dog,
        "person",
        &with(
            polygon(&[&[dog.x(0.6), dog.y(0.1), dog.x(0.9), dog.y(0.15), dog.x(0.8), dog.y(0.7) + 0.5]]),
            &["--occluded", "--tag", "walking", "--tag", "blurry"],
        ),
    );
    a.add(&horses, "horse", &with(bx(0.0, horses.y(0.3), horses.x(0.4), horses.h), &["--truncated"]));
    a.add(
        &horses,
        "horse",
        &with(bx(horses.x(0.45), horses.y(0.35), horses.x(0.7), horses.y(0.8)), &["--tag", "difficult"]),
    );
    a.add(&kite, "kite", &bx(kite.x(0.25), kite.y(0.05), kite.x(0.4), kite.y(0.2) + 0.75));
    a.add(
        &kite,
        "person",
        &polygon(&[
            &[kite.x(0.1), kite.y(0.6), kite.x(0.15), kite.y(0.6), kite.x(0.12), kite.y(0.9)],
            &[
                kite.x(0.2),
                kite.y(0.6),
                kite.x(0.25),
                kite.y(0.6),
                kite.x(0.25),
                kite.y(0.9),
                kite.x(0.2),
                kite.y(0.9),
            ],
        ]),
    );
    a.add(&sony, "dog", &with(bx(1.5, 2.25, 79.75, 80.0), &["--occluded"]));
    for image in [&dog, &horses, &kite, &sony] {
        a.set_state(image, "labeled");
    }
    let flower = a.image("photos/flower.jpg");
    a.set_state(&flower, "labeled_empty");
    vec![
        ("photos/dog.jpg", dog),
        ("photos/horses.jpg", horses),
        ("photos/kite.jpg", kite),
        ("exif-cameras/r_sony.jpg", sony),
        ("photos/flower.jpg", flower),
    ]
}

#[test]
fn coco_round_trip_gives_the_same_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Lacuna::new(&tmp.path().join("a.lacuna"), "alice");
    a.import_sample();
    let labeled = label_for_round_trip(&a);
    let v1 = a.freeze(&[]);
    let id1 = v1["id"].as_str().expect("version id").to_string();
    assert_eq!(id1.len(), 64, "{v1}");
    assert_eq!(v1["images"], 5, "four labeled images and one labeled empty: {v1}");
    assert_eq!(v1["annotations"], 7, "{v1}");

    let out = tmp.path().join("coco");
    a.run(&["export", "--version", &id1[..10], "--format", "coco", path_str(&out)], 0);
    let split_files: Vec<PathBuf> = ["train", "val", "test"]
        .iter()
        .map(|s| out.join(format!("annotations/instances_{s}.json")))
        .filter(|p| p.is_file())
        .collect();
    assert!(!split_files.is_empty(), "no annotations/instances_*.json in {:?}", tree(&out));
    for f in tree(&out.join("annotations")) {
        assert!(
            ["instances_train.json", "instances_val.json", "instances_test.json"].contains(&f.as_str()),
            "unexpected file annotations/{f}"
        );
    }
    // Images are copied under images/{split}/<path>.
    let files = tree(&out);
    for (path, _) in &labeled {
        assert!(
            ["train", "val", "test"].iter().any(|s| files.contains(&format!("images/{s}/{path}"))),
            "{path} not copied: {files:?}"
        );
    }

    let b = Lacuna::new(&tmp.path().join("b.lacuna"), "bob");
    b.import_sample();
    let mut added = 0;
    for f in &split_files {
        let report = b.json(&["labels", "import", path_str(f), "--json"], 0);
        assert!(problems(&report).is_empty(), "{}: {report}", f.display());
        assert_eq!(report["format"], "coco", "{report}");
        added += counts(&report, "annotations_added");
    }
    assert_eq!(added, 7, "every annotation imported once");

    // B's annotations equal A's in class, geometry and attributes (exactly: COCO keeps f64s).
    for (path, a_img) in &labeled {
        let b_img = b.image(path);
        assert_eq!(b.contents(&b_img), a.contents(a_img), "{path}");
    }
    assert_eq!(b.label_states(), a.label_states(), "labeled and labeled_empty images come back as such");

    // Importing the same files again adds nothing.
    for f in &split_files {
        let again = b.json(&["labels", "import", path_str(f), "--json"], 0);
        assert_eq!(counts(&again, "annotations_added"), 0, "{again}");
        assert_eq!(
            counts(&again, "annotations_unchanged"),
            again["annotations_in_file"].as_u64().expect("annotations_in_file"),
            "{again}"
        );
    }

    // Same content, same id: the class list (part of the id, and YOLO's class indices) must come
    // back in A's order although the classes are first used in different split files.
    assert_eq!(b.class_list(), a.class_list(), "the classes, in the same order");
    let id2 = b.freeze(&[])["id"].as_str().expect("version id").to_string();
    assert_eq!(id2, id1, "the round trip through COCO froze to another version id");
}

/// A COCO round trip whose images all land in one split file, so the importer creates the classes
/// in the file's (= A's) order: isolates the class-order problem `coco_round_trip_gives_the_same_version`
/// finds when classes are first used in different split files.
#[test]
fn coco_round_trip_within_one_split_file_gives_the_same_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Lacuna::new(&tmp.path().join("a.lacuna"), "alice");
    a.import_sample();
    for class in ["dog", "person"] {
        a.add_class(class);
    }
    // photos/dog.jpg and photos/horses.jpg land in train (their content hashes say so).
    let dog = a.image("photos/dog.jpg");
    let horses = a.image("photos/horses.jpg");
    a.add(&dog, "dog", &bx(dog.x(0.1), dog.y(0.2), dog.x(0.6), dog.y(0.9)));
    a.add(&horses, "person", &with(polygon(&[&[1.0, 1.0, 50.0, 1.0, 50.0, 60.5]]), &["--occluded"]));
    a.set_state(&dog, "labeled");
    a.set_state(&horses, "labeled");
    let id1 = a.freeze(&[])["id"].as_str().expect("id").to_string();
    let out = tmp.path().join("coco");
    a.run(&["export", "--version", "v1", "--format", "coco", path_str(&out)], 0);
    assert_eq!(tree(&out.join("annotations")), ["instances_train.json"], "both images in train");

    let b = Lacuna::new(&tmp.path().join("b.lacuna"), "bob");
    b.import_sample();
    let report =
        b.json(&["labels", "import", path_str(&out.join("annotations/instances_train.json")), "--json"], 0);
    assert!(problems(&report).is_empty(), "{report}");
    assert_eq!(report["classes_created"], json!(["dog", "person"]), "{report}");
    // Without --json, freeze prints the id alone on stdout.
    let plain = b.run(&["version", "freeze"], 0);
    assert_eq!(String::from_utf8_lossy(&plain.stdout).trim(), id1);

    // The YOLO export of a version with train images only points val at images/train; its
    // labels are still read once.
    let yolo = tmp.path().join("yolo");
    a.run(&["export", "--version", &id1[..6], "--format", "yolo", path_str(&yolo)], 0);
    let data_yaml = String::from_utf8(read(&yolo.join("data.yaml"))).expect("utf-8");
    assert!(data_yaml.contains("val: images/train"), "{data_yaml}");
    let y = Lacuna::new(&tmp.path().join("y.lacuna"), "yuri");
    y.import_sample();
    let report = y.json(&["labels", "import", path_str(&yolo.join("data.yaml")), "--json"], 0);
    assert!(problems(&report).is_empty(), "{report}");
    assert_eq!(counts(&report, "annotations_added"), 2, "{report}");
}

#[test]
fn yolo_and_voc_round_trips() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Lacuna::new(&tmp.path().join("a.lacuna"), "alice");
    a.import_sample();
    for class in ["car", "dog", "horse"] {
        a.add_class(class);
    }
    let dog = a.image("photos/dog.jpg");
    let horses = a.image("photos/horses.jpg");
    let kite = a.image("photos/kite.jpg");
    let sony = a.image("exif-cameras/r_sony.jpg");
    let flower = a.image("photos/flower.jpg");
    // Coordinates that are not exact in binary, and boxes touching the right and bottom edges.
    a.add(&dog, "dog", &bx(10.1, 20.3, 333.7, 401.9));
    a.add(&dog, "car", &with(bx(400.2, 0.0, dog.w, dog.h), &["--occluded", "--truncated"]));
    a.add(&horses, "horse", &bx(12.3, 7.7, horses.w, horses.h - 0.1));
    a.add(&horses, "horse", &with(bx(0.0, 100.05, 200.6, 300.45), &["--tag", "difficult"]));
    a.add(&kite, "car", &bx(1.0 / 3.0, 2.0 / 3.0, kite.w - 1.0 / 7.0, 99.99));
    a.add(&sony, "dog", &bx(0.7, 1.3, 79.9, 80.0));
    for image in [&dog, &horses, &kite, &sony] {
        a.set_state(image, "labeled");
    }
    a.set_state(&flower, "labeled_empty");
    a.freeze(&["--name", "boxes"]);
    let labeled = [
        ("photos/dog.jpg", dog),
        ("photos/horses.jpg", horses),
        ("photos/kite.jpg", kite),
        ("exif-cameras/r_sony.jpg", sony),
    ];

    // Boxes of A and of `other`, image by image, sorted the same way, within 1e-6 px.
    let compare_boxes = |other: &Lacuna, format: &str| {
        for (path, a_img) in &labeled {
            let mut want: Vec<(String, [f64; 4])> =
                a.contents(a_img).iter().map(|c| (c.class.clone(), box_of(&c.geometry))).collect();
            let mut got: Vec<(String, [f64; 4])> = other
                .contents(&other.image(path))
                .iter()
                .map(|c| (c.class.clone(), box_of(&c.geometry)))
                .collect();
            let order = |x: &(String, [f64; 4]), y: &(String, [f64; 4])| {
                x.0.cmp(&y.0).then(x.1[0].total_cmp(&y.1[0])).then(x.1[1].total_cmp(&y.1[1]))
            };
            want.sort_by(order);
            got.sort_by(order);
            assert_eq!(got.len(), want.len(), "{format} {path}: {got:?} vs {want:?}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0, "{format} {path}: class");
                assert_close(&g.1, &w.1, &format!("{format} {path} {}", g.0));
            }
        }
    };

    // YOLO: data.yaml with the names, labels/{split}/….txt per image, images/{split}/….
    let yolo = tmp.path().join("yolo");
    a.run(&["export", "--version", "boxes", "--format", "yolo", path_str(&yolo)], 0);
    let data_yaml = String::from_utf8(read(&yolo.join("data.yaml"))).expect("utf-8 data.yaml");
    assert!(data_yaml.contains("\nnames:\n  0: car\n  1: dog\n  2: horse\n"), "{data_yaml}");
    assert!(data_yaml.contains("nc: 3"), "{data_yaml}");
    let files = tree(&yolo);
    for (path, _) in labeled.iter().chain([("photos/flower.jpg", flower)].iter()) {
        let label = format!("{}.txt", path.rsplit_once('.').expect("extension").0);
        assert!(
            ["train", "val", "test"].iter().any(|s| files.contains(&format!("labels/{s}/{label}"))
                && files.contains(&format!("images/{s}/{path}"))),
            "{path}: no label file or image: {files:?}"
        );
    }
    let y = Lacuna::new(&tmp.path().join("y.lacuna"), "yuri");
    y.import_sample();
    let report = y.json(&["labels", "import", path_str(&yolo), "--json"], 0);
    assert!(problems(&report).is_empty(), "{report}");
    assert_eq!(counts(&report, "annotations_added"), 6, "{report}");
    assert_eq!(y.class_list(), a.class_list(), "YOLO keeps the class order");
    compare_boxes(&y, "yolo");
    assert_eq!(y.label_states(), a.label_states(), "an empty label file is labeled_empty");

    // VOC: Annotations/….xml, JPEGImages/…, ImageSets/Main/{split}.txt.
    let voc = tmp.path().join("voc");
    a.run(&["export", "--version", "boxes", "--format", "voc", path_str(&voc)], 0);
    let files = tree(&voc);
    for (path, _) in &labeled {
        let xml = format!("Annotations/{}.xml", path.rsplit_once('.').expect("extension").0);
        assert!(files.contains(&xml), "{xml}: {files:?}");
        assert!(files.contains(&format!("JPEGImages/{path}")), "{path}: {files:?}");
    }
    assert!(files.iter().any(|f| f.starts_with("ImageSets/Main/") && f.ends_with(".txt")), "{files:?}");
    let v = Lacuna::new(&tmp.path().join("v.lacuna"), "vera");
    v.import_sample();
    let report = v.json(&["labels", "import", path_str(&voc), "--json"], 0);
    assert!(problems(&report).is_empty(), "{report}");
    assert_eq!(counts(&report, "annotations_added"), 6, "{report}");
    let v_classes: BTreeSet<String> = v.class_list().into_iter().collect();
    let a_classes: BTreeSet<String> = a.class_list().into_iter().collect();
    assert_eq!(v_classes, a_classes);
    compare_boxes(&v, "voc");
    // VOC keeps truncated, occluded and difficult.
    let v_dog = v.contents(&v.image("photos/dog.jpg"));
    let car = v_dog.iter().find(|c| c.class == "car").expect("car on dog.jpg");
    assert_eq!(car.attributes, json!({"occluded": true, "truncated": true}), "{car:?}");
    let v_horses = v.contents(&v.image("photos/horses.jpg"));
    assert!(
        v_horses.iter().any(|c| c.attributes == json!({"tags": ["difficult"]})),
        "the difficult flag comes back as the tag: {v_horses:?}"
    );

    // YOLO segmentation: polygons come back within 1e-6 px; boxes as their four corners.
    let giraffe = a.image("photos/giraffe.jpg");
    let tri = [10.1, 20.2, 300.3, 40.4, 150.5, 480.7];
    let quad = [giraffe.w - 0.3, 0.0, giraffe.w, giraffe.h, 5.5, giraffe.h, 0.0, 1.0 / 3.0];
    a.add(&giraffe, "horse", &polygon(&[&tri]));
    a.add(&giraffe, "dog", &polygon(&[&quad]));
    a.set_state(&giraffe, "labeled");
    a.freeze(&["--name", "polygons"]);
    let seg = tmp.path().join("yolo-seg");
    a.run(&["export", "--version", "polygons", "--format", "yolo-seg", path_str(&seg)], 0);
    let s = Lacuna::new(&tmp.path().join("s.lacuna"), "sam");
    s.import_sample();
    let report = s.json(&["labels", "import", path_str(&seg), "--json"], 0);
    assert!(problems(&report).is_empty(), "{report}");
    assert_eq!(report["format"], "yolo-seg", "{report}");
    let got = s.contents(&s.image("photos/giraffe.jpg"));
    assert_eq!(got.len(), 2, "{got:?}");
    for (class, want) in [("horse", &tri[..]), ("dog", &quad[..])] {
        let g = got.iter().find(|c| c.class == class).unwrap_or_else(|| panic!("no {class}: {got:?}"));
        let parts = parts_of(&g.geometry);
        assert_eq!(parts.len(), 1, "{g:?}");
        let flat: Vec<f64> = parts[0].iter().flatten().copied().collect();
        assert_close(&flat, want, &format!("yolo-seg giraffe {class}"));
    }
    let got = s.contents(&s.image("exif-cameras/r_sony.jpg"));
    assert_eq!(got.len(), 1, "{got:?}");
    let flat: Vec<f64> = parts_of(&got[0].geometry)[0].iter().flatten().copied().collect();
    assert_close(&flat, &[0.7, 1.3, 79.9, 1.3, 79.9, 80.0, 0.7, 80.0], "yolo-seg box as polygon");
}

#[test]
fn versions_list_and_diff() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Lacuna::new(&tmp.path().join("a.lacuna"), "alice");
    a.import_sample();
    for class in ["car", "dog"] {
        a.add_class(class);
    }
    let dog = a.image("photos/dog.jpg");
    let horses = a.image("photos/horses.jpg");
    let car_box = [10.0, 10.0, 100.0, 100.0];
    let car = a.add(&dog, "car", &bx(car_box[0], car_box[1], car_box[2], car_box[3]));
    a.add(&dog, "dog", &bx(200.0, 200.0, 400.0, 400.0));
    let gone = a.add(&dog, "car", &bx(500.0, 10.0, 600.0, 90.0));
    a.add(&horses, "dog", &bx(1.0, 2.0, 30.0, 40.0));
    a.set_state(&dog, "labeled");
    a.set_state(&horses, "labeled");
    let v1 = a.freeze(&[]);
    let v1_id = v1["id"].as_str().expect("id").to_string();
    assert_eq!(v1["name"], "v1");
    assert_eq!(v1["parent"], Value::Null);

    // Freezing unchanged labels again gives the same version, not a new one.
    let again = a.json(&["version", "freeze", "--json"], 0);
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(again["version"]["id"].as_str(), Some(v1_id.as_str()));

    // One box changes class (delete + add at the same place), one is deleted, a new image.
    a.add_class("truck");
    a.run(&["labels", "delete", &car.to_string(), &gone.to_string()], 0);
    a.add(&dog, "truck", &bx(car_box[0], car_box[1], car_box[2], car_box[3]));
    let giraffe = a.image("photos/giraffe.jpg");
    a.add(&giraffe, "dog", &bx(50.0, 50.0, 150.0, 250.0));
    a.set_state(&giraffe, "labeled");
    let v2 = a.freeze(&["--name", "v2"]);
    let v2_id = v2["id"].as_str().expect("id").to_string();
    assert_ne!(v2_id, v1_id);
    assert_eq!(v2["parent"].as_str(), Some(v1_id.as_str()), "{v2}");
    assert_eq!(v2["images"], 3, "{v2}");
    assert_eq!(v2["annotations"], 4, "{v2}");

    let list = a.json(&["version", "list", "--json"], 0);
    let list = list.as_array().expect("versions array");
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["id"].as_str(), Some(v2_id.as_str()), "newest first: {list:?}");
    assert_eq!(list[0]["name"], "v2");
    assert_eq!(list[0]["parent"].as_str(), Some(v1_id.as_str()));
    assert_eq!(list[1]["id"].as_str(), Some(v1_id.as_str()));
    assert_eq!(list[1]["parent"], Value::Null);
    assert_eq!(list[1]["short_id"].as_str(), Some(&v1_id[..12]));

    let check = |diff: &Value| {
        let c = &diff["counts"];
        assert_eq!(c["images_added"], 1, "{c}");
        assert_eq!(c["images_removed"], 0, "{c}");
        assert_eq!(c["images_changed"], 1, "{c}");
        assert_eq!(c["annotations_added"], 1, "the giraffe's box: {c}");
        assert_eq!(c["annotations_removed"], 1, "the deleted car: {c}");
        assert_eq!(c["annotations_changed"], 1, "car → truck: {c}");
        assert_eq!(c["annotations_class_changed"], 1, "{c}");
        assert_eq!(c["annotations_unchanged"], 2, "{c}");
        assert_eq!(diff["class_changes"], json!({"car -> truck": 1}), "{diff}");
        assert_eq!(diff["images_added"], json!(["photos/giraffe.jpg"]), "{diff}");
        assert_eq!(diff["from"]["id"].as_str(), Some(v1_id.as_str()));
        assert_eq!(diff["to"]["id"].as_str(), Some(v2_id.as_str()));
    };
    check(&a.json(&["version", "diff", "v1", "v2", "--json"], 0));
    // By unique id prefix, and a full id mixed with a name.
    check(&a.json(&["version", "diff", &v1_id[..8], &v2_id[..8], "--json"], 0));
    check(&a.json(&["version", "diff", &v1_id, "v2", "--json"], 0));
    // Human-readable output works too.
    a.run(&["version", "diff", "v1", "v2"], 0);

    // The reverse direction mirrors the counts.
    let back = a.json(&["version", "diff", "v2", "v1", "--json"], 0);
    assert_eq!(back["counts"]["images_removed"], 1, "{back}");
    assert_eq!(back["counts"]["annotations_added"], 1, "{back}");
    assert_eq!(back["counts"]["annotations_removed"], 1, "{back}");

    // Unknown references fail, naming what was asked for.
    let err = a.stderr(&["version", "diff", "v1", "nosuchversion", "--json"], 1);
    assert!(err.contains("nosuchversion"), "{err}");
    let err = a.stderr(&["version", "diff", "deadbeef", "v2"], 1);
    assert!(err.contains("deadbeef"), "{err}");
    let out = tmp.path().join("never");
    let err = a.stderr(&["export", "--version", "v9", "--format", "coco", path_str(&out)], 1);
    assert!(err.contains("v9"), "{err}");
    assert!(!out.exists(), "nothing written for an unknown version");
    // A freeze naming an unknown parent fails and creates nothing.
    a.set_state(&a.image("photos/flower.jpg"), "labeled_empty");
    let err = a.stderr(&["version", "freeze", "--parent", "nosuchparent"], 1);
    assert!(err.contains("nosuchparent"), "{err}");
    assert_eq!(a.json(&["version", "list", "--json"], 0).as_array().map(Vec::len), Some(2));
}

#[test]
fn export_is_byte_identical_and_refuses_a_non_empty_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Lacuna::new(&tmp.path().join("a.lacuna"), "alice");
    a.import_sample();
    label_for_round_trip(&a);
    a.freeze(&["--name", "release"]);

    for format in ["coco", "yolo", "yolo-seg", "voc", "masks"] {
        let one = tmp.path().join(format!("{format}-1"));
        let two = tmp.path().join(format!("{format}-2"));
        a.run(&["export", "--version", "release", "--format", format, path_str(&one)], 0);
        let summary =
            a.json(&["export", "--version", "release", "--format", format, path_str(&two), "--json"], 0);
        assert_eq!(summary["images"], 5, "{summary}");
        assert_eq!(summary["annotations"], 7, "{summary}");
        let files = tree(&one);
        assert_eq!(files, tree(&two), "{format}: the same files");
        assert!(files.contains(&"manifest.json".to_string()), "{format}: {files:?}");
        for f in &files {
            assert!(read(&one.join(f)) == read(&two.join(f)), "{format}: {f} differs between the exports");
        }

        // manifest.json lists every other file, with its size.
        let manifest: Value =
            serde_json::from_slice(&read(&one.join("manifest.json"))).expect("manifest JSON");
        let listed = manifest["files"].as_array().expect("manifest files");
        let mut listed_paths = BTreeSet::new();
        for entry in listed {
            let path = entry["path"].as_str().expect("path");
            let bytes = entry["bytes"].as_u64().expect("bytes");
            let hash = entry["blake3"].as_str().expect("blake3");
            assert_eq!(hash.len(), 64, "{entry}");
            assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{entry}");
            let on_disk = std::fs::metadata(one.join(path))
                .unwrap_or_else(|e| panic!("{format}: manifest lists {path}, not there: {e}"));
            assert_eq!(on_disk.len(), bytes, "{format}: {path}");
            assert!(listed_paths.insert(path.to_string()), "{format}: {path} listed twice");
        }
        let unlisted: Vec<&String> =
            files.iter().filter(|f| *f != "manifest.json" && !listed_paths.contains(*f)).collect();
        assert!(unlisted.is_empty(), "{format}: files the manifest does not list: {unlisted:?}");
        assert_eq!(summary["files"].as_u64(), Some(listed.len() as u64), "{summary}");
        let total: u64 = listed.iter().filter_map(|f| f["bytes"].as_u64()).sum();
        assert_eq!(summary["bytes"].as_u64(), Some(total), "{summary}");
        if format == "masks" {
            // Class PNGs for the images with polygons; the five boxes have no mask.
            for stem in ["photos/dog", "photos/kite"] {
                assert!(
                    files
                        .iter()
                        .any(|f| f.starts_with("SegmentationClass/") && f.ends_with(&format!("{stem}.png"))),
                    "{stem}: {files:?}"
                );
            }
            assert_eq!(summary["skipped"]["box annotations have no mask"], 5, "{summary}");
        }
        assert_eq!(manifest["version"]["name"], "release");
        assert_eq!(manifest["format"], format);

        // Exporting into the first folder again is refused and leaves it as it was.
        let before: Vec<Vec<u8>> = files.iter().map(|f| read(&one.join(f))).collect();
        let err = a.stderr(&["export", "--version", "release", "--format", format, path_str(&one)], 1);
        assert!(err.contains("--overwrite"), "{err}");
        assert!(err.contains(path_str(&one)), "the message names the folder: {err}");
        assert_eq!(tree(&one), files, "{format}: the refused export changed the folder's files");
        for (f, bytes) in files.iter().zip(&before) {
            assert!(read(&one.join(f)) == *bytes, "{format}: {f} changed by a refused export");
        }
        let mut partial = one.as_os_str().to_os_string();
        partial.push(".partial");
        assert!(!Path::new(&partial).exists(), "no staging folder left behind");

        // With --overwrite it is rewritten, to the same bytes.
        a.run(&["export", "--version", "release", "--format", format, path_str(&one), "--overwrite"], 0);
        assert_eq!(tree(&one), files);
        for (f, bytes) in files.iter().zip(&before) {
            assert!(read(&one.join(f)) == *bytes, "{format}: {f} differs after --overwrite");
        }
    }

    // A folder with an unrelated file in it is refused too, and the file stays.
    let busy = tmp.path().join("busy");
    std::fs::create_dir_all(&busy).expect("mkdir");
    std::fs::write(busy.join("notes.txt"), b"mine").expect("write");
    let err = a.stderr(&["export", "--version", "release", "--format", "coco", path_str(&busy)], 1);
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(tree(&busy), ["notes.txt"]);
    // An empty folder is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    a.run(&["export", "--version", "release", "--format", "coco", path_str(&empty)], 0);
    assert!(empty.join("manifest.json").is_file());
}

#[test]
fn label_import_problems_are_reported_not_fatal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Lacuna::new(&tmp.path().join("a.lacuna"), "alice");
    a.import_sample();
    let dog = a.image("photos/dog.jpg");
    let canon = a.image("exif-cameras/r_canon.jpg");
    assert_eq!((canon.w, canon.h), (80.0, 80.0));

    let coco = json!({
        "images": [
            {"id": 1, "file_name": "photos/dog.jpg", "width": dog.w, "height": dog.h},
            {"id": 2, "file_name": "photos/not-in-the-catalog.jpg", "width": 640, "height": 480},
            {"id": 3, "file_name": "exif-cameras/r_canon.jpg", "width": 80, "height": 80}
        ],
        "categories": [{"id": 1, "name": "dog"}, {"id": 2, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 100, 50], "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 1, 10, 10], "iscrowd": 0},
            {"id": 3, "image_id": 1, "category_id": 7, "bbox": [1, 1, 10, 10], "iscrowd": 0},
            {"id": 4, "image_id": 3, "category_id": 2, "bbox": [60, 50, 40, 20], "iscrowd": 0,
             "attributes": {"occluded": true}}
        ]
    });
    let file = tmp.path().join("problems.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&coco).expect("json")).expect("write");
    let report = a.json(&["labels", "import", path_str(&file), "--json"], 3);
    let found = problems(&report);
    let find = |kind: &str| -> Value {
        found
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, loc)| loc.clone())
            .unwrap_or_else(|| panic!("no {kind} problem in {report}"))
    };
    assert_eq!(found.len(), 3, "{report}");
    for (_, loc) in &found {
        assert_eq!(loc["file"].as_str(), Some(path_str(&file)), "each problem names the file: {loc}");
    }
    assert_eq!(find("unknown_image")["field"], "images[1]", "{report}");
    assert_eq!(find("unknown_class")["field"], "annotations[2].category_id", "{report}");
    assert_eq!(find("clipped")["field"], "annotations[3]", "{report}");
    let messages: Vec<&str> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["message"].as_str())
        .collect();
    assert!(messages.iter().any(|m| m.contains("not-in-the-catalog.jpg")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains('7')), "the unknown category id is named: {messages:?}");
    assert_eq!(counts(&report, "annotations_added"), 2, "the good annotations are imported: {report}");
    assert_eq!(report["images_matched"], 2, "{report}");
    assert_eq!(report["classes_created"], json!(["dog", "cat"]), "{report}");

    let on_dog = a.contents(&dog);
    assert_eq!(on_dog.len(), 1, "{on_dog:?}");
    assert_eq!(on_dog[0].class, "dog");
    assert_eq!(box_of(&on_dog[0].geometry), [10.0, 20.0, 110.0, 70.0]);
    assert_eq!(on_dog[0].attributes, json!({}));
    let on_canon = a.contents(&canon);
    assert_eq!(on_canon.len(), 1, "{on_canon:?}");
    assert_eq!(on_canon[0].class, "cat");
    assert_eq!(box_of(&on_canon[0].geometry), [60.0, 50.0, 80.0, 70.0], "stored clipped to the 80x80 image");
    assert_eq!(on_canon[0].attributes, json!({"occluded": true, "tags": ["clipped"]}));
    // Without --json the problems are printed with their place too.
    let human = a.run(&["labels", "import", path_str(&file)], 3);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains("annotations[2].category_id") && human.contains("unknown_class"), "{human}");

    // A YOLO label file with a 4-value line: a problem naming the line; the good line is taken.
    let yolo = tmp.path().join("yolo");
    std::fs::create_dir_all(&yolo).expect("mkdir");
    std::fs::write(yolo.join("classes.txt"), "person\n").expect("write");
    let label = yolo.join("horses.txt");
    std::fs::write(&label, "0 0.5 0.5 0.25 0.5\n0 0.5 0.5 0.25\n\n0 0.125 0.25 0.25 0.5\n").expect("write");
    let report = a.json(&["labels", "import", path_str(&label), "--json"], 3);
    let found = problems(&report);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].0, "malformed", "{report}");
    assert_eq!(found[0].1["file"].as_str(), Some(path_str(&label)), "{report}");
    assert_eq!(found[0].1["line"], 2, "{report}");
    assert!(report["problems"][0]["message"].as_str().is_some_and(|m| m.contains("line 2")), "{report}");
    assert_eq!(counts(&report, "annotations_added"), 2, "{report}");
    let horses = a.image("photos/horses.jpg");
    let boxes: Vec<[f64; 4]> = a.contents(&horses).iter().map(|c| box_of(&c.geometry)).collect();
    let (w, h) = (horses.w, horses.h);
    assert_eq!(boxes.len(), 2, "{boxes:?}");
    assert!(boxes.iter().any(|b| {
        let want = [0.375 * w, 0.25 * h, 0.625 * w, 0.75 * h];
        b.iter().zip(want).all(|(x, y)| (x - y).abs() < 1e-6)
    }));

    // A JSON file that is not JSON: the whole import fails, naming the file and the line.
    let broken = tmp.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"images\": [\n    {\"id\": 1,, \"file_name\": \"x.jpg\"}\n  ]\n}\n")
        .expect("write");
    let err = a.stderr(&["labels", "import", path_str(&broken)], 1);
    assert!(err.contains(&format!("{}:3", path_str(&broken))), "names the file and line 3: {err}");
    let err = a.stderr(&["labels", "import", path_str(&broken), "--json"], 1);
    assert!(err.contains("broken.json"), "{err}");
    // Nothing was imported by the failed runs.
    assert_eq!(a.contents(&dog).len(), 1);

    // A path that does not exist.
    let err = a.stderr(&["labels", "import", "/definitely/not/here.json"], 1);
    assert!(err.contains("/definitely/not/here.json"), "{err}");
}

#[test]
fn undo_redo_through_the_cli() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let alice = Lacuna::new(&tmp.path().join("a.lacuna"), "alice");
    alice.import_sample();
    let bob = alice.as_author("bob");
    alice.add_class("dog");
    let dog = alice.image("photos/dog.jpg");
    let horses = alice.image("photos/horses.jpg");

    let first = alice.add(&dog, "dog", &bx(10.0, 10.0, 50.0, 50.0));
    assert_eq!(alice.list(&dog).len(), 1);
    let out = alice.run(&["labels", "undo"], 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("undid"), "{out:?}");
    assert!(alice.list(&dog).is_empty(), "undo removes the annotation");
    let out = alice.run(&["labels", "redo"], 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("redid"), "{out:?}");
    let back = alice.list(&dog);
    assert_eq!(back.len(), 1, "redo brings it back");
    assert_eq!(back[0]["id"], first, "with the same id");
    assert_eq!(box_of(&back[0]["geometry"]), [10.0, 10.0, 50.0, 50.0]);
    assert_eq!(back[0]["author"], "alice");

    let history = alice.json(&["labels", "history", "--json"], 0);
    let events = history.as_array().expect("history array");
    let on_first: Vec<&Value> =
        events.iter().filter(|e| e["entity"] == "annotation" && e["entity_id"] == first).collect();
    let kinds: Vec<&str> = on_first.iter().filter_map(|e| e["action_kind"].as_str()).collect();
    assert_eq!(kinds, ["redo", "undo", "do"], "newest first: {history}");
    assert!(on_first.iter().all(|e| e["author"] == "alice"), "{history}");
    let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
    let per_image = alice.json(&["labels", "history", "--image", &dog.id.to_string(), "--json"], 0);
    assert!(
        per_image.as_array().expect("array").iter().all(|e| e["image"] == dog.id),
        "--image keeps that image's events: {per_image}"
    );

    // Bob's undo acts on bob's edits only.
    let bobs = bob.add(&horses, "dog", &bx(1.0, 1.0, 20.0, 20.0));
    let second = alice.add(&dog, "dog", &bx(100.0, 100.0, 200.0, 200.0));
    bob.run(&["labels", "undo"], 0);
    assert!(bob.list(&horses).is_empty(), "bob's box is undone");
    let ids: Vec<i64> = alice.list(&dog).iter().filter_map(|a| a["id"].as_i64()).collect();
    assert_eq!(ids, [first, second], "alice's boxes stay");
    let out = bob.run(&["labels", "undo"], 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to undo"), "{out:?}");
    assert_eq!(alice.list(&dog).len(), 2, "bob has nothing left to undo; alice's edits stay");
    let history = alice.json(&["labels", "history", "--json"], 0);
    let undo = history
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["entity_id"] == bobs && e["action_kind"] == "undo")
        .unwrap_or_else(|| panic!("bob's undo is journaled: {history}"))
        .clone();
    assert_eq!(undo["author"], "bob");

    // Alice's undo takes her newest edit, then the one before.
    alice.run(&["labels", "undo"], 0);
    let ids: Vec<i64> = alice.list(&dog).iter().filter_map(|a| a["id"].as_i64()).collect();
    assert_eq!(ids, [first]);
    bob.run(&["labels", "redo"], 0);
    assert_eq!(bob.list(&horses).len(), 1, "bob redoes his own edit");
    assert_eq!(alice.list(&dog).len(), 1, "bob's redo does not bring back alice's undone box");
    alice.run(&["labels", "redo"], 0);
    assert_eq!(alice.list(&dog).len(), 2);

    // An undo that would revert over someone else's later change is refused, changing nothing.
    let giraffe = alice.image("photos/giraffe.jpg");
    let mine = alice.add(&giraffe, "dog", &bx(5.0, 5.0, 60.0, 60.0));
    bob.run(&["labels", "delete", &mine.to_string()], 0);
    let err = alice.stderr(&["labels", "undo"], 1);
    assert!(err.contains("conflict"), "{err}");
    assert!(alice.list(&giraffe).is_empty(), "bob's delete stands");
    bob.run(&["labels", "undo"], 0);
    let ids: Vec<i64> = alice.list(&giraffe).iter().filter_map(|a| a["id"].as_i64()).collect();
    assert_eq!(ids, [mine], "bob's undo brings alice's box back");
}
