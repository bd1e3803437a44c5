//! Annotations, classes, image states and the journal: undo/redo, conflicts, imports.

use lacuna_catalog::{AnnotationPatch, Catalog, CatalogError, ClassPatch, ImportImageLabels, NewAnnotation};
use lacuna_core::{
    AnnotationSource, Attributes, BinaryMask, BoxXyxy, ClassId, Geometry, ImageId, ImageLabelState,
    ReviewState, Rle,
};

const NOW: i64 = 1_700_000_000;

fn catalog_with_images(n: u64) -> (tempfile::TempDir, Catalog, Vec<ImageId>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut catalog = Catalog::create(&dir.path().join("catalog.sqlite")).expect("create");
    let root = catalog.upsert_root("/data", NOW).expect("root");
    catalog.insert_synthetic_images(root, n, 7, NOW).expect("images");
    let ids = (1..=n as i64).map(ImageId).collect();
    (dir, catalog, ids)
}

fn boxed(image: ImageId, class: ClassId, x0: f64) -> NewAnnotation {
    NewAnnotation {
        image,
        class,
        geometry: Geometry::Box(BoxXyxy { x0, y0: 10.0, x1: x0 + 20.5, y1: 40.25 }),
        attributes: Attributes::default(),
        source: AnnotationSource::Human,
        score: None,
        review_state: ReviewState::Unreviewed,
    }
}

fn state_of(catalog: &Catalog, image: ImageId) -> ImageLabelState {
    catalog.image_label(image).expect("label").map_or(ImageLabelState::Unlabeled, |r| r.state)
}

#[test]
fn create_edit_delete_then_undo_and_redo_everything() {
    let (_dir, mut catalog, images) = catalog_with_images(3);
    let car = catalog.create_class("ann", "car", None, Some("1"), NOW).expect("class");
    let (_, created) =
        catalog.create_annotations("ann", &[boxed(images[0], car.id, 5.0)], NOW).expect("create");
    let id = created[0].id;
    assert_eq!(state_of(&catalog, images[0]), ImageLabelState::InProgress);

    let moved = Geometry::Box(BoxXyxy { x0: 6.0, y0: 11.0, x1: 30.0, y1: 50.0 });
    let patch = AnnotationPatch { geometry: Some(moved.clone()), ..Default::default() };
    catalog.update_annotation("ann", id, &patch, NOW + 1).expect("edit");
    catalog.delete_annotations("ann", &[id], NOW + 2).expect("delete");
    assert!(catalog.annotation(id).expect("read").is_none());

    // Undo the delete: the same id comes back with the edited geometry.
    let undone = catalog.undo("ann", NOW + 3).expect("undo").expect("something to undo");
    assert_eq!(undone.label, "delete annotation");
    assert_eq!(catalog.annotation(id).expect("read").expect("back").geometry, moved);
    // Undo the edit, then the creation (and the state change that came with it).
    catalog.undo("ann", NOW + 4).expect("undo").expect("edit");
    assert_eq!(catalog.annotation(id).expect("read").expect("still").geometry, created[0].geometry);
    catalog.undo("ann", NOW + 5).expect("undo").expect("create");
    assert!(catalog.annotation(id).expect("read").is_none());
    assert_eq!(state_of(&catalog, images[0]), ImageLabelState::Unlabeled);
    // Then the class creation; after that there is nothing left.
    catalog.undo("ann", NOW + 6).expect("undo").expect("class");
    assert!(catalog.label_classes(false).expect("classes").is_empty());
    assert!(catalog.undo("ann", NOW + 7).expect("undo").is_none());

    // Redo everything in order.
    for _ in 0..4 {
        catalog.redo("ann", NOW + 8).expect("redo").expect("something to redo");
    }
    assert!(catalog.redo("ann", NOW + 9).expect("redo").is_none());
    assert!(catalog.annotation(id).expect("read").is_none(), "the delete was redone last");
    assert_eq!(catalog.label_classes(false).expect("classes")[0].name, "car");
    catalog.integrity_check().expect("integrity");
}

#[test]
fn a_new_edit_clears_redo_and_undo_is_per_author() {
    let (_dir, mut catalog, images) = catalog_with_images(2);
    let car = catalog.create_class("lead", "car", None, None, NOW).expect("class");
    catalog.create_annotations("ann", &[boxed(images[0], car.id, 1.0)], NOW).expect("a");
    catalog.create_annotations("bob", &[boxed(images[1], car.id, 2.0)], NOW).expect("b");
    // ann's undo does not touch bob's work.
    catalog.undo("ann", NOW).expect("undo").expect("ann's");
    assert_eq!(catalog.annotations_of_image(images[1]).expect("read").len(), 1);
    assert!(catalog.annotations_of_image(images[0]).expect("read").is_empty());
    catalog.create_annotations("ann", &[boxed(images[0], car.id, 3.0)], NOW).expect("new edit");
    assert!(catalog.redo("ann", NOW).expect("redo").is_none(), "a new edit clears the redo stack");
}

#[test]
fn undo_refuses_to_overwrite_someone_elses_later_edit() {
    let (_dir, mut catalog, images) = catalog_with_images(1);
    let car = catalog.create_class("lead", "car", None, None, NOW).expect("class");
    let truck = catalog.create_class("lead", "truck", None, None, NOW).expect("class");
    let (_, created) = catalog.create_annotations("ann", &[boxed(images[0], car.id, 1.0)], NOW).expect("a");
    let patch = AnnotationPatch { class: Some(truck.id), ..Default::default() };
    catalog.update_annotation("bob", created[0].id, &patch, NOW + 1).expect("bob edits");
    let err = catalog.undo("ann", NOW + 2).expect_err("conflict");
    assert!(matches!(err, CatalogError::Conflict(_)), "{err}");
    assert!(err.to_string().contains(&format!("annotation {}", created[0].id)), "{err}");
    // Nothing changed.
    assert_eq!(catalog.annotation(created[0].id).expect("read").expect("there").class, truck.id);
}

#[test]
fn reviews_and_corrections_of_model_annotations() {
    let (_dir, mut catalog, images) = catalog_with_images(1);
    let car = catalog.create_class("lead", "car", None, None, NOW).expect("class");
    let mut model = boxed(images[0], car.id, 1.0);
    model.source = AnnotationSource::Model { run: lacuna_core::RunId(4), prediction: Some(17) };
    model.score = Some(0.42);
    // The run id has to exist for the foreign key; model annotations from a missing run fail.
    assert!(catalog.create_annotations("model", &[model.clone()], NOW).is_err());
    model.source = AnnotationSource::Imported;
    let (_, created) = catalog.create_annotations("importer", &[model], NOW).expect("create");
    let id = created[0].id;
    catalog.review_annotations("expert", &[id], ReviewState::Accepted, NOW).expect("accept");
    let a = catalog.annotation(id).expect("read").expect("there");
    assert_eq!((a.review_state, a.reviewer.as_deref()), (ReviewState::Accepted, Some("expert")));
    let patch = AnnotationPatch {
        geometry: Some(Geometry::Box(BoxXyxy { x0: 2.0, y0: 3.0, x1: 9.0, y1: 9.0 })),
        ..Default::default()
    };
    let a = catalog.update_annotation("expert2", id, &patch, NOW).expect("correct");
    assert_eq!(a.review_state, ReviewState::Corrected);
    assert_eq!(a.reviewer.as_deref(), Some("expert2"));
}

#[test]
fn classes_rename_recolour_hotkey_merge_and_delete_with_reassignment() {
    let (_dir, mut catalog, images) = catalog_with_images(2);
    let car = catalog.create_class("lead", "car", None, Some("1"), NOW).expect("car");
    let auto = catalog.create_class("lead", "automobile", Some("#FF0000"), None, NOW).expect("auto");
    assert_eq!(auto.color, "#ff0000");
    assert!(matches!(catalog.create_class("lead", "CAR", None, None, NOW), Err(CatalogError::Conflict(_))));
    assert!(matches!(
        catalog.create_class("lead", "bus", None, Some("1"), NOW),
        Err(CatalogError::Conflict(_))
    ));
    assert!(matches!(
        catalog.create_class("lead", "bus", Some("red"), None, NOW),
        Err(CatalogError::Invalid(_))
    ));

    catalog
        .create_annotations("ann", &[boxed(images[0], car.id, 1.0), boxed(images[1], auto.id, 2.0)], NOW)
        .expect("anns");
    let patch = ClassPatch { name: Some("Car".into()), color: Some("#00ff00".into()), ..Default::default() };
    let renamed = catalog.update_class("lead", car.id, &patch, NOW).expect("rename");
    assert_eq!((renamed.name.as_str(), renamed.color.as_str()), ("Car", "#00ff00"));

    let err = catalog.delete_class("lead", auto.id, None, NOW).expect_err("has annotations");
    assert!(err.to_string().contains("has 1 annotations"), "{err}");
    let moved = catalog.delete_class("lead", auto.id, Some(car.id), NOW).expect("reassign");
    assert_eq!(moved, 1);
    assert_eq!(catalog.annotations_of_image(images[1]).expect("read")[0].class, car.id);
    assert_eq!(catalog.label_classes(false).expect("classes").len(), 1);
    // One undo brings the class and its annotation back.
    catalog.undo("lead", NOW).expect("undo").expect("merge");
    assert_eq!(catalog.annotations_of_image(images[1]).expect("read")[0].class, auto.id);
    assert_eq!(catalog.label_classes(false).expect("classes").len(), 2);
}

#[test]
fn labeled_empty_is_an_explicit_state_that_needs_no_annotations() {
    let (_dir, mut catalog, images) = catalog_with_images(2);
    let car = catalog.create_class("lead", "car", None, None, NOW).expect("class");
    catalog.set_image_state("ann", images[0], ImageLabelState::LabeledEmpty, None, NOW).expect("empty");
    assert_eq!(state_of(&catalog, images[0]), ImageLabelState::LabeledEmpty);
    catalog.create_annotations("ann", &[boxed(images[1], car.id, 1.0)], NOW).expect("ann");
    let err = catalog
        .set_image_state("ann", images[1], ImageLabelState::LabeledEmpty, None, NOW)
        .expect_err("has one");
    assert!(err.to_string().contains("has 1 annotations"), "{err}");
    let counts = catalog.label_state_counts().expect("counts");
    assert!(counts.contains(&(ImageLabelState::LabeledEmpty, 1)));
    assert!(counts.contains(&(ImageLabelState::InProgress, 1)));
    assert!(counts.contains(&(ImageLabelState::Unlabeled, 0)));
}

#[test]
fn importing_the_same_labels_twice_adds_nothing_and_one_undo_takes_an_import_back() {
    let (_dir, mut catalog, images) = catalog_with_images(3);
    let classes = catalog.ensure_classes("importer", &["car".into(), "dog".into()], NOW).expect("classes");
    let mut mask = BinaryMask::new(64, 48);
    for x in 3..9 {
        mask.set(x, 5, true);
    }
    let (w, h) = {
        let row = catalog.image(images[2]).expect("image").expect("there");
        (row.probed.width_px, row.probed.height_px)
    };
    let mut big = BinaryMask::new(w, h);
    big.set(1, 1, true);
    let labels = vec![
        ImportImageLabels {
            image: images[0],
            annotations: vec![boxed(images[0], classes[0], 1.0), boxed(images[0], classes[1], 50.0)],
            selected_because: Some("labels imported from a.json".into()),
        },
        ImportImageLabels { image: images[1], annotations: vec![], selected_because: None },
        ImportImageLabels {
            image: images[2],
            annotations: vec![NewAnnotation {
                geometry: Geometry::Mask(Rle::from_mask(&big)),
                ..boxed(images[2], classes[0], 0.0)
            }],
            selected_because: None,
        },
    ];
    let first = catalog.import_annotations("importer", "import a.json", &labels, false, NOW).expect("import");
    assert_eq!((first.images, first.annotations_added, first.images_empty), (3, 3, 1));
    assert_eq!(state_of(&catalog, images[1]), ImageLabelState::LabeledEmpty);
    assert_eq!(state_of(&catalog, images[0]), ImageLabelState::Labeled);
    let again = catalog.import_annotations("importer", "import a.json", &labels, false, NOW).expect("again");
    assert_eq!((again.annotations_added, again.annotations_unchanged), (0, 3));
    let replaced =
        catalog.import_annotations("importer", "import a.json", &labels, true, NOW).expect("replace");
    assert_eq!((replaced.annotations_added, replaced.annotations_replaced), (3, 3));
    assert_eq!(catalog.annotation_count().expect("count"), 3);
    // A mask with a wrong size is refused, naming the image.
    let bad = vec![ImportImageLabels {
        image: images[0],
        annotations: vec![NewAnnotation {
            geometry: Geometry::Mask(Rle::from_mask(&mask)),
            ..boxed(images[0], classes[0], 0.0)
        }],
        selected_because: None,
    }];
    let err = catalog.import_annotations("importer", "bad", &bad, false, NOW).expect_err("wrong size");
    assert!(err.to_string().contains("image 1") && err.to_string().contains("64x48"), "{err}");
    // Undo the replace import, then the second (no-op) one, then the first: nothing is left.
    for _ in 0..3 {
        catalog.undo("importer", NOW).expect("undo").expect("an import");
    }
    assert_eq!(catalog.annotation_count().expect("count"), 0);
    assert_eq!(state_of(&catalog, images[0]), ImageLabelState::Unlabeled);
    let history = catalog.history(Some(images[0]), 100).expect("history");
    assert!(history.iter().any(|e| e.action_kind == "undo"));
    catalog.integrity_check().expect("integrity");
}

#[test]
fn images_filter_by_label_state_and_unlabeled_includes_untouched_images() {
    let (_dir, mut catalog, images) = catalog_with_images(5);
    let car = catalog.create_class("lead", "car", None, None, NOW).expect("class");
    catalog.create_annotations("ann", &[boxed(images[1], car.id, 1.0)], NOW).expect("ann");
    catalog.set_image_state("ann", images[2], ImageLabelState::Labeled, None, NOW).expect("labeled");
    catalog.set_image_state("ann", images[3], ImageLabelState::Unlabeled, None, NOW).expect("reset");
    let ids = |state| {
        let filter = lacuna_catalog::ImageFilter { label_state: Some(state), ..Default::default() };
        let mut ids: Vec<i64> =
            catalog.list_images(&filter, None, 100).expect("list").iter().map(|r| r.id.0).collect();
        ids.sort_unstable();
        assert_eq!(catalog.count_images(&filter).expect("count"), ids.len() as u64);
        ids
    };
    assert_eq!(ids(ImageLabelState::Unlabeled), vec![1, 4, 5]);
    assert_eq!(ids(ImageLabelState::InProgress), vec![2]);
    assert_eq!(ids(ImageLabelState::Labeled), vec![3]);
}

#[test]
fn why_an_image_was_picked_survives_labeling() {
    let (_dir, mut catalog, images) = catalog_with_images(2);
    catalog
        .set_selected_because(images[0], "night: 2% of labeled vs 20% of pool", "ann", NOW)
        .expect("reason");
    assert_eq!(state_of(&catalog, images[0]), ImageLabelState::Unlabeled);
    catalog.set_image_state("ann", images[0], ImageLabelState::LabeledEmpty, None, NOW).expect("labeled");
    let row = catalog.image_label(images[0]).expect("read").expect("row");
    assert_eq!(row.state, ImageLabelState::LabeledEmpty);
    assert_eq!(row.selected_because.as_deref(), Some("night: 2% of labeled vs 20% of pool"));
    let filter =
        lacuna_catalog::ImageFilter { label_state: Some(ImageLabelState::Unlabeled), ..Default::default() };
    assert_eq!(catalog.count_images(&filter).expect("count"), 1, "a reason alone keeps an image unlabeled");
}
