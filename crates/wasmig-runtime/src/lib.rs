//! The sandbox a migration step runs in.
//!
//! One [`Runtime`] per process holds the wasmtime engine and linker. [`Runtime::prepare`]
//! compiles a component and checks that it targets the `wasmig:migration` world and imports
//! nothing else; [`Runtime::run`] runs its `up()` in a fresh store, inside a database
//! transaction the caller opened and gets back afterwards.
//!
//! The guest gets no filesystem, no network, no environment, no arguments; its stdout and
//! stderr are captured up to a cap; its clocks are fixed and its randomness seeded per step, so
//! running a step twice sends the same statements. CPU is bounded by fuel, memory by a limiter.

mod cache;
mod gate;
mod host;
mod journal;
mod journaled;
mod sandbox;
mod session;
mod stop;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use semver::Version;
use wasmig_db::Transaction;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

use crate::host::{Migration, MigrationPre, StepState};
use crate::session::{Mode, Session, Stopped};

pub use cache::{CacheError, ComponentCache};
pub use gate::{Gate, GuestStatement, Hooks, HostFailure, OpenGate, Route};
pub use journal::{Admission, BoxFuture, Journal, NoJournal, Statement};
pub use stop::Stop;
pub use wasmig_db::{Denial, Rule};

/// The version of the `wasmig:migration` WIT package this host implements.
pub const HOST_API_VERSION: Version = Version::new(0, 1, 2);

/// Per-step resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel for the guest: roughly, WebAssembly instructions it may execute.
    pub fuel: u64,
    /// The most linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// How much of the guest's stdout and stderr is kept, in bytes; the rest is dropped.
    pub output_bytes: usize,
    /// Statements the guest may send (each row of a batch counts once).
    pub statements: u64,
    /// Rows its queries may return, all queries together.
    pub rows: u64,
    /// Bytes its queries may return (text and blob lengths, 8 per number).
    pub result_bytes: u64,
    /// The longest statement it may send, in bytes (checked before the statement is parsed).
    pub statement_bytes: usize,
    /// Wall-clock time the step may take, database calls included.
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 20_000_000_000,
            memory_bytes: 256 << 20,
            output_bytes: 64 << 10,
            statements: 1_000_000,
            rows: 1_000_000,
            result_bytes: 256 << 20,
            statement_bytes: 4 << 20,
            time: Duration::from_secs(600),
        }
    }
}

/// What a step is told about where it runs (the WIT `context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepContext {
    /// The module's name.
    pub module: String,
    /// `002_add_status`, or `install`.
    pub step: String,
    /// The version stored before this upgrade; `None` on a fresh install.
    pub from_version: Option<String>,
    /// The version the module is being brought to.
    pub to_version: String,
}

/// Why a component could not be prepared, or why a step failed. New kinds may be added:
/// match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a component of the `wasmig:migration` world this host serves.
    #[error("not a valid migration component: {0:#}")]
    Invalid(wasmtime::Error),
    /// `up()` returned an error.
    #[error("the step returned an error: {0}")]
    Returned(String),
    /// The guest trapped (a panic, an out-of-bounds access, a limit).
    #[error("the step trapped: {reason}{}", output_suffix(.output))]
    Trapped {
        /// What stopped it.
        reason: String,
        /// The last of its captured output (e.g. the panic message).
        output: String,
    },
    /// On a replay, the step sent a statement other than the one its journal recorded.
    #[error("the replay diverged from the journal: {0}")]
    Diverged(String),
    /// The policy or the database refused a statement; the step was stopped.
    #[error("denied: {0}")]
    Denied(Denial),
    /// The step exceeded one of its limits (statements, rows, bytes returned).
    #[error("quota exceeded: {0}")]
    Quota(String),
    /// The journal of a running step could not be written.
    #[error("the statement journal could not be written: {0}")]
    Journal(String),
    /// The step was asked to stop ([`Stop`]) before it finished.
    #[error("stopped: the upgrade was interrupted before the step finished")]
    Stopped,
    /// The host itself failed around the guest (e.g. the sandbox could not be set up).
    #[error("the host failed to run the step: {0:#}")]
    Host(wasmtime::Error),
}

fn output_suffix(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!("; guest output: {output}")
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A component compiled and checked against the world, ready to run any number of times.
#[derive(Clone)]
pub struct PreparedStep {
    pre: MigrationPre<StepState>,
    seed: [u8; 32],
    cached: bool,
}

impl PreparedStep {
    /// The seed of the guest's randomness it was prepared with.
    pub fn seed(&self) -> [u8; 32] {
        self.seed
    }

    /// True when the compiled component came from the runtime's [`ComponentCache`].
    pub fn was_cached(&self) -> bool {
        self.cached
    }

    /// The size of its compiled image (code and data), in bytes: about what holding it costs.
    pub fn code_bytes(&self) -> usize {
        let range = self.pre.instance_pre().component().image_range();
        (range.end as usize).saturating_sub(range.start as usize)
    }
}

impl fmt::Debug for PreparedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedStep").finish_non_exhaustive()
    }
}

/// What a finished run reports, success or not.
#[derive(Debug, Default)]
pub struct StepReport {
    /// How long the guest ran, host calls included.
    pub duration: Duration,
    /// Statements the guest sent (each row of a batch counts once).
    pub statements: u64,
    /// Fuel the guest consumed.
    pub fuel_used: u64,
    /// The guest's captured stdout and stderr.
    pub output: String,
    /// Statements that failed and were allowed to (`execute-tolerant`, `-- wasmig:tolerant`).
    pub tolerated: Vec<Tolerated>,
}

/// A statement that failed and was allowed to: the step went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tolerated {
    /// Its position in the step, from 0.
    pub position: u32,
    /// Its text.
    pub sql: String,
    /// The database's error.
    pub error: String,
}

impl fmt::Display for Tolerated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "statement {} `{}` failed and was tolerated: {}",
            self.position + 1,
            self.sql,
            self.error
        )
    }
}

/// One statement of a plain SQL step, as the engine split it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// Its text.
    pub sql: String,
    /// The line of the script it starts on, for messages.
    pub line: u64,
    /// True when it may fail without failing the step.
    pub tolerant: bool,
}

/// The outcome of [`Runtime::run`]: the transaction comes back either way.
#[derive(Debug)]
pub struct StepRun {
    /// The transaction the step ran in, to commit or roll back.
    pub transaction: Transaction,
    /// Figures about the run.
    pub report: StepReport,
    /// `Ok` when `up()` returned `ok`.
    pub result: Result<()>,
}

/// The wasmtime engine and linker shared by every step of the process.
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<StepState>>,
    limits: Limits,
    stop: Stop,
    /// Where compiled components are kept between runs, if anywhere.
    cache: Option<ComponentCache>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine (component model, fuel metering) and links the host interfaces.
    pub fn new(limits: Limits) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(Error::Host)?;
        start_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(Error::Host)?;
        host::add_to_linker(&mut linker).map_err(Error::Host)?;
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            limits,
            stop: Stop::default(),
            cache: None,
        })
    }

    /// True when compiled components are kept in a cache (see [`Runtime::set_cache`]).
    pub fn has_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// Keeps compiled components in `cache` and loads them from there (default: none, every
    /// component is compiled on every run).
    pub fn set_cache(&mut self, cache: Option<ComponentCache>) {
        self.cache = cache;
    }

    /// The handle that stops this runtime's steps (see [`Stop`]).
    pub fn stop_handle(&self) -> Stop {
        self.stop.clone()
    }

    /// The limits every step runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Compiles `bytes` and checks its imports and exports against the `migration` world.
    /// `seed` seeds the guest's randomness (use the component's sha256). Cranelift runs on
    /// tokio's blocking pool, so that an application's other tasks go on meanwhile.
    pub async fn prepare(&self, bytes: &[u8], seed: [u8; 32]) -> Result<PreparedStep> {
        let (_, pre, cached) = self.compile(bytes).await?;
        Ok(PreparedStep { pre, seed, cached })
    }

    /// Compiles `bytes` like [`Runtime::prepare`] and lists what the component imports
    /// (`wasmig:migration/database@0.1.2`, `wasi:io/streams@0.2.0`, …), for `verify`.
    pub async fn imports(&self, bytes: &[u8]) -> Result<Vec<String>> {
        let (component, ..) = self.compile(bytes).await?;
        Ok(component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect())
    }

    /// The component, its pre-instance and whether it came from the cache.
    async fn compile(&self, bytes: &[u8]) -> Result<(Component, MigrationPre<StepState>, bool)> {
        let (engine, linker) = (self.engine.clone(), Arc::clone(&self.linker));
        let cache = self.cache.clone();
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || {
            let (component, cached) = match cache {
                Some(cache) => cache.component(&engine, &bytes),
                None => Component::new(&engine, &bytes).map(|c| (c, false)),
            }
            .map_err(Error::Invalid)?;
            let pre = linker
                .instantiate_pre(&component)
                .and_then(MigrationPre::new)
                .map_err(Error::Invalid)?;
            Ok((component, pre, cached))
        })
        .await
        .map_err(|e| Error::Host(wasmtime::Error::msg(format!("compiling failed: {e}"))))?
    }

    /// Runs the step's `up()` inside `transaction` and hands the transaction back. Every
    /// statement goes through the hooks' gate (the policy) and journal.
    pub async fn run(
        &self,
        step: &PreparedStep,
        transaction: Transaction,
        context: StepContext,
        hooks: Hooks,
    ) -> StepRun {
        let started = Instant::now();
        let mut session = Session::new(transaction, context.clone(), hooks, self.limits);
        if session.prepare(started).await.is_err() {
            return finish_session(session, StepReport::default(), Ok(()));
        }
        let output = sandbox::CapturedOutput::new(self.limits.output_bytes);
        let state = StepState::new(
            sandbox::wasi_context(step.seed, &output),
            sandbox::MemoryLimiter::new(self.limits.memory_bytes),
            session,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        self.interrupt_at_deadline(&mut store, started);
        let result = match store.set_fuel(self.limits.fuel) {
            // Wasm code is stopped by the epoch, a statement by the database's deadline; this
            // one stops a guest waiting in WASI (a sleep, a poll) that neither sees.
            Ok(()) => self
                .bounded(started, call_up(&mut store, step, context))
                .await
                .and_then(|done| done),
            Err(e) => Err(Error::Host(e)),
        };
        let fuel_left = store.get_fuel().unwrap_or(0);
        let result = result.map_err(|e| match e {
            // The guest's code was interrupted because the step was asked to stop.
            Error::Trapped { .. } if self.stop.is_stopped() => Error::Stopped,
            Error::Trapped { reason, .. } => Error::Trapped {
                reason: self.trap_cause(
                    reason,
                    fuel_left,
                    started.elapsed(),
                    &store.data().limiter,
                ),
                output: output.tail(400),
            },
            other => other,
        });
        let report = StepReport {
            duration: started.elapsed(),
            fuel_used: self.limits.fuel - fuel_left,
            output: output.text(),
            ..StepReport::default()
        };
        let mut session = store.into_data().session;
        let result = session.settle(result).await;
        finish_session(session, report, result)
    }

    /// Runs the statements of a plain SQL step inside `transaction`, through the same hooks
    /// (policy, journal) and quotas as a component's. A statement that fails fails the step,
    /// unless it is marked tolerant.
    pub async fn run_script(
        &self,
        script: &[ScriptStatement],
        transaction: Transaction,
        context: StepContext,
        hooks: Hooks,
    ) -> StepRun {
        let started = Instant::now();
        let mut session = Session::new(transaction, context, hooks, self.limits);
        let mut result = Ok(());
        if session.prepare(started).await.is_ok() {
            for statement in script {
                let mode = if statement.tolerant {
                    Mode::Tolerant
                } else {
                    Mode::Execute
                };
                let statement_run = session.statement(mode, &statement.sql, &[]);
                match self.bounded(started, statement_run).await {
                    Err(reached) => {
                        result = Err(reached);
                        break;
                    }
                    Ok(Err(Stopped)) => break,
                    Ok(Ok(Err(e))) if !statement.tolerant => {
                        result = Err(Error::Returned(format!(
                            "line {}: `{}` failed: {e}",
                            statement.line, statement.sql
                        )));
                        break;
                    }
                    Ok(Ok(_)) => {}
                }
            }
        }
        let result = session.settle(result).await;
        let report = StepReport {
            duration: started.elapsed(),
            ..StepReport::default()
        };
        finish_session(session, report, result)
    }
}

/// The run's outcome from what the session saw: a stop the host decided (a denial, a quota,
/// a diverged replay, a journal failure) explains the end of the step better than the trap.
fn finish_session(mut session: Session, report: StepReport, result: Result<()>) -> StepRun {
    let result = match session.stopped.take() {
        Some(stopped) => Err(stopped),
        None => result,
    };
    StepRun {
        report: StepReport {
            statements: session.statements,
            tolerated: std::mem::take(&mut session.tolerated),
            ..report
        },
        transaction: session.into_transaction(),
        result,
    }
}

async fn call_up(
    store: &mut Store<StepState>,
    step: &PreparedStep,
    context: StepContext,
) -> Result<()> {
    let bindings: Migration =
        step.pre
            .instantiate_async(&mut *store)
            .await
            .map_err(|e| Error::Trapped {
                reason: format!("{e:#}"),
                output: String::new(),
            })?;
    let connection = store
        .data_mut()
        .open_connection()
        .map_err(|e| Error::Host(e.into()))?;
    let outcome = bindings
        .wasmig_migration_step()
        .call_up(&mut *store, connection, &host::wit_context(context))
        .await
        .map_err(|e| Error::Trapped {
            reason: trap_reason(&e),
            output: String::new(),
        })?;
    outcome.map_err(Error::Returned)
}

impl Runtime {
    /// When the host stops waiting for a step that started at `started`: a moment after its
    /// time limit, so that the database's own deadline (which cancels the statement on the
    /// server and reports it) comes first.
    fn hard_deadline(&self, started: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(started + self.limits.time + HARD_DEADLINE_MARGIN)
    }

    /// Runs `work` until it finishes, the step's hard deadline passes (a quota) or the step
    /// is asked to stop, whichever comes first.
    async fn bounded<T>(&self, started: Instant, work: impl Future<Output = T>) -> Result<T> {
        if self.stop.is_stopped() {
            return Err(Error::Stopped);
        }
        // Work that is done at once (SQLite's statements run on the calling thread) needs no
        // timer and no stop waiter: the deadline reached it inside the database.
        let mut work = std::pin::pin!(work);
        {
            // Scoped: a `Context` is not `Send`, and the upgrade must be (a server spawns it).
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            if let std::task::Poll::Ready(done) = work.as_mut().poll(&mut context) {
                return Ok(done);
            }
        }
        tokio::select! {
            done = tokio::time::timeout_at(self.hard_deadline(started), work) => {
                done.map_err(|_| self.time_exceeded())
            }
            () = self.stop.stopped() => Err(Error::Stopped),
        }
    }

    /// Interrupts the guest's WebAssembly code once its time limit (wall clock since
    /// `started`, database calls included) passed or a stop was asked for, checked at every
    /// epoch tick the guest's code runs through.
    fn interrupt_at_deadline(&self, store: &mut Store<StepState>, started: Instant) {
        let deadline = started + self.limits.time;
        let stop = self.stop.clone();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline || stop.is_stopped() {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                wasmtime::UpdateDeadline::Continue(1)
            })
        });
    }

    fn time_exceeded(&self) -> Error {
        Error::Quota(format!(
            "the step reached its time limit of {} s",
            self.limits.time.as_secs_f64()
        ))
    }

    /// Names the limit behind a trap, when one was hit.
    fn trap_cause(
        &self,
        reason: String,
        fuel_left: u64,
        elapsed: Duration,
        limiter: &sandbox::MemoryLimiter,
    ) -> String {
        if fuel_left == 0 {
            format!(
                "ran out of fuel (the CPU budget is {} units)",
                self.limits.fuel
            )
        } else if elapsed >= self.limits.time {
            format!(
                "exceeded the time limit of {} s",
                self.limits.time.as_secs_f64()
            )
        } else if limiter.was_exceeded() {
            format!(
                "exceeded the memory limit of {} MiB ({reason})",
                self.limits.memory_bytes >> 20
            )
        } else {
            reason
        }
    }
}

/// How long after a step's time limit the host stops waiting for it (see
/// `Runtime::hard_deadline`).
const HARD_DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// How often the engine's epoch advances: the resolution of the time limit.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the engine lives.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasmig-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("a thread for the epoch ticker");
}

/// A trap in one line: its code when it is a wasm trap, else the error's own message (the
/// wasm backtrace goes to the debug log, not to the operator).
fn trap_reason(error: &wasmtime::Error) -> String {
    tracing::debug!("guest trap: {error:?}");
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        return trap.to_string();
    }
    // The outer layers say where it happened ("error while executing at wasm backtrace:");
    // the innermost says what happened.
    let causes: Vec<String> = error
        .chain()
        .map(|cause| {
            cause
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .filter(|line| {
            !line.is_empty() && !line.starts_with("error while executing at wasm backtrace")
        })
        .collect();
    match causes.as_slice() {
        [] => error
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        [only] => only.clone(),
        [first, .., last] => format!("{first}: {last}"),
    }
}

#[cfg(test)]
mod tests {
    use super::trap_reason;

    #[test]
    fn a_trap_names_its_real_cause_not_the_backtrace_header() {
        let inner = wasmtime::Error::msg("a host call copied more than the 16 MiB allowed");
        let error = inner.context("error while executing at wasm backtrace:\n  0: 0x1f - up");
        assert_eq!(
            trap_reason(&error),
            "a host call copied more than the 16 MiB allowed"
        );
        let layered = wasmtime::Error::msg("root cause").context("calling `up`");
        assert_eq!(trap_reason(&layered), "calling `up`: root cause");
    }
}
