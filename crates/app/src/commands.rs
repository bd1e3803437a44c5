//! The command table: every command a UI may call, its arguments (a JSON object) and its answer.
//! Each arm decodes the arguments, calls one `lacuna-api` use case with the acting person and
//! encodes the answer. Names are `noun` or `noun_verb`, snake_case.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lacuna_api::{
    AnnotationEdit, AnnotationId, AnnotationInput, ApiError, ClassEdit, ErrorCode, ExportVersionRequest,
    FreezeRequest, ImageId, ImageLabelState, ImageQuery, ImportRequest, PredictionDecision, PrelabelRequest,
    QueueRequest, ReviewRequest, ReviewState, RunId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::App;

/// A command's name and what it does (listed by `commands`, and by `lacuna serve --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CommandInfo {
    pub name: &'static str,
    pub summary: &'static str,
}

macro_rules! commands {
    ($($name:literal => $summary:literal,)*) => {
        /// Every command [`App::call`] answers.
        pub const COMMANDS: &[CommandInfo] = &[$(CommandInfo { name: $name, summary: $summary },)*];
    };
}

commands! {
    "commands" => "this list",
    "app_info" => "version, acting person and the open project",
    "project_open" => "open the project in {path}",
    "project_create" => "create a project in {path} and open it",
    "projects_recent" => "recently opened projects, newest first",
    "status" => "counts, cameras and jobs of the open project",
    "images" => "a page of images ({query}: filters, cursor, limit)",
    "images_count" => "how many images match {query}",
    "image" => "one image's details ({id})",
    "problems" => "import problems ({job}, default: the last import)",
    "import_start" => "import {paths} in the background (progress events; cancel with job_cancel)",
    "prelabel_start" => "pre-label ({request}) in the background",
    "export_start" => "export a version ({request}) in the background",
    "jobs_running" => "jobs started here that are still running",
    "job_cancel" => "ask job {job} to stop (what it committed stays)",
    "runs" => "pre-labeling runs, newest first",
    "classes" => "label classes with annotation counts",
    "class_create" => "create a class ({name}, {color}, {hotkey})",
    "class_update" => "rename / recolour / set the hotkey of {class} ({edit})",
    "annotations" => "the annotations of {image}",
    "annotations_add" => "draw annotations ({inputs}); one undo step",
    "annotation_edit" => "change annotation {id} ({edit})",
    "annotations_delete" => "delete annotations {ids}",
    "annotations_review" => "accept / reject / reset annotations {ids} ({state})",
    "image_state_set" => "set the label state of {images} ({state}: labeled, skipped, ...)",
    "label_states" => "image counts per label state",
    "undo" => "revert the acting person's latest action",
    "redo" => "re-apply the acting person's latest undone action",
    "history" => "journal events ({image}, {limit})",
    "image_predictions" => "the open predictions of {image} ({run}: default the newest)",
    "predictions_decide" => "accept / reject / change class of predictions ({decisions})",
    "image_conditions" => "claims and resolved conditions of {image}",
    "conditions_set" => "a person's condition {key}={value} on {images}",
    "conditions_clear" => "remove a person's condition {key} from {images}",
    "coverage" => "the coverage table (pool vs labeled vs target)",
    "coverage_target_set" => "set (or clear without {share}) the target share of {key}={value}",
    "queue" => "the ranked labeling queue ({request}); assigns to the acting person with {assign: true}",
    "review_queue" => "predictions and disagreements for experts ({request})",
    "versions" => "frozen versions, newest first",
    "version_freeze" => "freeze a version ({request})",
    "versions_diff" => "what changed between versions {from} and {to}",
}

fn args<T: DeserializeOwned>(command: &str, value: Value) -> Result<T, ApiError> {
    let value = if value.is_null() { json!({}) } else { value };
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("{command}: arguments: {e}")))
}

fn answer<T: Serialize>(value: T) -> Result<Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("encoding the answer: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathArgs {
    path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryArgs {
    #[serde(default)]
    query: ImageQuery,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    id: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageArgs {
    image: ImageId,
    #[serde(default)]
    run: Option<RunId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobArgs {
    #[serde(default)]
    job: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelArgs {
    job: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestArgs<T> {
    request: T,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionalRequestArgs<T> {
    #[serde(default)]
    request: Option<T>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassCreateArgs {
    name: String,
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    hotkey: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassUpdateArgs {
    class: String,
    edit: ClassEdit,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddArgs {
    inputs: Vec<AnnotationInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditArgs {
    id: AnnotationId,
    edit: AnnotationEdit,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdsArgs {
    ids: Vec<AnnotationId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewArgs {
    ids: Vec<AnnotationId>,
    state: ReviewState,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateArgs {
    images: Vec<ImageId>,
    state: ImageLabelState,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryArgs {
    #[serde(default)]
    image: Option<ImageId>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideArgs {
    decisions: Vec<PredictionDecision>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionArgs {
    images: Vec<ImageId>,
    key: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetArgs {
    key: String,
    value: String,
    #[serde(default)]
    share: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueArgs {
    #[serde(default)]
    request: Option<QueueRequest>,
    /// Hand the picks to the acting person.
    #[serde(default)]
    assign: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreezeArgs {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    split: Option<String>,
    #[serde(default)]
    group_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffArgs {
    from: String,
    to: String,
    #[serde(default)]
    max_details: Option<usize>,
}

/// The id of a job just started (its events carry it).
#[derive(Debug, Serialize)]
struct Started {
    job: u64,
}

pub(crate) fn dispatch(app: &App, command: &str, raw: Value) -> Result<Value, ApiError> {
    let author = app.author().to_string();
    match command {
        "commands" => {
            let _: Empty = args(command, raw)?;
            answer(COMMANDS)
        }
        "app_info" => {
            let _: Empty = args(command, raw)?;
            let project = app.project().ok().map(|p| p.dir().display().to_string());
            answer(json!({
                "version": env!("CARGO_PKG_VERSION"),
                "author": author,
                "project": project,
            }))
        }
        "project_open" | "project_create" => {
            let a: PathArgs = args(command, raw)?;
            let project = app.open_project(&a.path, command == "project_create")?;
            answer(project.status()?)
        }
        "projects_recent" => {
            let _: Empty = args(command, raw)?;
            answer(app.recent())
        }
        "status" => {
            let _: Empty = args(command, raw)?;
            answer(app.project()?.status()?)
        }
        "images" => {
            let a: QueryArgs = args(command, raw)?;
            answer(app.project()?.list_images(&a.query)?)
        }
        "images_count" => {
            let a: QueryArgs = args(command, raw)?;
            answer(app.project()?.count_images(&a.query)?)
        }
        "image" => {
            let a: IdArgs = args(command, raw)?;
            answer(app.project()?.image_details(a.id)?)
        }
        "problems" => {
            let a: JobArgs = args(command, raw)?;
            answer(app.project()?.problems(a.job)?)
        }
        "import_start" => {
            let request: ImportRequest = args(command, raw)?;
            let project = app.project()?;
            answer(start_job(app, "import", move |on| project.start_import(request, on))?)
        }
        "prelabel_start" => {
            let a: OptionalRequestArgs<PrelabelRequest> = args(command, raw)?;
            let project = app.project()?;
            answer(start_job(app, "prelabel", move |on| {
                project.start_prelabel(a.request.unwrap_or_default(), on)
            })?)
        }
        "export_start" => {
            let a: RequestArgs<ExportVersionRequest> = args(command, raw)?;
            answer(start_export(app, a.request)?)
        }
        "jobs_running" => {
            let _: Empty = args(command, raw)?;
            answer(app.jobs().list())
        }
        "job_cancel" => {
            let a: CancelArgs = args(command, raw)?;
            answer(app.jobs().cancel(a.job))
        }
        "runs" => {
            let _: Empty = args(command, raw)?;
            answer(app.project()?.model_runs()?)
        }
        "classes" => {
            let _: Empty = args(command, raw)?;
            answer(app.project()?.classes()?)
        }
        "class_create" => {
            let a: ClassCreateArgs = args(command, raw)?;
            answer(app.project()?.create_class(&author, &a.name, a.color.as_deref(), a.hotkey.as_deref())?)
        }
        "class_update" => {
            let a: ClassUpdateArgs = args(command, raw)?;
            answer(app.project()?.update_class(&author, &a.class, &a.edit)?)
        }
        "annotations" => {
            let a: ImageArgs = args(command, raw)?;
            answer(app.project()?.annotations(a.image)?)
        }
        "annotations_add" => {
            let a: AddArgs = args(command, raw)?;
            let made = app.project()?.add_annotations(&author, &a.inputs)?;
            app.labels_changed(&made.iter().map(|m| m.image).collect::<Vec<_>>());
            answer(made)
        }
        "annotation_edit" => {
            let a: EditArgs = args(command, raw)?;
            let edited = app.project()?.edit_annotation(&author, a.id, &a.edit)?;
            app.labels_changed(&[edited.image]);
            answer(edited)
        }
        "annotations_delete" => {
            let a: IdsArgs = args(command, raw)?;
            let project = app.project()?;
            let images = images_of(&project, &a.ids);
            project.delete_annotations(&author, &a.ids)?;
            app.labels_changed(&images);
            answer(())
        }
        "annotations_review" => {
            let a: ReviewArgs = args(command, raw)?;
            let project = app.project()?;
            project.review(&author, &a.ids, a.state)?;
            app.labels_changed(&images_of(&project, &a.ids));
            answer(())
        }
        "image_state_set" => {
            let a: StateArgs = args(command, raw)?;
            let project = app.project()?;
            for image in &a.images {
                project.set_image_state(&author, *image, a.state)?;
            }
            app.labels_changed(&a.images);
            answer(())
        }
        "label_states" => {
            let _: Empty = args(command, raw)?;
            answer(app.project()?.label_states()?)
        }
        "undo" | "redo" => {
            let _: Empty = args(command, raw)?;
            let project = app.project()?;
            let done = if command == "undo" { project.undo(&author)? } else { project.redo(&author)? };
            // Which images changed is in the journal; a coarse event makes views reload.
            app.emit("labels_changed", json!({ "images": [] }));
            answer(done)
        }
        "history" => {
            let a: HistoryArgs = args(command, raw)?;
            answer(app.project()?.history(a.image, a.limit.unwrap_or(100))?)
        }
        "image_predictions" => {
            let a: ImageArgs = args(command, raw)?;
            answer(app.project()?.image_predictions(a.image, a.run)?)
        }
        "predictions_decide" => {
            let a: DecideArgs = args(command, raw)?;
            let made = app.project()?.decide_predictions(&author, &a.decisions)?;
            app.labels_changed(&made.iter().map(|m| m.image).collect::<Vec<_>>());
            answer(made)
        }
        "image_conditions" => {
            let a: ImageArgs = args(command, raw)?;
            let (claims, resolved) = app.project()?.image_conditions(a.image)?;
            answer(json!({ "claims": claims, "resolved": resolved }))
        }
        "conditions_set" => {
            let a: ConditionArgs = args(command, raw)?;
            let value = a.value.ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidInput, "conditions_set: arguments: missing field `value`")
            })?;
            let project = app.project()?;
            for image in &a.images {
                project.set_condition(*image, &a.key, &value)?;
            }
            answer(a.images.len())
        }
        "conditions_clear" => {
            let a: ConditionArgs = args(command, raw)?;
            let project = app.project()?;
            let mut cleared = 0u64;
            for image in &a.images {
                cleared += u64::from(project.clear_condition(*image, &a.key)?);
            }
            answer(cleared)
        }
        "coverage" => {
            let _: Empty = args(command, raw)?;
            answer(app.project()?.coverage()?)
        }
        "coverage_target_set" => {
            let a: TargetArgs = args(command, raw)?;
            answer(app.project()?.set_coverage_target(&a.key, &a.value, a.share)?)
        }
        "queue" => {
            let a: QueueArgs = args(command, raw)?;
            let mut request = a.request.unwrap_or_default();
            if a.assign {
                request.assign_to = Some(author);
            }
            answer(app.project()?.queue(&request)?)
        }
        "review_queue" => {
            let a: OptionalRequestArgs<ReviewRequest> = args(command, raw)?;
            answer(app.project()?.review_queue(&a.request.unwrap_or_default())?)
        }
        "versions" => {
            let _: Empty = args(command, raw)?;
            answer(app.project()?.versions()?)
        }
        "version_freeze" => {
            let a: FreezeArgs = args(command, raw)?;
            let req = FreezeRequest {
                name: a.name,
                notes: a.notes,
                parent: None,
                split: a.split,
                group_by: a.group_by,
                author,
            };
            answer(app.project()?.freeze_version(&req)?)
        }
        "versions_diff" => {
            let a: DiffArgs = args(command, raw)?;
            answer(app.project()?.diff_versions(&a.from, &a.to, a.max_details.unwrap_or(1000))?)
        }
        other => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("unknown command `{other}` (the command `commands` lists them)"),
        )),
    }
}

fn images_of(project: &lacuna_api::Project, ids: &[AnnotationId]) -> Vec<ImageId> {
    ids.iter().filter_map(|id| project.annotation(*id).ok().flatten().map(|a| a.image)).collect()
}

/// Starts an API job (import or pre-label: one of each kind at a time), registers it, forwards
/// its progress as events and announces its end.
fn start_job<T, P>(
    app: &App,
    kind: &str,
    start: impl FnOnce(Box<dyn FnMut(&P) + Send>) -> Result<lacuna_api::Job<T>, ApiError>,
) -> Result<Started, ApiError>
where
    T: Serialize + Send + 'static,
    P: Serialize + 'static,
{
    if let Some(job) = app.jobs().running_kind(kind) {
        return Err(ApiError::new(ErrorCode::Conflict, format!("{kind} job {job} is still running")));
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let id = app.jobs().register(kind, Arc::clone(&cancel), app.clock().now_unix_s());
    let (jobs, events) = (Arc::clone(app.jobs()), app.emitter());
    let on_progress = {
        let (jobs, events) = (Arc::clone(&jobs), events.clone());
        Box::new(move |p: &P| {
            if let Ok(v) = serde_json::to_value(p) {
                jobs.progress(&events, id, v);
            }
        })
    };
    let job = match start(on_progress) {
        Ok(job) => job,
        Err(e) => {
            jobs.finish(&events, id, Err(e.clone()));
            return Err(e);
        }
    };
    let flag = job.cancel_flag();
    std::thread::spawn(move || {
        // The API job has its own flag: forward a cancel from the command table to it.
        let watcher = {
            let (cancel, flag) = (Arc::clone(&cancel), Arc::clone(&flag));
            std::thread::spawn(move || watch_cancel(&cancel, &flag))
        };
        let result = job.wait().and_then(encode);
        flag.store(true, Ordering::SeqCst);
        let _ = watcher.join();
        jobs.finish(&events, id, result);
    });
    Ok(Started { job: id })
}

fn encode<T: Serialize>(value: T) -> Result<Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("encoding a summary: {e}")))
}

/// Copies a cancel request from the command table's flag to the API job's until the job ends
/// (the job's own flag is then set, which stops this loop).
fn watch_cancel(cancel: &AtomicBool, job_flag: &AtomicBool) {
    loop {
        if cancel.load(Ordering::SeqCst) {
            job_flag.store(true, Ordering::SeqCst);
            return;
        }
        if job_flag.load(Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn start_export(app: &App, request: ExportVersionRequest) -> Result<Started, ApiError> {
    let project = app.project()?;
    let cancel = Arc::new(AtomicBool::new(false));
    let id = app.jobs().register("export", Arc::clone(&cancel), app.clock().now_unix_s());
    let (jobs, events) = (Arc::clone(app.jobs()), app.emitter());
    std::thread::spawn(move || {
        let mut last = std::time::Instant::now() - std::time::Duration::from_secs(1);
        let mut progress = |done: u64, total: u64| {
            // At most ten events a second.
            if last.elapsed().as_millis() >= 100 || done == total {
                last = std::time::Instant::now();
                jobs.progress(&events, id, json!({ "done": done, "total": total }));
            }
        };
        let result = project.export_version(&request, &mut progress, &cancel).and_then(encode);
        jobs.finish(&events, id, result);
    });
    Ok(Started { job: id })
}
