//! The web pages: login, modules, a module's plan, history, a job with live progress, and
//! the forms that start and cancel jobs and raise the maintenance flag. They call the same
//! [`App`] methods as the API; a job page follows its job through the API's event stream.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::jobs::JobRequest;
use crate::session::{Session, cleared_cookie, same_origin};
use crate::{App, html};

/// The pages' content security policy: scripts, styles and connections from this server
/// only, no inline script, no framing, forms posted here only.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// Lets a page request through with a live session (and, for a POST, from this origin);
/// others go to the login page.
pub async fn require_session(State(app): State<App>, mut request: Request, next: Next) -> Response {
    if request.method() == axum::http::Method::POST && !same_origin(request.headers()) {
        return refused(
            StatusCode::FORBIDDEN,
            "a form from another site is refused",
            None,
        );
    }
    match app.0.sessions.find(request.headers()) {
        Some(session) => {
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        None => Redirect::to("/login").into_response(),
    }
}

/// A page with the pages' security policy.
fn page(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    response
}

fn refused(status: StatusCode, message: &str, csrf: Option<&str>) -> Response {
    page(status, html::error(message, csrf))
}

/// An API error as a page.
fn failed(error: &ApiError, session: &Session) -> Response {
    refused(error.status(), error.message(), Some(&session.csrf))
}

/// The fields of a form posted by a page, and the session that posted it: extracted only
/// when the form carries the session's CSRF token (403 otherwise).
pub struct Form {
    session: Session,
    fields: Vec<(String, String)>,
}

impl FromRequest<App> for Form {
    type Rejection = Response;

    async fn from_request(request: Request, state: &App) -> Result<Self, Response> {
        let session = request.extensions().get::<Session>().cloned();
        let Some(session) = session else {
            return Err(Redirect::to("/login").into_response());
        };
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let form = Form { session, fields };
        match form.value("csrf") {
            Some(csrf) if form.session.accepts(csrf) => Ok(form),
            _ => Err(refused(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or stale: reload the page",
                Some(&form.session.csrf),
            )),
        }
    }
}

impl Form {
    fn value(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn ticked(&self, name: &str) -> bool {
        self.value(name) == Some("on")
    }
}

/// `GET /login`.
pub async fn login_page() -> Response {
    page(StatusCode::OK, html::login(None))
}

/// `POST /login`: the token for a session cookie.
pub async fn login(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if !same_origin(&headers) {
        return refused(
            StatusCode::FORBIDDEN,
            "a form from another site is refused",
            None,
        );
    }
    let token = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !app.accepts_token(token.trim()).await {
        return page(
            StatusCode::UNAUTHORIZED,
            html::login(Some("That is not the token.")),
        );
    }
    match app.0.sessions.open() {
        Ok(session) => {
            let mut response = Redirect::to("/").into_response();
            if let Ok(cookie) = HeaderValue::from_str(&session.cookie()) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), None),
    }
}

/// `POST /logout`.
pub async fn logout(State(app): State<App>, headers: HeaderMap, _: Form) -> Response {
    app.0.sessions.close(&headers);
    let mut response = Redirect::to("/login").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cleared_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /`: the modules.
pub async fn modules(
    State(app): State<App>,
    axum::Extension(session): axum::Extension<Session>,
) -> Response {
    let report = match app.host().status_report().await {
        Ok(report) => report,
        Err(e) => return failed(&e.into(), &session),
    };
    let last = app.job_json("last").await.ok().flatten();
    let last = last.map(|mut known| known["job"].take());
    page(
        StatusCode::OK,
        html::status(&report, last.as_ref(), &session.csrf),
    )
}

/// `GET /modules/{name}/plan`.
pub async fn plan(
    State(app): State<App>,
    axum::Extension(session): axum::Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    match app.dry_run(name.clone()).await {
        Ok(dry_run) => page(StatusCode::OK, html::plan(&name, &dry_run, &session.csrf)),
        Err(e) => failed(&e, &session),
    }
}

/// `GET /history`.
pub async fn history(
    State(app): State<App>,
    axum::Extension(session): axum::Extension<Session>,
) -> Response {
    match app.host().history(None).await {
        Ok(entries) => page(StatusCode::OK, html::history(&entries, &session.csrf)),
        Err(e) => failed(&e.into(), &session),
    }
}

/// `POST /jobs`: starts a job from the modules page's form, then shows it.
pub async fn start_job(State(app): State<App>, form: Form) -> Response {
    let request = JobRequest {
        modules: form.values("module"),
        resume: form.ticked("resume"),
        maintenance: form.ticked("maintenance"),
        backup: form.ticked("backup"),
        accept_drift: false,
    };
    match app.start(request).await {
        Ok(job) => Redirect::to(&format!("/jobs/{}", job.view().id)).into_response(),
        Err(e) => failed(&e, &form.session),
    }
}

/// `GET /jobs/{id}` (`/jobs/last`: the last one): the job, followed live while it runs.
pub async fn job(
    State(app): State<App>,
    axum::Extension(session): axum::Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let known = match app.job_json(&id).await {
        Ok(Some(known)) => known,
        Ok(None) => return refused(StatusCode::NOT_FOUND, "no such job", Some(&session.csrf)),
        Err(e) => return failed(&e, &session),
    };
    let events: &[Value] = known["events"].as_array().map_or(&[], Vec::as_slice);
    page(
        StatusCode::OK,
        html::job(&known["job"], events, &session.csrf),
    )
}

/// `POST /jobs/{id}/cancel`.
pub async fn cancel_job(State(app): State<App>, Path(id): Path<String>, form: Form) -> Response {
    match app.job(&id).await {
        Some(job) => {
            job.cancel();
            Redirect::to(&format!("/jobs/{id}")).into_response()
        }
        None => refused(
            StatusCode::NOT_FOUND,
            "no such job",
            Some(&form.session.csrf),
        ),
    }
}

/// `POST /maintenance`: raises (with a reason) or clears the flag.
pub async fn maintenance(State(app): State<App>, form: Form) -> Response {
    let on = match form.value("on") {
        Some("1") => true,
        Some("0") => false,
        _ => {
            let message = "the form must say `on` = 1 (raise) or 0 (clear)";
            return refused(StatusCode::BAD_REQUEST, message, Some(&form.session.csrf));
        }
    };
    match app.set_maintenance(on, form.value("reason")).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => failed(&e, &form.session),
    }
}

/// `GET /assets/app.css` and `GET /assets/job.js`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.css" => (include_str!("../assets/app.css"), "text/css; charset=utf-8"),
        "job.js" => (
            include_str!("../assets/job.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Any other address outside the API.
pub async fn not_found() -> Response {
    refused(StatusCode::NOT_FOUND, "no such page", None)
}
