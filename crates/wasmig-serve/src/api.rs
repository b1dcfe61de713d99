//! The JSON API: status, a module's plan, history, the maintenance flag, and jobs with their
//! event stream. Every handler answers JSON; errors are `{"error": "…"}` with a 4xx or 5xx.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use wasmig_engine::{DryRun, HistoryEntry, StatusReport};

use crate::App;
use crate::error::ApiError;
use crate::jobs::{Job, JobEvent, JobRequest};

/// `GET /api/status`: what `wasmig status --json` prints.
pub async fn status(State(app): State<App>) -> Result<Json<StatusReport>, ApiError> {
    Ok(Json(app.host().status_report().await?))
}

/// `GET /api/modules/{name}/plan`: the dry run of one module (`wasmig plan NAME --json`).
pub async fn plan(
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<DryRun>, ApiError> {
    Ok(Json(app.dry_run(name).await?))
}

/// The query of `GET /api/history`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only this module's steps.
    module: Option<String>,
}

/// `GET /api/history[?module=NAME]`: what `wasmig history --json` prints.
pub async fn history(
    State(app): State<App>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let Query(query) = query?;
    Ok(Json(app.host().history(query.module.as_deref()).await?))
}

/// `GET /api/maintenance`: `{"maintenance": null}` or since when and why.
pub async fn maintenance(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let flag = app.host().status_report().await?.maintenance;
    Ok(Json(json!({ "maintenance": flag })))
}

/// The body of `POST /api/maintenance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMaintenance {
    /// Raise (true) or clear (false) the flag.
    on: bool,
    /// Why, shown to whoever reads the flag (required to raise it).
    reason: Option<String>,
}

/// `POST /api/maintenance`: raises or clears the flag (`wasmig maintenance --set/--clear`).
pub async fn set_maintenance(
    State(app): State<App>,
    body: Result<Json<SetMaintenance>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    app.set_maintenance(body.on, body.reason.as_deref()).await?;
    maintenance(State(app)).await
}

/// `POST /api/jobs`: starts an upgrade job; 202 with the job, `Location` its address; 409
/// while another job, or another upgrader (the CLI), runs.
pub async fn start_job(
    State(app): State<App>,
    body: Result<Json<JobRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let job = app.start(request).await?;
    let view = job.view();
    let location = format!("/api/jobs/{}", view.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// `GET /api/jobs/{id}`: the job's state and, once it ended, its report.
pub async fn job(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    match app.job_json(&id).await? {
        Some(mut known) => Ok(Json(known["job"].take())),
        None => Err(no_job(&id)),
    }
}

/// `GET /api/jobs/last`: the last job (running or ended, also one a previous run of the
/// server recorded) with its events: `{"job": null, "events": []}` when there was none.
pub async fn last_job(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let last = app.job_json("last").await?;
    Ok(Json(
        last.unwrap_or_else(|| json!({ "job": null, "events": [] })),
    ))
}

/// `POST /api/jobs/{id}/cancel`: asks the job to stop at the next step boundary (the running
/// step is rolled back); 202, or 409 when it has already ended.
pub async fn cancel_job(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = app.job(&id).await.ok_or_else(|| no_job(&id))?;
    if !job.cancel() {
        return Err(ApiError::conflict(format!("job {id} has already ended")));
    }
    Ok((StatusCode::ACCEPTED, Json(job.view())).into_response())
}

/// `GET /api/jobs/{id}/events`: the job's events as Server-Sent Events, from the first (or
/// after `Last-Event-ID`), live until the job ends; then the stream ends.
pub async fn job_events(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let job = app.job(&id).await.ok_or_else(|| no_job(&id))?;
    let from = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .and_then(|seen| seen.checked_add(1))
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be an event's number"))?,
    };
    Ok(Sse::new(event_stream(job, from)).keep_alive(KeepAlive::default()))
}

/// The events of `job` from number `from` on, waiting for new ones until it ends.
fn event_stream(job: Arc<Job>, from: usize) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    // Subscribed before the first read, so that no event falls in between.
    let changes = job.subscribe();
    let state = (job, from, changes, VecDeque::new());
    futures_util::stream::unfold(
        state,
        |(job, mut next, mut changes, mut pending)| async move {
            loop {
                if let Some((number, event)) = pending.pop_front() {
                    let item = Ok(sse_event(number, &event));
                    return Some((item, (job, next, changes, pending)));
                }
                let (events, done) = job.events_from(next);
                if !events.is_empty() {
                    pending.extend((next..).zip(events));
                    next = pending.back().map_or(next, |(n, _)| n + 1);
                    continue;
                }
                if done || changes.changed().await.is_err() {
                    return None;
                }
            }
        },
    )
}

fn sse_event(number: usize, event: &JobEvent) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "null".to_owned());
    SseEvent::default()
        .id(number.to_string())
        .event(event.kind())
        .data(data)
}

fn no_job(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no job `{id}` (GET /api/jobs/last shows the last one)"
    ))
}

/// Any other address under the API: 404 in JSON.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such address (see README, section HTTP API)")
}

/// A known address with another method: 405 in JSON.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this address does not take this method",
    )
}
