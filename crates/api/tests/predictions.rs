//! Accepting and rejecting single predictions (what the annotate and review views do with one
//! key): they become annotations with the right review state and source, are not offered again,
//! cannot be decided twice, and one undo takes a whole decision back.

use lacuna_api::{AnnotationSource, ErrorCode, ImageId, PredictionDecision, ReviewState};

mod common;

#[test]
fn accept_reject_and_change_class_of_predictions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = common::pre_labeled_project(dir.path(), 60);

    // Three images with a prediction above the display threshold.
    let mut offered = Vec::new();
    for id in 1..=60 {
        let preds = project.image_predictions(ImageId(id), None).expect("predictions");
        if let Some(p) = preds.into_iter().next() {
            offered.push(p);
        }
        if offered.len() == 3 {
            break;
        }
    }
    assert_eq!(offered.len(), 3, "generated predictions above the display threshold");
    let other_class = if offered[2].class == "class0" { "class1" } else { "class0" };
    project.create_class("lead", other_class, None, None).expect("class");
    let made = project
        .decide_predictions(
            "expert",
            &[
                PredictionDecision { prediction: offered[0].id, accept: true, class: None },
                PredictionDecision { prediction: offered[1].id, accept: false, class: None },
                PredictionDecision {
                    prediction: offered[2].id,
                    accept: true,
                    class: Some(other_class.into()),
                },
            ],
        )
        .expect("decide");
    let states: Vec<ReviewState> = made.iter().map(|a| a.review_state).collect();
    assert_eq!(states, [ReviewState::Accepted, ReviewState::Rejected, ReviewState::Corrected]);
    assert!(made.iter().all(|a| matches!(a.source, AnnotationSource::Model { prediction: Some(_), .. })));
    for p in &offered {
        assert!(
            project.image_predictions(p.image, None).expect("predictions").iter().all(|q| q.id != p.id),
            "a decided prediction is not offered again"
        );
    }
    let classes = project.classes().expect("classes");
    let class_name = |id| classes.iter().find(|c| c.class.id == id).map(|c| c.class.name.clone());
    assert_eq!(class_name(made[2].class).as_deref(), Some(other_class));

    let again = project
        .decide_predictions(
            "expert",
            &[PredictionDecision { prediction: offered[0].id, accept: false, class: None }],
        )
        .expect_err("decided twice");
    assert_eq!(again.code, ErrorCode::Conflict);
    assert!(again.message.contains(&offered[0].id.to_string()), "{}", again.message);

    project.undo("expert").expect("undo").expect("an action");
    assert!(project.annotations(offered[0].image).expect("annotations").is_empty());
    assert_eq!(project.image_predictions(offered[0].image, None).expect("predictions")[0].id, offered[0].id);
}
