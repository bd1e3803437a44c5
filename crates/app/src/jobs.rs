//! Background jobs started through the command table: each gets an id, streams its progress as
//! `job_progress` events, ends with one `job_finished` event (the summary or the error), and can
//! be cancelled. What a cancelled job committed stays; starting it again resumes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lacuna_api::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Emitter;
use crate::events::{JobFinished, JobProgress};

/// A job as listed by `jobs_running`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunningJob {
    pub job: u64,
    /// `import` | `prelabel` | `export`
    pub kind: String,
    pub started_at_unix_s: i64,
    /// The latest progress event's payload.
    #[cfg_attr(feature = "ts", ts(type = "ImportProgress | PrelabelProgress | ExportProgress | null"))]
    pub progress: Option<Value>,
    pub cancelling: bool,
}

#[derive(Debug)]
struct Entry {
    kind: String,
    started_at_unix_s: i64,
    cancel: Arc<AtomicBool>,
    progress: Option<Value>,
}

#[derive(Debug, Default)]
pub(crate) struct Jobs {
    next: AtomicU64,
    running: Mutex<HashMap<u64, Entry>>,
}

impl Jobs {
    /// Registers a job; returns its id.
    pub(crate) fn register(&self, kind: &str, cancel: Arc<AtomicBool>, now: i64) -> u64 {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut running) = self.running.lock() {
            running
                .insert(id, Entry { kind: kind.to_string(), started_at_unix_s: now, cancel, progress: None });
        }
        id
    }

    /// Records and announces progress.
    pub(crate) fn progress(&self, events: &Emitter, id: u64, progress: Value) {
        let kind = match self.running.lock() {
            Ok(mut running) => match running.get_mut(&id) {
                Some(e) => {
                    e.progress = Some(progress.clone());
                    e.kind.clone()
                }
                None => return,
            },
            Err(_) => return,
        };
        events.send(&JobProgress { job: id, kind, progress });
    }

    /// Forgets the job and announces how it ended.
    pub(crate) fn finish(&self, events: &Emitter, id: u64, result: Result<Value, ApiError>) {
        let entry = self.running.lock().ok().and_then(|mut r| r.remove(&id));
        let kind = entry.as_ref().map_or_else(String::new, |e| e.kind.clone());
        let cancelled = entry.is_some_and(|e| e.cancel.load(Ordering::SeqCst));
        let (ok, summary, error) = match result {
            Ok(summary) => (true, Some(summary), None),
            Err(e) => (false, None, Some(e)),
        };
        events.send(&JobFinished { job: id, kind, ok, cancelled, summary, error });
    }

    /// Asks a job to stop; false when no such job is running.
    pub(crate) fn cancel(&self, id: u64) -> bool {
        match self.running.lock() {
            Ok(running) => running.get(&id).map(|e| e.cancel.store(true, Ordering::SeqCst)).is_some(),
            Err(_) => false,
        }
    }

    pub(crate) fn list(&self) -> Vec<RunningJob> {
        let mut jobs: Vec<RunningJob> = match self.running.lock() {
            Ok(running) => running
                .iter()
                .map(|(id, e)| RunningJob {
                    job: *id,
                    kind: e.kind.clone(),
                    started_at_unix_s: e.started_at_unix_s,
                    progress: e.progress.clone(),
                    cancelling: e.cancel.load(Ordering::SeqCst),
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        jobs.sort_by_key(|j| j.job);
        jobs
    }

    pub(crate) fn any_running(&self) -> bool {
        self.running.lock().map(|r| !r.is_empty()).unwrap_or(false)
    }

    /// Whether a job of `kind` runs (one import and one pre-label at a time per project).
    pub(crate) fn running_kind(&self, kind: &str) -> Option<u64> {
        self.running.lock().ok()?.iter().find(|(_, e)| e.kind == kind).map(|(id, _)| *id)
    }
}
