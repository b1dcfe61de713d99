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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// One thing that happened in a job, as the event stream sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        plan: Box<serde_json::Value>,
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
                plan: Box::new(plan_json(plan)),
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

fn plan_json(plan: &ModulePlan) -> serde_json::Value {
    serde_json::to_value(plan).unwrap_or(serde_json::Value::Null)
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
    /// True once the outcome is recorded and the last event sent.
    done: bool,
}

impl Job {
    /// The job's current view.
    pub fn view(&self) -> JobView {
        self.lock().view.clone()
    }

    /// True until its steps ended and its outcome is recorded.
    pub fn is_running(&self) -> bool {
        !self.lock().done
    }

    /// The events from index `from` on, and whether the job has ended.
    pub fn events_from(&self, from: usize) -> (Vec<JobEvent>, bool) {
        let progress = self.lock();
        let events = progress.events.get(from..).unwrap_or_default().to_vec();
        (events, progress.done)
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

    /// Adds `event`; `last`: the job is over with it.
    fn push(&self, event: JobEvent, last: bool) {
        let mut progress = self.lock();
        progress.events.push(event);
        progress.view.events = progress.events.len();
        progress.done = last;
        self.count.send_replace(progress.events.len());
    }

    /// Settles the job's state from the upgrade's outcome.
    fn settle(&self, outcome: Result<UpgradeReport, String>) {
        let mut progress = self.lock();
        let state = match &outcome {
            Ok(report) if report.is_success() => JobState::Succeeded,
            Ok(report)
                if progress.view.cancel_requested
                    || report.failures().any(|f| f.kind == FailureKind::Stopped) =>
            {
                JobState::Cancelled
            }
            _ => JobState::Failed,
        };
        let view = &mut progress.view;
        view.state = state;
        view.finished_at = Some(timestamp(SystemTime::now()));
        match outcome {
            Ok(report) => view.report = Some(report),
            Err(error) => view.error = Some(error),
        }
    }

    /// Sends the last event: the job is over.
    fn end(&self) {
        let state = self.lock().view.state;
        self.push(JobEvent::Finished { state }, true);
    }

    /// The job as the ledger keeps it: its view and its events.
    fn record(&self) -> JobRecord {
        let progress = self.lock();
        let view = &progress.view;
        let detail = serde_json::json!({ "job": view, "events": progress.events });
        JobRecord {
            id: view.id.clone(),
            started_at: view.started_at.clone(),
            finished_at: view.finished_at.clone().unwrap_or_default(),
            outcome: serde_json::to_value(view.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            detail: detail.to_string(),
        }
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
            },
            events: Vec::new(),
            done: false,
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
            watched.settle(Err(format!("the job ended abnormally: {panicked}")));
            watched.end();
        }
    });
    job
}

/// Runs the job's upgrade to its end, records it, and sends its last event.
async fn run(host: Host, job: Arc<Job>) {
    let request = job.view().request;
    let on_event = |event: Event<'_>| {
        if let Some(event) = JobEvent::from_engine(event) {
            job.push(event, false);
        }
    };
    let outcome = if request.resume {
        host.resume(&request.modules, on_event).await
    } else {
        host.upgrade(&request.modules, on_event).await
    };
    job.settle(outcome.map_err(|e| wasmig_engine::with_causes(&e)));
    // Recorded before the last event, so that whoever sees the job end finds it recorded.
    if let Err(error) = host.record_last_job(&job.record()).await {
        tracing::warn!(
            "the last job's outcome could not be kept in the ledger: {}",
            wasmig_engine::with_causes(&error)
        );
    }
    job.end();
}
