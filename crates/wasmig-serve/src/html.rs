//! The pages, rendered on the server as plain HTML: every value that comes from the database,
//! the modules or the client is escaped. No inline script (the CSP forbids it): live
//! progress comes from `assets/job.js`.

use std::fmt::Write;

use serde_json::Value;
use wasmig_engine::{Action, DryRun, HistoryEntry, ModulePlan, StatusReport};

/// `text` with the characters HTML gives a meaning escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: the navigation (with a logout form when `csrf` is known) around `body`.
pub fn layout(title: &str, csrf: Option<&str>, body: &str) -> String {
    let nav = match csrf {
        Some(csrf) => format!(
            "<nav><a href=\"/\">Modules</a><a href=\"/history\">History</a>\
             <a href=\"/jobs/last\">Last job</a>\
             <form method=\"post\" action=\"/logout\">{}<button id=\"logout\">Log out</button>\
             </form></nav>",
            csrf_field(csrf)
        ),
        None => "<nav><strong>wasmig</strong></nav>".to_owned(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · wasmig</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\
         <body>{nav}<main>{body}</main><script src=\"/assets/job.js\"></script></body></html>",
        escape(title)
    )
}

fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    )
}

/// The login page: the token, once per browser session.
pub fn login(error: Option<&str>) -> String {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" id=\"error\">{}</p>", escape(e))
    });
    let body = format!(
        "<h1>Log in</h1>{error}<form method=\"post\" action=\"/login\">\
         <label>Token <input type=\"password\" name=\"token\" id=\"token\" \
         autocomplete=\"current-password\" required></label>\
         <button type=\"submit\" id=\"login\">Log in</button></form>\
         <p>The token is the one <code>wasmig serve</code> was given (--token-file, \
         $WASMIG_TOKEN) or printed when it started.</p>"
    );
    layout("Log in", None, &body)
}

/// An error, as a page.
pub fn error(message: &str, csrf: Option<&str>) -> String {
    let body = format!(
        "<h1>Not done</h1><p class=\"error\" id=\"error\">{}</p><p><a href=\"/\">Back to the \
         modules</a></p>",
        escape(message)
    );
    layout("Error", csrf, &body)
}

/// The modules page: every module with what an upgrade would do, and the upgrade form.
pub fn status(report: &StatusReport, last_job: Option<&Value>, csrf: &str) -> String {
    let mut body = String::from("<h1>Modules</h1>");
    let _ = write!(
        body,
        "<p id=\"security\">Security: {}</p>",
        escape(&report.security.to_string())
    );
    for (module, lines) in &report.drift {
        let _ = write!(
            body,
            "<p class=\"error\">Drift in {}: {}</p>",
            escape(module),
            escape(&lines.join("; "))
        );
    }
    body.push_str(&upgrade_form(&report.modules, csrf));
    if let Some(job) = last_job.filter(|job| !job.is_null()) {
        let id = job["id"].as_str().unwrap_or_default();
        let _ = write!(
            body,
            "<p id=\"last-job\">Last job: <a href=\"/jobs/{0}\">{0}</a> ({1})</p>",
            escape(id),
            escape(job["state"].as_str().unwrap_or_default())
        );
    }
    body.push_str(&maintenance_form(report, csrf));
    layout("Modules", Some(csrf), &body)
}

fn upgrade_form(modules: &[ModulePlan], csrf: &str) -> String {
    let mut rows = String::new();
    for plan in modules {
        let name = escape(&plan.module);
        let version = |v: Option<&semver::Version>| v.map_or("—".to_owned(), |v| v.to_string());
        let _ = write!(
            rows,
            "<tr id=\"module-{name}\"><td><input type=\"checkbox\" name=\"module\" \
             value=\"{name}\" id=\"pick-{name}\" aria-label=\"upgrade {name}\"></td>\
             <td>{name}</td><td>{}</td><td>{}</td><td class=\"pending\">{}</td>\
             <td><a href=\"/modules/{name}/plan\">plan</a></td></tr>",
            version(plan.installed_version.as_ref()),
            version(plan.header_version.as_ref()),
            escape(&action_text(plan)),
        );
    }
    format!(
        "<form method=\"post\" action=\"/jobs\">{}<table><thead><tr><th></th><th>Module</th>\
         <th>Installed</th><th>Header</th><th>Pending</th><th></th></tr></thead><tbody>{rows}\
         </tbody></table><p>With no module ticked, every module is upgraded.</p>\
         <label><input type=\"checkbox\" name=\"maintenance\" value=\"on\"> Raise the \
         maintenance flag while steps run</label><label><input type=\"checkbox\" \
         name=\"backup\" value=\"on\"> Back the modules up first</label><label><input \
         type=\"checkbox\" name=\"resume\" value=\"on\"> Replay unfinished steps first \
         (resume)</label><button type=\"submit\" id=\"upgrade\">Upgrade</button></form>",
        csrf_field(csrf)
    )
}

/// What an upgrade would do with a module, in words.
fn action_text(plan: &ModulePlan) -> String {
    match &plan.action {
        Action::Refused { refusal } => format!("refused: {refusal}"),
        Action::UpToDate => "up to date".to_owned(),
        Action::Inactive => "inactive".to_owned(),
        Action::Absent => "no longer in the modules directory".to_owned(),
        Action::Unfinished { step, .. } => format!("step {step} unfinished: resume or repair"),
        _ if plan.pending.is_empty() => "version change only".to_owned(),
        _ => plan.pending.join(", "),
    }
}

fn maintenance_form(report: &StatusReport, csrf: &str) -> String {
    let (state, next, button) = match &report.maintenance {
        Some(flag) => (
            format!("up since {}: {}", escape(&flag.since), escape(&flag.reason)),
            "<input type=\"hidden\" name=\"on\" value=\"0\">".to_owned(),
            "Clear",
        ),
        None => (
            "not raised".to_owned(),
            "<input type=\"hidden\" name=\"on\" value=\"1\"><label>Reason <input \
             name=\"reason\" required></label>"
                .to_owned(),
            "Raise",
        ),
    };
    format!(
        "<h2>Maintenance flag</h2><p id=\"maintenance\">{state}</p><form method=\"post\" \
         action=\"/maintenance\">{}{next}<button type=\"submit\">{button}</button></form>",
        csrf_field(csrf)
    )
}

/// One module's dry run: the steps an upgrade would run and the SQL each sends.
pub fn plan(name: &str, dry_run: &DryRun, csrf: &str) -> String {
    let mut body = format!("<h1>Plan of {}</h1>", escape(name));
    for note in &dry_run.notes {
        let _ = write!(body, "<p>{}</p>", escape(note));
    }
    for module in &dry_run.modules {
        let _ = write!(body, "<p>{}</p>", escape(&action_text(&module.plan)));
        for step in &module.steps {
            let _ = write!(body, "<h2>{}</h2>", escape(&step.step));
            if let Some(error) = &step.error {
                let _ = write!(body, "<p class=\"error\">{}</p>", escape(error));
            }
            for statement in &step.statements {
                let params = serde_json::to_string(&statement.params).unwrap_or_default();
                let _ = write!(
                    body,
                    "<pre>{}</pre><p>parameters: <code>{}</code></p>",
                    escape(&statement.sql),
                    escape(&params)
                );
            }
        }
    }
    layout(&format!("Plan of {name}"), Some(csrf), &body)
}

/// Every step the ledger recorded, oldest first.
pub fn history(entries: &[HistoryEntry], csrf: &str) -> String {
    let mut rows = String::new();
    for e in entries {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td>\
             <td>{}</td></tr>",
            escape(&e.started_at),
            escape(&e.module),
            escape(&e.step_name()),
            e.version,
            e.outcome,
            e.duration_ms,
            escape(e.error.as_deref().unwrap_or_default())
        );
    }
    let body = format!(
        "<h1>History</h1><table><thead><tr><th>Started</th><th>Module</th><th>Step</th>\
         <th>Version</th><th>Outcome</th><th>Took</th><th>Error</th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    );
    layout("History", Some(csrf), &body)
}

/// A job: its state, its events so far, its failures, and Cancel while it runs.
pub fn job(view: &Value, events: &[Value], csrf: &str) -> String {
    let id = escape(view["id"].as_str().unwrap_or_default());
    let state = escape(view["state"].as_str().unwrap_or_default());
    let mut body = format!(
        "<section id=\"job\" data-job=\"{id}\" data-state=\"{state}\"><h1>Job {id}</h1>\
         <p>State: <strong id=\"state\">{state}</strong></p><ol id=\"events\">"
    );
    // A step's line says where it is: its later event replaces its earlier one in place.
    let mut lines: Vec<(String, String)> = Vec::new();
    for (key, text) in events.iter().filter_map(event_line) {
        match lines.iter_mut().find(|(k, _)| *k == key) {
            Some(line) => line.1 = text,
            None => lines.push((key, text)),
        }
    }
    for (key, text) in &lines {
        let _ = write!(body, "<li id=\"{}\">{}</li>", escape(key), escape(text));
    }
    body.push_str("</ol>");
    if let Some(error) = view["error"].as_str() {
        let _ = write!(
            body,
            "<p class=\"error\" id=\"error\">{}</p>",
            escape(error)
        );
    }
    let failures = view["report"]["modules"].as_array().into_iter().flatten();
    for failure in failures.map(|m| &m["failure"]).filter(|f| !f.is_null()) {
        let step = failure["step"]
            .as_str()
            .map_or(String::new(), |s| format!(" {s}"));
        let _ = write!(
            body,
            "<p class=\"error failure\">{}{}: {}</p>",
            escape(failure["module"].as_str().unwrap_or_default()),
            escape(&step),
            escape(failure["reason"].as_str().unwrap_or_default())
        );
    }
    if view["state"] == "running" {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/jobs/{id}/cancel\">{}<button type=\"submit\" \
             id=\"cancel\">Cancel</button></form>",
            csrf_field(csrf)
        );
    }
    body.push_str("</section>");
    layout(&format!("Job {id}"), Some(csrf), &body)
}

/// The list item an event makes on the job page (the same as `assets/job.js` makes):
/// its element id and its text.
fn event_line(event: &Value) -> Option<(String, String)> {
    let text = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
    let (module, step) = (text("module"), text("step"));
    Some(match event["event"].as_str()? {
        "backed-up" => (
            "backup".to_owned(),
            format!("backup written to {}", text("location")),
        ),
        "module" => {
            let plan = &event["plan"];
            let module = plan["module"].as_str().unwrap_or_default();
            let kind = plan["action"]["kind"].as_str().unwrap_or_default();
            (format!("module-{module}"), format!("{module}: {kind}"))
        }
        "step-started" => (
            format!("step-{module}-{step}"),
            format!("{module} {step}: running"),
        ),
        "step-finished" => {
            let outcome = match event["error"].as_str() {
                Some(error) => format!("failed: {error}"),
                None => format!("done in {} ms", event["duration_ms"]),
            };
            (
                format!("step-{module}-{step}"),
                format!("{module} {step}: {outcome}"),
            )
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_shown_as_text() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let page = error("<img src=x onerror=alert(1)>", Some("\"><b>"));
        assert!(!page.contains("<img") && !page.contains("\"><b>"), "{page}");
    }
}
