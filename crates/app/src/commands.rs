//! The command table: every command a UI may call, its arguments (a JSON object, one of the
//! structs of [`crate::args`]) and its answer (a serde type). Each arm decodes the arguments,
//! calls one `lacuna-api` use case with the acting person and encodes the answer. Names are
//! `noun` or `noun_verb`, snake_case.
//!
//! The table names each command's argument and answer types ([`Command`]); the compiler holds
//! every arm to them, and with the feature `ts` they are written as TypeScript (the UI's
//! `Commands` map, see `scripts/gen-ts-types.sh`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lacuna_api::{
    ActionSummary, Annotation, AnnotationId, ApiError, ClassDto, Condition, CoverageReport, ErrorCode,
    EventRow, ExportVersionRequest, FreezeRequest, FreezeResult, ImageDetails, ImageId, ImagePage,
    ImagePrediction, ImportRequest, LabelClass, LabelStateCount, ProblemDto, ProjectStatus, QueueResult,
    ReviewItem, RunDto, VersionDiffDto, VersionDto,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::args::{
    AddArgs, CancelArgs, ClassCreateArgs, ClassUpdateArgs, ConditionArgs, DecideArgs, DiffArgs, EditArgs,
    ExportStartArgs, FreezeArgs, HistoryArgs, IdArgs, IdsArgs, ImageArgs, JobArgs, MatchingConditionArgs,
    MatchingStateArgs, NoArgs, PathArgs, PrelabelStartArgs, QueryArgs, QueueArgs, ReviewArgs,
    ReviewQueueArgs, SeekArgs, StateArgs, TargetArgs,
};
use crate::events::{ExportProgress, LabelsChanged};
use crate::{App, RecentProject, RunningJob};

/// A command's name and what it does (listed by `commands`, and by `lacuna serve --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CommandInfo {
    pub name: &'static str,
    pub summary: &'static str,
}

/// A command of the table: its name, what its arguments decode into and what it answers.
/// Implemented by the types of [`command`], one per command.
pub trait Command {
    const NAME: &'static str;
    type Args: DeserializeOwned;
    type Answer: Serialize;
}

/// Sees every command of the table with its types (the TypeScript generator).
#[cfg(feature = "ts")]
pub trait CommandVisitor {
    fn visit<C: Command>(&mut self)
    where
        C::Args: ts_rs::TS + 'static,
        C::Answer: ts_rs::TS + 'static;
}

macro_rules! commands {
    ($($marker:ident $name:literal ($args:ty) -> $answer:ty : $summary:literal,)*) => {
        /// Every command [`App::call`] answers.
        pub const COMMANDS: &[CommandInfo] = &[$(CommandInfo { name: $name, summary: $summary },)*];

        /// One type per command of the table, naming its arguments and answer ([`Command`]).
        pub mod command {
            $(
                #[doc = concat!("`", $name, "`: ", $summary, ".")]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $marker;
            )*
        }

        $(
            impl Command for command::$marker {
                const NAME: &'static str = $name;
                type Args = $args;
                type Answer = $answer;
            }
        )*

        /// Shows `visitor` every command, in the table's order.
        #[cfg(feature = "ts")]
        pub fn visit_commands(visitor: &mut impl CommandVisitor) {
            $(visitor.visit::<command::$marker>();)*
        }
    };
}

commands! {
    Commands "commands" (NoArgs) -> Vec<CommandInfo>: "this list",
    AppInfo "app_info" (NoArgs) -> AppInfo: "version, acting person and the open project",
    ProjectOpen "project_open" (PathArgs) -> ProjectStatus: "open the project in {path}",
    ProjectCreate "project_create" (PathArgs) -> ProjectStatus: "create a project in {path} and open it",
    ProjectsRecent "projects_recent" (NoArgs) -> Vec<RecentProject>: "recently opened projects, newest first",
    Status "status" (NoArgs) -> ProjectStatus: "counts, cameras and jobs of the open project",
    Images "images" (QueryArgs) -> ImagePage: "a page of images ({query}: filters, cursor, limit)",
    ImagesCount "images_count" (QueryArgs) -> u64: "how many images match {query}",
    ImagesSeek "images_seek" (SeekArgs) -> Option<String>:
        "the cursor of the page starting at position {index} of {query} (null: the first page or past the end)",
    Image "image" (IdArgs) -> ImageDetails: "one image's details ({id})",
    Problems "problems" (JobArgs) -> Vec<ProblemDto>: "import problems ({job}, default: the last import)",
    ImportStart "import_start" (ImportRequest) -> Started:
        "import {paths} in the background (progress events; cancel with job_cancel)",
    PrelabelStart "prelabel_start" (PrelabelStartArgs) -> Started: "pre-label ({request}) in the background",
    ExportStart "export_start" (ExportStartArgs) -> Started: "export a version ({request}) in the background",
    JobsRunning "jobs_running" (NoArgs) -> Vec<RunningJob>: "jobs started here that are still running",
    JobCancel "job_cancel" (CancelArgs) -> bool: "ask job {job} to stop (what it committed stays)",
    Runs "runs" (NoArgs) -> Vec<RunDto>: "pre-labeling runs, newest first",
    Classes "classes" (NoArgs) -> Vec<ClassDto>: "label classes with annotation counts",
    ClassCreate "class_create" (ClassCreateArgs) -> LabelClass: "create a class ({name}, {color}, {hotkey})",
    ClassUpdate "class_update" (ClassUpdateArgs) -> LabelClass:
        "rename / recolour / set the hotkey of {class} ({edit})",
    Annotations "annotations" (ImageArgs) -> Vec<Annotation>: "the annotations of {image}",
    AnnotationsAdd "annotations_add" (AddArgs) -> Vec<Annotation>: "draw annotations ({inputs}); one undo step",
    AnnotationEdit "annotation_edit" (EditArgs) -> Annotation: "change annotation {id} ({edit})",
    AnnotationsDelete "annotations_delete" (IdsArgs) -> (): "delete annotations {ids}",
    AnnotationsReview "annotations_review" (ReviewArgs) -> ():
        "accept / reject / reset annotations {ids} ({state})",
    ImageStateSet "image_state_set" (StateArgs) -> ():
        "set the label state of {images} ({state}: labeled, skipped, ...)",
    ImageStateSetMatching "image_state_set_matching" (MatchingStateArgs) -> u64:
        "set the label state of every image {query} matches ({state}); one undo step",
    LabelStates "label_states" (NoArgs) -> Vec<LabelStateCount>: "image counts per label state",
    Undo "undo" (NoArgs) -> Option<ActionSummary>: "revert the acting person's latest action",
    Redo "redo" (NoArgs) -> Option<ActionSummary>: "re-apply the acting person's latest undone action",
    History "history" (HistoryArgs) -> Vec<EventRow>: "journal events ({image}, {limit})",
    ImagePredictions "image_predictions" (ImageArgs) -> Vec<ImagePrediction>:
        "the open predictions of {image} ({run}: default the newest)",
    PredictionsDecide "predictions_decide" (DecideArgs) -> Vec<Annotation>:
        "accept / reject / change class of predictions ({decisions})",
    ImageConditions "image_conditions" (ImageArgs) -> ImageConditions:
        "claims and resolved conditions of {image}",
    ConditionsSet "conditions_set" (ConditionArgs) -> usize: "a person's condition {key}={value} on {images}",
    ConditionsSetMatching "conditions_set_matching" (MatchingConditionArgs) -> u64:
        "a person's condition {key}={value} on every image {query} matches",
    ConditionsClear "conditions_clear" (ConditionArgs) -> u64:
        "remove a person's condition {key} from {images}",
    Coverage "coverage" (NoArgs) -> CoverageReport: "the coverage table (pool vs labeled vs target)",
    CoverageTargetSet "coverage_target_set" (TargetArgs) -> ():
        "set (or clear without {share}) the target share of {key}={value}",
    Queue "queue" (QueueArgs) -> QueueResult:
        "the ranked labeling queue ({request}); assigns to the acting person with {assign: true}",
    ReviewQueue "review_queue" (ReviewQueueArgs) -> Vec<ReviewItem>:
        "predictions and disagreements for experts ({request})",
    Versions "versions" (NoArgs) -> Vec<VersionDto>: "frozen versions, newest first",
    VersionFreeze "version_freeze" (FreezeArgs) -> FreezeResult: "freeze a version ({request})",
    VersionsDiff "versions_diff" (DiffArgs) -> VersionDiffDto: "what changed between versions {from} and {to}",
}

/// `app_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AppInfo {
    /// Lacuna's version.
    pub version: String,
    /// The acting person (recorded as the author of every edit).
    pub author: String,
    /// The open project's folder, if one is open.
    pub project: Option<String>,
}

/// `image_conditions`: every claim about an image, and what each key resolves to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageConditions {
    /// All claims, every source.
    pub claims: Vec<Condition>,
    /// The winning claim of each key.
    pub resolved: Vec<Condition>,
}

/// The id of a job just started (its events carry it; `job_cancel` takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Started {
    pub job: u64,
}

/// Decodes `C`'s arguments (`null` counts as `{}`).
fn args<C: Command>(raw: Value) -> Result<C::Args, ApiError> {
    let value = if raw.is_null() { json!({}) } else { raw };
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("{}: arguments: {e}", C::NAME)))
}

/// Decodes `C`'s arguments, runs `f` on them and encodes its answer.
fn run<C: Command>(
    raw: Value,
    f: impl FnOnce(C::Args) -> Result<C::Answer, ApiError>,
) -> Result<Value, ApiError> {
    let answer = f(args::<C>(raw)?)?;
    serde_json::to_value(answer)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("encoding the answer: {e}")))
}

pub(crate) fn dispatch(app: &App, command: &str, raw: Value) -> Result<Value, ApiError> {
    use self::command as c;
    let author = app.author().to_string();
    match command {
        c::Commands::NAME => run::<c::Commands>(raw, |_| Ok(COMMANDS.to_vec())),
        c::AppInfo::NAME => run::<c::AppInfo>(raw, |_| {
            let project = app.project().ok().map(|p| p.dir().display().to_string());
            Ok(AppInfo { version: env!("CARGO_PKG_VERSION").to_string(), author, project })
        }),
        c::ProjectOpen::NAME => run::<c::ProjectOpen>(raw, |a| app.open_project(&a.path, false)?.status()),
        c::ProjectCreate::NAME => run::<c::ProjectCreate>(raw, |a| app.open_project(&a.path, true)?.status()),
        c::ProjectsRecent::NAME => run::<c::ProjectsRecent>(raw, |_| Ok(app.recent())),
        c::Status::NAME => run::<c::Status>(raw, |_| app.project()?.status()),
        c::Images::NAME => run::<c::Images>(raw, |a| app.project()?.list_images(&a.query)),
        c::ImagesCount::NAME => run::<c::ImagesCount>(raw, |a| app.project()?.count_images(&a.query)),
        c::ImagesSeek::NAME => run::<c::ImagesSeek>(raw, |a| app.project()?.seek_images(&a.query, a.index)),
        c::Image::NAME => run::<c::Image>(raw, |a| app.project()?.image_details(a.id)),
        c::Problems::NAME => run::<c::Problems>(raw, |a| app.project()?.problems(a.job)),
        c::ImportStart::NAME => run::<c::ImportStart>(raw, |request| {
            let project = app.project()?;
            start_job(app, "import", move |on| project.start_import(request, on))
        }),
        c::PrelabelStart::NAME => run::<c::PrelabelStart>(raw, |a| {
            let project = app.project()?;
            start_job(app, "prelabel", move |on| project.start_prelabel(a.request.unwrap_or_default(), on))
        }),
        c::ExportStart::NAME => run::<c::ExportStart>(raw, |a| start_export(app, a.request)),
        c::JobsRunning::NAME => run::<c::JobsRunning>(raw, |_| Ok(app.jobs().list())),
        c::JobCancel::NAME => run::<c::JobCancel>(raw, |a| Ok(app.jobs().cancel(a.job))),
        c::Runs::NAME => run::<c::Runs>(raw, |_| app.project()?.model_runs()),
        c::Classes::NAME => run::<c::Classes>(raw, |_| app.project()?.classes()),
        c::ClassCreate::NAME => run::<c::ClassCreate>(raw, |a| {
            app.project()?.create_class(&author, &a.name, a.color.as_deref(), a.hotkey.as_deref())
        }),
        c::ClassUpdate::NAME => {
            run::<c::ClassUpdate>(raw, |a| app.project()?.update_class(&author, &a.class, &a.edit))
        }
        c::Annotations::NAME => run::<c::Annotations>(raw, |a| app.project()?.annotations(a.image)),
        c::AnnotationsAdd::NAME => run::<c::AnnotationsAdd>(raw, |a| {
            let made = app.project()?.add_annotations(&author, &a.inputs)?;
            app.labels_changed(&made.iter().map(|m| m.image).collect::<Vec<_>>());
            Ok(made)
        }),
        c::AnnotationEdit::NAME => run::<c::AnnotationEdit>(raw, |a| {
            let edited = app.project()?.edit_annotation(&author, a.id, &a.edit)?;
            app.labels_changed(&[edited.image]);
            Ok(edited)
        }),
        c::AnnotationsDelete::NAME => run::<c::AnnotationsDelete>(raw, |a| {
            let project = app.project()?;
            let images = images_of(&project, &a.ids);
            project.delete_annotations(&author, &a.ids)?;
            app.labels_changed(&images);
            Ok(())
        }),
        c::AnnotationsReview::NAME => run::<c::AnnotationsReview>(raw, |a| {
            let project = app.project()?;
            project.review(&author, &a.ids, a.state)?;
            app.labels_changed(&images_of(&project, &a.ids));
            Ok(())
        }),
        c::ImageStateSet::NAME => run::<c::ImageStateSet>(raw, |a| {
            app.project()?.set_image_states(&author, &a.images, a.state)?;
            app.labels_changed(&a.images);
            Ok(())
        }),
        c::ImageStateSetMatching::NAME => run::<c::ImageStateSetMatching>(raw, |a| {
            let project = app.project()?;
            let images = project.images_matching(&a.query)?;
            project.set_image_states(&author, &images, a.state)?;
            app.labels_changed(&images);
            Ok(images.len() as u64)
        }),
        c::LabelStates::NAME => run::<c::LabelStates>(raw, |_| app.project()?.label_states()),
        c::Undo::NAME => run::<c::Undo>(raw, |_| undo_or_redo(app, &author, false)),
        c::Redo::NAME => run::<c::Redo>(raw, |_| undo_or_redo(app, &author, true)),
        c::History::NAME => {
            run::<c::History>(raw, |a| app.project()?.history(a.image, a.limit.unwrap_or(100)))
        }
        c::ImagePredictions::NAME => {
            run::<c::ImagePredictions>(raw, |a| app.project()?.image_predictions(a.image, a.run))
        }
        c::PredictionsDecide::NAME => run::<c::PredictionsDecide>(raw, |a| {
            let made = app.project()?.decide_predictions(&author, &a.decisions)?;
            app.labels_changed(&made.iter().map(|m| m.image).collect::<Vec<_>>());
            Ok(made)
        }),
        c::ImageConditions::NAME => run::<c::ImageConditions>(raw, |a| {
            let (claims, resolved) = app.project()?.image_conditions(a.image)?;
            Ok(ImageConditions { claims, resolved })
        }),
        c::ConditionsSet::NAME => run::<c::ConditionsSet>(raw, |a| {
            let value = a.value.ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidInput, "conditions_set: arguments: missing field `value`")
            })?;
            app.project()?.set_conditions(&a.images, &a.key, &value)?;
            Ok(a.images.len())
        }),
        c::ConditionsSetMatching::NAME => run::<c::ConditionsSetMatching>(raw, |a| {
            let project = app.project()?;
            let images = project.images_matching(&a.query)?;
            project.set_conditions(&images, &a.key, &a.value)
        }),
        c::ConditionsClear::NAME => run::<c::ConditionsClear>(raw, |a| {
            let project = app.project()?;
            let mut cleared = 0u64;
            for image in &a.images {
                cleared += u64::from(project.clear_condition(*image, &a.key)?);
            }
            Ok(cleared)
        }),
        c::Coverage::NAME => run::<c::Coverage>(raw, |_| app.project()?.coverage()),
        c::CoverageTargetSet::NAME => run::<c::CoverageTargetSet>(raw, |a| {
            app.project()?.set_coverage_target(&a.key, &a.value, a.share)
        }),
        c::Queue::NAME => run::<c::Queue>(raw, |a| {
            let mut request = a.request.unwrap_or_default();
            if a.assign {
                request.assign_to = Some(author);
            }
            app.project()?.queue(&request)
        }),
        c::ReviewQueue::NAME => {
            run::<c::ReviewQueue>(raw, |a| app.project()?.review_queue(&a.request.unwrap_or_default()))
        }
        c::Versions::NAME => run::<c::Versions>(raw, |_| app.project()?.versions()),
        c::VersionFreeze::NAME => run::<c::VersionFreeze>(raw, |a| {
            let req = FreezeRequest {
                name: a.name,
                notes: a.notes,
                parent: None,
                split: a.split,
                group_by: a.group_by,
                author,
            };
            app.project()?.freeze_version(&req)
        }),
        c::VersionsDiff::NAME => run::<c::VersionsDiff>(raw, |a| {
            app.project()?.diff_versions(&a.from, &a.to, a.max_details.unwrap_or(1000))
        }),
        other => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("unknown command `{other}` (the command `commands` lists them)"),
        )),
    }
}

fn undo_or_redo(app: &App, author: &str, redo: bool) -> Result<Option<ActionSummary>, ApiError> {
    let project = app.project()?;
    let done = if redo { project.redo(author)? } else { project.undo(author)? };
    // Which images changed is in the journal; a coarse event makes views reload.
    app.send(&LabelsChanged { images: Vec::new() });
    Ok(done)
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
                if let Ok(v) = serde_json::to_value(ExportProgress { done, total }) {
                    jobs.progress(&events, id, v);
                }
            }
        };
        let result = project.export_version(&request, &mut progress, &cancel).and_then(encode);
        jobs.finish(&events, id, result);
    });
    Ok(Started { job: id })
}
