//! The layer the desktop shell (`src-tauri`) and the HTTP server (`lacuna serve`) share, so the
//! two transports answer exactly the same way:
//!
//! - [`App::call`]: one command table (`commands.rs`) mapping a command name and JSON arguments
//!   to a `lacuna-api` use case and its JSON answer; no business logic here, only argument
//!   decoding, the acting person and the open project;
//! - background jobs (import, pre-label, export) that stream progress as [`Event`]s and can be
//!   cancelled ([`App::call`] `job_cancel`);
//! - [`App::image_file`] / [`App::thumbnail`]: the only files a transport may serve, looked up
//!   in the open catalog by image id (never a path from the client);
//! - the types of it all: [`args`] (each command's arguments), [`Command`] (per command in
//!   [`command`]: its argument and answer types) and [`events`] (the event payloads). With the
//!   feature `ts`, the module `ts` writes them as TypeScript for the UI
//!   (`scripts/gen-ts-types.sh`; normal builds never compile ts-rs).

pub mod args;
mod commands;
pub mod events;
mod jobs;
mod recent;
#[cfg(feature = "ts")]
pub mod ts;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, RwLock};

use lacuna_api::{ApiError, Clock, ErrorCode, ImageId, Project};
use serde::Serialize;
use serde_json::Value;

use crate::events::{AppEvent, LabelsChanged, ProjectOpened};

pub use commands::{AppInfo, COMMANDS, Command, CommandInfo, ImageConditions, Started, command};
#[cfg(feature = "ts")]
pub use commands::{CommandVisitor, visit_commands};
pub use jobs::RunningJob;
pub use recent::RecentProject;

/// Something that happened, pushed to every subscriber: `job_progress`, `job_finished`,
/// `labels_changed`, `project_opened` (the payload types are in [`events`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub event: String,
    pub payload: Value,
}

/// The open project and what runs in it. Cheap to share (`Arc<App>`); every method takes `&self`.
#[derive(Debug)]
pub struct App {
    clock: Arc<dyn Clock>,
    author: String,
    config_dir: Option<PathBuf>,
    project: RwLock<Option<Arc<Project>>>,
    jobs: Arc<jobs::Jobs>,
    events: Emitter,
}

/// Sends events to every subscriber; cloned into job threads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Emitter(Arc<Mutex<Vec<Sender<Event>>>>);

impl Emitter {
    pub(crate) fn send<E: AppEvent>(&self, payload: &E) {
        let Ok(payload) = serde_json::to_value(payload) else { return };
        let event = Event { event: E::NAME.to_string(), payload };
        if let Ok(mut subs) = self.0.lock() {
            subs.retain(|tx| tx.send(event.clone()).is_ok());
        }
    }

    fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = channel();
        if let Ok(mut subs) = self.0.lock() {
            subs.push(tx);
        }
        rx
    }
}

impl App {
    /// `author`: who edits (recorded in the journal). `config_dir`: where the recent-projects
    /// list lives (`None`: not kept).
    pub fn new(author: &str, clock: Arc<dyn Clock>, config_dir: Option<PathBuf>) -> Self {
        Self {
            clock,
            author: author.to_string(),
            config_dir,
            project: RwLock::new(None),
            jobs: Arc::default(),
            events: Emitter::default(),
        }
    }

    /// The app with `dir`'s project open.
    pub fn with_project(
        author: &str,
        clock: Arc<dyn Clock>,
        config_dir: Option<PathBuf>,
        dir: &Path,
    ) -> Result<Self, ApiError> {
        let app = Self::new(author, clock, config_dir);
        app.open_project(dir, false)?;
        Ok(app)
    }

    pub fn author(&self) -> &str {
        &self.author
    }

    /// Runs a command (see [`COMMANDS`]) with its JSON arguments (an object; `null` counts as
    /// `{}`) and returns its JSON answer.
    pub fn call(&self, command: &str, args: Value) -> Result<Value, ApiError> {
        commands::dispatch(self, command, args)
    }

    /// A stream of every [`Event`] from now on; dropped receivers are forgotten.
    pub fn subscribe(&self) -> Receiver<Event> {
        self.events.subscribe()
    }

    pub(crate) fn send<E: AppEvent>(&self, payload: &E) {
        self.events.send(payload);
    }

    pub(crate) fn emitter(&self) -> Emitter {
        self.events.clone()
    }

    /// The open project, or a `no_project` error.
    pub fn project(&self) -> Result<Arc<Project>, ApiError> {
        self.project
            .read()
            .map_err(|_| ApiError::new(ErrorCode::Internal, "project lock poisoned"))?
            .clone()
            .ok_or_else(|| {
                ApiError::new(ErrorCode::ProjectNotFound, "no project is open: open or create one first")
            })
    }

    pub(crate) fn open_project(&self, dir: &Path, create: bool) -> Result<Arc<Project>, ApiError> {
        if self.jobs.any_running() {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "a job is still running in the open project: cancel it or wait before switching projects",
            ));
        }
        let project = Arc::new(if create {
            Project::create(dir, Arc::clone(&self.clock))?
        } else {
            Project::open(dir, Arc::clone(&self.clock))?
        });
        *self.project.write().map_err(|_| ApiError::new(ErrorCode::Internal, "project lock poisoned"))? =
            Some(Arc::clone(&project));
        if let Some(config) = &self.config_dir {
            // The list is a convenience: failing to write it never fails the open.
            let _ = recent::remember(config, project.dir(), self.clock.now_unix_s());
        }
        self.send(&ProjectOpened { path: project.dir().to_path_buf() });
        Ok(project)
    }

    pub(crate) fn recent(&self) -> Vec<RecentProject> {
        self.config_dir.as_deref().map(recent::list).unwrap_or_default()
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn jobs(&self) -> &Arc<jobs::Jobs> {
        &self.jobs
    }

    /// The file of image `id` of the open project: the only way a transport finds an original.
    pub fn image_file(&self, id: i64) -> Result<PathBuf, ApiError> {
        let details = self.project()?.image_details(id)?;
        Ok(PathBuf::from(details.abs_path))
    }

    /// The cached JPEG thumbnail of image `id` (made again from the original when missing).
    pub fn thumbnail(&self, id: i64) -> Result<Vec<u8>, ApiError> {
        self.project()?.thumbnail_jpeg(id)
    }

    pub(crate) fn labels_changed(&self, images: &[ImageId]) {
        let mut images = images.to_vec();
        images.sort_unstable();
        images.dedup();
        self.send(&LabelsChanged { images });
    }
}

/// The media type of an original from its extension (the catalog only holds images it decoded),
/// for the transports' `Content-Type`.
pub fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("jpg" | "jpeg" | "jpe" | "jfif") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("bmp") => "image/bmp",
        Some("tif" | "tiff") => "image/tiff",
        _ => "application/octet-stream",
    }
}

/// The HTTP status a transport answers an error with.
pub fn http_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::InvalidInput => 400,
        ErrorCode::NotFound | ErrorCode::ProjectNotFound | ErrorCode::PathNotFound => 404,
        ErrorCode::Conflict | ErrorCode::ProjectExists => 409,
        _ => 500,
    }
}
