//! A background job handle shared by every long-running use case.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::{ApiError, ImportSummary, PrelabelSummary};

/// A running job. Dropping the handle does not stop the job; call [`Job::cancel`] and then
/// [`Job::wait`]. What a cancelled job committed stays, and running it again resumes.
#[derive(Debug)]
pub struct Job<T> {
    id: i64,
    cancel: Arc<AtomicBool>,
    handle: JoinHandle<Result<T, ApiError>>,
}

/// An import ([`crate::Project::start_import`]); its id is the import job's.
pub type ImportJob = Job<ImportSummary>;
/// A pre-labeling run ([`crate::Project::start_prelabel`]); its id is the model run's.
pub type PrelabelJob = Job<PrelabelSummary>;

impl<T> Job<T> {
    pub(crate) fn new(id: i64, cancel: Arc<AtomicBool>, handle: JoinHandle<Result<T, ApiError>>) -> Self {
        Self { id, cancel, handle }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    /// Asks the job to stop soon.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// The flag [`Job::cancel`] sets, for signal handlers.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Waits for the job to end.
    pub fn wait(self) -> Result<T, ApiError> {
        self.handle.join().map_err(|_| ApiError::internal("a job thread panicked"))?
    }
}
