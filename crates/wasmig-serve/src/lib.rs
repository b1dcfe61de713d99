//! `wasmig serve`: web pages and an HTTP API over one database and its modules.
//! An upgrade is a job that runs in the server process, independent of any connection: its
//! progress streams as Server-Sent Events to whoever attaches, it can be cancelled at a step
//! boundary, one runs at a time, and its outcome is kept in the ledger.
//!
//! Every API request needs the server's [`Token`] (`Authorization: Bearer …`); the pages need
//! a session, which the login page gives for the token. Rust hosts can mount [`App::router`]
//! in their own axum server.

mod api;
mod error;
mod html;
mod jobs;
mod pages;
mod session;
mod token;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Mutex;
use wasmig_engine::{Host, Settings};

pub use error::ApiError;
pub use jobs::{Job, JobEvent, JobRequest, JobState, JobView};
pub use token::{MIN_TOKEN_LEN, Token, TokenError};

/// The server's state: a host for reads and plans, the settings each job's host is made
/// with, the token, and the current job. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    host: Host,
    settings: Settings,
    backup_dir: PathBuf,
    token: Token,
    sessions: session::Sessions,
    /// Held while a wrong token is answered, slowly: guesses are one at a time.
    guesses: Mutex<()>,
    /// Set once the server is shutting down: no job starts any more.
    closing: std::sync::atomic::AtomicBool,
    /// The last job this server started (running or ended).
    current: Mutex<Option<Arc<Job>>>,
}

impl App {
    /// A server over `host`'s database and modules. Jobs run under `settings` (limits, policy,
    /// component cache), backups go to `backup_dir`, and every request must carry `token`.
    pub fn new(host: Host, settings: Settings, backup_dir: PathBuf, token: Token) -> Self {
        App(Arc::new(Shared {
            host,
            settings,
            backup_dir,
            token,
            sessions: session::Sessions::default(),
            guesses: Mutex::new(()),
            closing: std::sync::atomic::AtomicBool::new(false),
            current: Mutex::new(None),
        }))
    }

    /// The pages and the API (`/api/…`): pages need a session (the login page trades the
    /// token for one), the API the token (or, for reading, a page's session).
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/status", get(api::status))
            .route("/modules/{name}/plan", get(api::plan))
            .route("/history", get(api::history))
            .route(
                "/maintenance",
                get(api::maintenance).post(api::set_maintenance),
            )
            .route("/jobs", post(api::start_job))
            .route("/jobs/last", get(api::last_job))
            .route("/jobs/{id}", get(api::job))
            .route("/jobs/{id}/cancel", post(api::cancel_job))
            .route("/jobs/{id}/events", get(api::job_events))
            .fallback(api::not_found)
            .method_not_allowed_fallback(api::method_not_allowed)
            .layer(from_fn_with_state(self.clone(), require_token));
        let pages = Router::new()
            .route("/", get(pages::modules))
            .route("/modules/{name}/plan", get(pages::plan))
            .route("/history", get(pages::history))
            .route("/jobs", post(pages::start_job))
            .route("/jobs/{id}", get(pages::job))
            .route("/jobs/{id}/cancel", post(pages::cancel_job))
            .route("/maintenance", post(pages::maintenance))
            .route("/logout", post(pages::logout))
            .route_layer(from_fn_with_state(self.clone(), pages::require_session));
        Router::new()
            .nest("/api", api)
            .merge(pages)
            .route("/login", get(pages::login_page).post(pages::login))
            .route("/assets/{name}", get(pages::asset))
            .fallback(pages::not_found)
            .layer(from_fn(guard_responses))
            .with_state(self.clone())
    }

    /// Answers requests on `listener` until `shutdown` completes, then until the open
    /// requests are answered.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Cancels the running job, if any, and waits until it has ended (its running step
    /// rolled back, its outcome recorded): for a server shutting down.
    /// No job starts after this is called.
    pub async fn shutdown(&self) {
        let job = {
            let current = self.0.current.lock().await;
            self.0
                .closing
                .store(true, std::sync::atomic::Ordering::SeqCst);
            current.clone()
        };
        let Some(job) = job else {
            return;
        };
        job.cancel();
        // Subscribed before the check: an end in between is not missed.
        let mut changes = job.subscribe();
        while job.is_running() && changes.changed().await.is_ok() {}
    }

    /// True when `offered` is the token. A wrong one is answered after a pause, one at a
    /// time, so that guessing is slow however many requests are sent at once.
    async fn accepts_token(&self, offered: &str) -> bool {
        if self.0.token.matches(offered) {
            return true;
        }
        let _one_at_a_time = self.0.guesses.lock().await;
        tokio::time::sleep(WRONG_TOKEN_PAUSE).await;
        false
    }

    /// Raises (with `reason`) or clears the maintenance flag. A reason must be one line of
    /// printable text of at most [`MAX_REASON_CHARS`] characters: it is shown on terminals.
    async fn set_maintenance(&self, on: bool, reason: Option<&str>) -> Result<(), ApiError> {
        let reason = match (on, reason.map(str::trim)) {
            (false, _) => None,
            (true, Some(reason)) if !reason.is_empty() => Some(reason),
            (true, _) => {
                return Err(ApiError::bad_request(
                    "raising the maintenance flag needs a non-empty reason",
                ));
            }
        };
        if let Some(reason) = reason {
            if reason.chars().any(char::is_control) {
                return Err(ApiError::bad_request(
                    "the reason must be one line without control characters",
                ));
            }
            if reason.chars().count() > MAX_REASON_CHARS {
                return Err(ApiError::bad_request(format!(
                    "the reason must be at most {MAX_REASON_CHARS} characters"
                )));
            }
        }
        Ok(self.host().set_maintenance_flag(reason).await?)
    }

    fn host(&self) -> &Host {
        &self.0.host
    }

    /// The dry run of module `name` (see [`Host::plan`]).
    async fn dry_run(&self, name: String) -> Result<wasmig_engine::DryRun, ApiError> {
        let app = self.clone();
        let planned = on_own_thread(move || async move { app.host().plan(&[name]).await })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(planned?)
    }

    /// The last job this server started.
    async fn last(&self) -> Option<Arc<Job>> {
        self.0.current.lock().await.clone()
    }

    /// The job `id`, when it is the last one this server started.
    async fn job(&self, id: &str) -> Option<Arc<Job>> {
        self.last().await.filter(|job| job.view().id == id)
    }

    /// Job `id` (`last`: the last one) and its events, `{"job": …, "events": […]}`: from
    /// memory while this server holds it, else from the ledger's record of the last job
    /// (one an earlier run of the server recorded). `None` when neither knows it.
    async fn job_json(&self, id: &str) -> Result<Option<serde_json::Value>, ApiError> {
        let wanted = |job_id: &str| id == "last" || job_id == id;
        if let Some(job) = self.last().await.filter(|job| wanted(&job.view().id)) {
            let (events, _) = job.events_from(0);
            return Ok(Some(
                serde_json::json!({ "job": job.view(), "events": events }),
            ));
        }
        let recorded = self.recorded_job().await?;
        Ok(recorded.filter(|r| wanted(r["job"]["id"].as_str().unwrap_or_default())))
    }

    /// The last job as the ledger keeps it (`{"job": …, "events": […]}`).
    async fn recorded_job(&self) -> Result<Option<serde_json::Value>, ApiError> {
        let Some(record) = self.host().last_job().await? else {
            return Ok(None);
        };
        serde_json::from_str(&record.detail).map(Some).map_err(|e| {
            ApiError::internal(format!(
                "the ledger's record of the last job is unreadable: {e}"
            ))
        })
    }

    /// Starts a job for `request`, unless one runs here or another upgrader holds the lock.
    async fn start(&self, request: JobRequest) -> Result<Arc<Job>, ApiError> {
        let mut current = self.0.current.lock().await;
        if self.0.closing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is stopping; no job starts any more",
            ));
        }
        if let Some(running) = current.as_ref().filter(|job| job.is_running()) {
            return Err(ApiError::conflict(format!(
                "job {} is running; one job runs at a time",
                running.view().id
            )));
        }
        self.check_modules(&request.modules).await?;
        // Refused here rather than in the job, so that the client hears it (the CLI beside
        // this server, or a plan, holds the lock); a race after this check fails the job.
        let lock = self
            .host()
            .database()
            .lock(Duration::ZERO)
            .await
            .map_err(wasmig_engine::Error::from)?;
        lock.release().await;
        let host = Host::with_settings(
            self.host().database().clone(),
            self.host().modules_dir(),
            self.job_settings(&request),
        )?;
        let id = token::random_hex::<8>().map_err(|e| ApiError::internal(e.to_string()))?;
        let job = jobs::spawn(host, id, request);
        *current = Some(Arc::clone(&job));
        Ok(job)
    }

    /// Refuses names that are not modules of the directory or the ledger.
    async fn check_modules(&self, names: &[String]) -> Result<(), ApiError> {
        if names.is_empty() {
            return Ok(());
        }
        let known = self.host().status().await?;
        match names
            .iter()
            .find(|name| !known.iter().any(|plan| &plan.module == *name))
        {
            Some(unknown) => Err(ApiError::not_found(format!(
                "no module named `{unknown}` in {}",
                self.host().modules_dir().display()
            ))),
            None => Ok(()),
        }
    }

    fn job_settings(&self, request: &JobRequest) -> Settings {
        let mut settings = self.0.settings.clone();
        settings.maintenance = request.maintenance;
        settings.accept_drift = request.accept_drift;
        settings.backup_dir = request.backup.then(|| self.0.backup_dir.clone());
        settings
    }
}

/// Runs the future `work` makes to its end on a thread of tokio's blocking pool, in the
/// current runtime (which must be multi-threaded, as the CLI's is). The engine's upgrade and
/// plan futures are not provably `Send` (rustc cannot show it for their higher-ranked
/// borrows), so they cannot be spawned as tasks; a thread of their own also keeps a long
/// step's compilation off the threads that answer requests.
fn on_own_thread<F, T>(work: impl FnOnce() -> F + Send + 'static) -> tokio::task::JoinHandle<T>
where
    F: Future<Output = T>,
    T: Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(work()))
}

/// How long a wrong token waits for its answer.
const WRONG_TOKEN_PAUSE: Duration = Duration::from_millis(500);

/// The longest maintenance reason accepted.
pub const MAX_REASON_CHARS: usize = 500;

/// Lets a request through only with `Authorization: Bearer <token>`, or a GET with a page's
/// session cookie (the job page's event stream); 401 otherwise.
async fn require_token(State(app): State<App>, request: Request, next: Next) -> Response {
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let reading_with_session = request.method() == axum::http::Method::GET
        && app.0.sessions.find(request.headers()).is_some();
    let with_token = match offered {
        Some(token) => app.accepts_token(&token).await,
        None => false,
    };
    if with_token || reading_with_session {
        return next.run(request).await;
    }
    let mut refused = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this server needs its token: Authorization: Bearer <token>",
    )
    .into_response();
    refused
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    refused
}

/// Headers every answer carries (nothing cached, framed, sniffed, or referred to another site), and one log
/// line per request: method, route and status, never the query, headers or body.
async fn guard_responses(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unrouted)", MatchedPath::as_str)
        .to_owned();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // `no-referrer` would make browsers send `Origin: null` with same-origin forms.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages set their own policy (scripts and styles from this server).
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    tracing::info!(target: "wasmig::serve", "{method} {route} {}", response.status());
    response
}
