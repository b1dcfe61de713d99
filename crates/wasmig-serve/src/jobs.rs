//! Upgrades run as jobs: each in a task of its own that no request owns, so a closed tab or a
//! dropped connection cuts nothing short. One job runs at a time; its events are kept for
//! whoever attaches later, and the last job's outcome goes to the ledger.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use wasmig_engine::{
    Event, FailureKind, Host, JobRecord, ModulePlan, Stop, UpgradeReport, timestamp,
};

/// What a job is asked to do: the options of `wasmig upgrade` and `wasmig resume`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobRequest {
    /// Modules to upgrade (default: all).
    pub modules: Vec<String>,
    /// Replay unfinished steps first (`wasmig resume`).
    pub resume: bool,
    /// Set the maintenance flag while the steps run.
    pub maintenance: bool,
    /// Back the modules up first, into the server's backup directory.
    pub backup: bool,
    /// Run the steps of modules whose objects changed outside their steps.
    pub accept_drift: bool,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Its steps are running.
    Running,
    /// Every module reached its header's version.
    Succeeded,
    /// A module stopped short, or the upgrade could not start.
    Failed,
    /// Cancelled: the running step was rolled back and nothing after it ran.
    Cancelled,
}

impl JobState {
    /// The state's name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// One thing that happened in a job, as the event stream sends it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum JobEvent {
    /// The backup was written before anything ran.
    BackedUp {
        /// Where it is.
        location: String,
    },
    /// A module is about to be upgraded according to its plan.
    Module {
        /// The module's plan.
        plan: Box<ModulePlan>,
    },
    /// A step started.
    StepStarted {
        /// The module.
        module: String,
        /// `install` or `NNN_slug`.
        step: String,
    },
    /// A step ended.
    StepFinished {
        /// The module.
        module: String,
        /// `install` or `NNN_slug`.
        step: String,
        /// How long it ran, in milliseconds.
        duration_ms: u64,
        /// Why it failed, when it did.
        error: Option<String>,
    },
    /// The job ended; always its last event.
    Finished {
        /// How.
        state: JobState,
    },
}

impl JobEvent {
    /// The event's kind, as the stream names it.
    pub fn kind(&self) -> &'static str {
        match self {
            JobEvent::BackedUp { .. } => "backed-up",
            JobEvent::Module { .. } => "module",
            JobEvent::StepStarted { .. } => "step-started",
            JobEvent::StepFinished { .. } => "step-finished",
            JobEvent::Finished { .. } => "finished",
        }
    }

    /// The engine's event as a job keeps it (`None` for kinds this server does not know).
    fn from_engine(event: Event<'_>) -> Option<Self> {
        Some(match event {
            Event::BackedUp { location } => JobEvent::BackedUp {
                location: location.display().to_string(),
            },
            Event::Module { plan } => JobEvent::Module {
                plan: Box::new(plan.clone()),
            },
            Event::StepStarted { module, step } => JobEvent::StepStarted {
                module: module.to_owned(),
                step: step.to_owned(),
            },
            Event::StepFinished {
                module,
                step,
                duration,
                error,
            } => JobEvent::StepFinished {
                module: module.to_owned(),
                step: step.to_owned(),
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                error: error.map(str::to_owned),
            },
            _ => return None,
        })
    }
}

/// What the API shows of a job: everything but its events, which the event stream sends.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    /// The job's identifier.
    pub id: String,
    /// What it was asked to do.
    pub request: JobRequest,
    /// Where it is.
    pub state: JobState,
    /// True once a cancel was asked for.
    pub cancel_requested: bool,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// How many events it has sent so far.
    pub events: usize,
    /// What the upgrade did, module by module, once it ended.
    pub report: Option<UpgradeReport>,
    /// Why the upgrade could not run at all, when it could not.
    pub error: Option<String>,
    /// True once the ledger keeps the job's outcome (a restarted server shows it); false
    /// while it runs, or when the ledger could not be written.
    pub kept_in_ledger: bool,
}

/// A job and everything attached clients need.
#[derive(Debug)]
pub struct Job {
    progress: Mutex<Progress>,
    stop: Stop,
    /// The number of events so far, for streams waiting for the next one.
    count: watch::Sender<usize>,
}

#[derive(Debug)]
struct Progress {
    view: JobView,
    events: Vec<JobEvent>,
}

impl Job {
    /// The job's current view.
    pub fn view(&self) -> JobView {
        self.lock().view.clone()
    }

    /// True until its outcome is recorded and its last event sent.
    pub fn is_running(&self) -> bool {
        self.lock().view.state == JobState::Running
    }

    /// The events from index `from` on, and whether the job has ended.
    pub fn events_from(&self, from: usize) -> (Vec<JobEvent>, bool) {
        let progress = self.lock();
        let events = progress.events.get(from..).unwrap_or_default().to_vec();
        (events, progress.view.state != JobState::Running)
    }

    /// A receiver told whenever an event is added.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }

    /// Asks the job to stop at the next step boundary (the running step is rolled back).
    /// False when it had already ended.
    pub fn cancel(&self) -> bool {
        let mut progress = self.lock();
        if progress.view.state != JobState::Running {
            return false;
        }
        progress.view.cancel_requested = true;
        self.stop.stop();
        true
    }

    /// Adds an event of the running job.
    fn push(&self, event: JobEvent) {
        let mut progress = self.lock();
        progress.events.push(event);
        progress.view.events = progress.events.len();
        self.count.send_replace(progress.events.len());
    }

    /// The job as it ends after `outcome`, not shown yet: its final view and all its events,
    /// the last one [`JobEvent::Finished`].
    fn ending(&self, outcome: Result<UpgradeReport, String>) -> (JobView, Vec<JobEvent>) {
        let progress = self.lock();
        let mut view = progress.view.clone();
        view.state = match &outcome {
            Ok(report) if report.is_success() => JobState::Succeeded,
            // Cancelled when the upgrade says it stopped: a cancel that came too late (the
            // last step had ended) or a step that failed for its own reason is not one.
            Ok(report) if report.failures().any(|f| f.kind == FailureKind::Stopped) => {
                JobState::Cancelled
            }
            _ => JobState::Failed,
        };
        view.finished_at = Some(timestamp(SystemTime::now()));
        match outcome {
            Ok(report) => view.report = Some(report),
            Err(error) => view.error = Some(error),
        }
        let mut events = progress.events.clone();
        events.push(JobEvent::Finished { state: view.state });
        view.events = events.len();
        (view, events)
    }

    /// Shows the job's end: its final view and its last event, at once.
    fn finish(&self, view: JobView) {
        let mut progress = self.lock();
        let state = view.state;
        progress.view = view;
        progress.events.push(JobEvent::Finished { state });
        self.count.send_replace(progress.events.len());
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        // A panic while the lock was held left consistent data: every update is one step.
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts `host` on `request` as job `id`: the steps run on a thread of their own, and the
/// outcome is recorded in the ledger when they end.
pub fn spawn(host: Host, id: String, request: JobRequest) -> Arc<Job> {
    let job = Arc::new(Job {
        progress: Mutex::new(Progress {
            view: JobView {
                id,
                request,
                state: JobState::Running,
                cancel_requested: false,
                started_at: timestamp(SystemTime::now()),
                finished_at: None,
                events: 0,
                report: None,
                error: None,
                kept_in_ledger: false,
            },
            events: Vec::new(),
        }),
        stop: host.stop_handle(),
        count: watch::Sender::new(0),
    });
    let work = crate::on_own_thread({
        let job = Arc::clone(&job);
        move || run(host, job)
    });
    let watched = Arc::clone(&job);
    tokio::spawn(async move {
        // A panic in the engine must not leave the job "running" (and the server refusing
        // every other job) forever.
        if let Err(panicked) = work.await
            && watched.is_running()
        {
            let failure = format!("the job ended abnormally: {panicked}");
            let (view, _) = watched.ending(Err(failure));
            watched.finish(view);
        }
    });
    job
}

/// Runs the job's upgrade to its end, records it, and sends its last event.
async fn run(host: Host, job: Arc<Job>) {
    let request = job.view().request;
    let on_event = |event: Event<'_>| {
        if let Some(event) = JobEvent::from_engine(event) {
            job.push(event);
        }
    };
    let outcome = if request.resume {
        host.resume(&request.modules, on_event).await
    } else {
        host.upgrade(&request.modules, on_event).await
    };
    let (mut view, events) = job.ending(outcome.map_err(|e| wasmig_engine::with_causes(&e)));
    // Recorded before it is shown, so that whoever sees the job end finds it recorded.
    view.kept_in_ledger = true;
    let kept = record(&view, &events);
    let recording = host.record_last_job(&kept);
    view.kept_in_ledger = match tokio::time::timeout(LEDGER_WAIT, recording).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            let error = wasmig_engine::with_causes(&error);
            tracing::warn!("the job's outcome could not be kept in the ledger: {error}");
            false
        }
        Err(_) => {
            tracing::warn!("the job's outcome could not be kept in the ledger: no answer");
            false
        }
    };
    job.finish(view);
}

/// How long the ledger may take to keep a job's outcome.
const LEDGER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A job as the ledger keeps it: its view and its events.
fn record(view: &JobView, events: &[JobEvent]) -> JobRecord {
    let detail = serde_json::json!({ "job": view, "events": events });
    JobRecord {
        id: view.id.clone(),
        started_at: view.started_at.clone(),
        finished_at: view.finished_at.clone().unwrap_or_default(),
        outcome: view.state.as_str().to_owned(),
        detail: detail.to_string(),
    }
}
