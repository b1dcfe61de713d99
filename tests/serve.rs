//! `wasmig serve` as a PHP host would drive it: the real binary on a free port, spoken to
//! with `curl`. Its answers are compared with what the CLI prints for the same database.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmig_tests::{
    Backend, Sandbox, assert_slow_stopped_in_its_sleep, blog_v1, on_every_backend, signal_and_wait,
    slow_module,
};

on_every_backend!(
    an_upgrade_job_reports_what_the_cli_and_the_ledger_say,
    a_job_outlives_its_client_and_cancels_at_a_step_boundary,
);

const WASMIG: &str = env!("CARGO_BIN_EXE_wasmig-test-cli");
pub(crate) const TOKEN: &str = "test-token-0123456789abcdef";

/// A running `wasmig serve`, stopped (SIGTERM) when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    /// What it logs, read as it comes so that the pipe never fills.
    log: Option<std::thread::JoinHandle<String>>,
}

/// An HTTP answer: status and JSON body.
#[derive(Debug)]
pub(crate) struct Answer {
    status: u16,
    pub(crate) body: Value,
    headers: String,
}

impl Server {
    /// Starts the server on a free loopback port with the test token.
    fn start(sandbox: &Sandbox) -> Server {
        Server::start_with(sandbox, &[], Some(TOKEN))
    }

    pub(crate) fn start_with(sandbox: &Sandbox, args: &[&str], token: Option<&str>) -> Server {
        let mut command = sandbox.cli_command(WASMIG, &["serve", "--listen", "127.0.0.1:0"]);
        command
            .args(args)
            .env("WASMIG_LOG", "info")
            .env(
                "WASMIG_POLICY_ONLY",
                if sandbox.policy_only() { "1" } else { "0" },
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match token {
            Some(token) => command.env("WASMIG_TOKEN", token),
            None => command.env_remove("WASMIG_TOKEN"),
        };
        let mut child = command.spawn().expect("the server starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_else(|| {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .ok();
            panic!("the server printed no address: {stderr}")
        });
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .trim_end_matches('/')
            .to_owned();
        // The rest of stdout and stderr are read as they come: the pipes must not fill.
        std::thread::spawn(move || lines.for_each(drop));
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            stderr.read_to_string(&mut log).ok();
            log
        });
        Server {
            child,
            base,
            log: Some(log),
        }
    }

    /// `curl -X method` with the token and, when given, a JSON body.
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.curl(
            method,
            path,
            body,
            &[&format!("Authorization: Bearer {TOKEN}")],
        )
    }

    fn curl(&self, method: &str, path: &str, body: Option<Value>, headers: &[&str]) -> Answer {
        let mut headers = headers.to_vec();
        if body.is_some() {
            headers.push("Content-Type: application/json");
        }
        let (status, head, text) = self.raw(method, path, body.map(|b| b.to_string()), &headers);
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {head}{text}"));
        Answer {
            status,
            body,
            headers: head,
        }
    }

    /// `curl -X method` with `headers` and `body` as they are: status, headers (lower case)
    /// and body text.
    fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[&str],
    ) -> (u16, String, String) {
        let mut command = Command::new("curl");
        command.args(["-sS", "-D", "-", "--max-time", "120", "-X", method]);
        for header in headers {
            command.args(["-H", header]);
        }
        if let Some(body) = body {
            command.args(["--data-binary", &body]);
        }
        command.arg(format!("{}{path}", self.base));
        let output = command.output().expect("curl runs");
        assert!(output.status.success(), "curl: {output:?}");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
        (status, head.to_ascii_lowercase(), body.to_owned())
    }

    /// The job's events, read with `curl -N` until the stream ends: (number, kind, data).
    fn events(&self, job: &str, after: Option<usize>) -> Vec<(usize, String, Value)> {
        let mut command = self.events_command(job, after);
        let output = command.output().expect("curl runs");
        assert!(output.status.success(), "curl: {output:?}");
        parse_events(&String::from_utf8_lossy(&output.stdout))
    }

    fn events_command(&self, job: &str, after: Option<usize>) -> Command {
        let mut command = Command::new("curl");
        command.args(["-sS", "-N", "--max-time", "120"]);
        command.args(["-H", &format!("Authorization: Bearer {TOKEN}")]);
        if let Some(after) = after {
            command.args(["-H", &format!("Last-Event-ID: {after}")]);
        }
        command.arg(format!("{}/api/jobs/{job}/events", self.base));
        command
    }

    /// Stops the server as an init system would (SIGTERM) and returns what it logged.
    pub(crate) fn stop(mut self) -> String {
        let (status, _) = signal_and_wait(&mut self.child, "TERM");
        assert!(
            status.success(),
            "the server stops cleanly on SIGTERM: {status:?}"
        );
        self.log.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server-Sent Events as (id, event, data).
fn parse_events(text: &str) -> Vec<(usize, String, Value)> {
    let mut events = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(str::to_owned)
        };
        let (Some(id), Some(kind), Some(data)) = (field("id: "), field("event: "), field("data: "))
        else {
            continue; // a keep-alive comment
        };
        events.push((
            id.parse().unwrap(),
            kind,
            serde_json::from_str(&data).unwrap(),
        ));
    }
    events
}

/// What the CLI prints as JSON for `args`.
pub(crate) fn cli_json(sandbox: &Sandbox, args: &[&str]) -> Value {
    let output = sandbox.cli(WASMIG, args);
    assert!(output.success(), "{output:?}");
    serde_json::from_str(&output.stdout()).expect("JSON")
}

/// Waits until the job's state is no longer `running` and returns its view.
fn settled(server: &Server, job: &str) -> Value {
    let started = Instant::now();
    loop {
        let answer = server.call("GET", &format!("/api/jobs/{job}"), None);
        assert_eq!(answer.status, 200, "{answer:?}");
        if answer.body["state"] != "running" {
            return answer.body;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{answer:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A job upgrades the blog module: the API's status, plan and history are the CLI's, the
/// event stream names each step the ledger recorded, a stream attached later (or after an
/// event it saw) replays from there, and a restarted server still shows the job.
async fn an_upgrade_job_reports_what_the_cli_and_the_ledger_say(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    let backups = sandbox.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let backup_dir = backups.to_str().unwrap();
    let server = Server::start_with(&sandbox, &["--backup-dir", backup_dir], Some(TOKEN));
    let status = server.call("GET", "/api/status", None);
    assert_eq!(status.status, 200, "{status:?}");
    assert_eq!(status.body, cli_json(&sandbox, &["status", "--json"]));
    let plan = server.call("GET", "/api/modules/blog/plan", None);
    assert_eq!(plan.body, cli_json(&sandbox, &["plan", "blog", "--json"]));

    let request = json!({ "modules": ["blog"], "backup": true });
    let started = server.call("POST", "/api/jobs", Some(request.clone()));
    assert_eq!(started.status, 202, "{started:?}");
    assert_eq!(started.body["request"]["backup"], true, "{started:?}");
    let id = started.body["id"].as_str().unwrap().to_owned();
    assert!(
        started
            .headers
            .contains(&format!("location: /api/jobs/{id}"))
    );
    let events = server.events(&id, None);
    // The backup was written into --backup-dir before any step, as `upgrade --backup` does.
    let (_, kind, backup) = &events[0];
    assert_eq!(kind, "backed-up", "{events:?}");
    let location = std::path::Path::new(backup["location"].as_str().unwrap());
    assert!(
        location.starts_with(&backups) && location.exists(),
        "{backup}"
    );
    let numbers: Vec<usize> = events.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(numbers, (0..events.len()).collect::<Vec<_>>(), "{events:?}");
    let (_, last, data) = events.last().unwrap();
    assert_eq!(
        (last.as_str(), &data["state"]),
        ("finished", &json!("succeeded"))
    );

    // What the stream said ran is what the ledger recorded.
    let history = cli_json(&sandbox, &["history", "--json"]);
    let finished: Vec<Value> = events
        .iter()
        .filter(|(_, kind, _)| kind == "step-finished")
        .map(|(_, _, data)| json!([data["module"], data["step"], data["error"]]))
        .collect();
    let recorded: Vec<Value> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            json!([
                e["module"],
                format!(
                    "{:03}_{}",
                    e["step"].as_u64().unwrap(),
                    e["slug"].as_str().unwrap()
                ),
                null
            ])
        })
        .collect();
    assert_eq!(finished, recorded, "{events:?}\n{history}");
    assert_eq!(server.call("GET", "/api/history", None).body, history);
    assert_eq!(
        server.call("GET", "/api/status", None).body,
        cli_json(&sandbox, &["status", "--json"])
    );

    // Reattaching after event 2 replays the rest, exactly.
    let tail = server.events(&id, Some(2));
    assert_eq!(tail, events[3..].to_vec());
    for id_header in ["18446744073709551615", "-1", "two"] {
        let (status, _, body) = server.raw(
            "GET",
            &format!("/api/jobs/{id}/events"),
            None,
            &[
                &format!("Authorization: Bearer {TOKEN}"),
                &format!("Last-Event-ID: {id_header}"),
            ],
        );
        assert_eq!(status, 400, "{id_header}: {body}");
    }
    let job = server.call("GET", &format!("/api/jobs/{id}"), None).body;
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["report"]["modules"][0]["to"], "1.0.0", "{job}");

    server.stop();
    let restarted = Server::start(&sandbox);
    let last = restarted.call("GET", "/api/jobs/last", None).body;
    assert_eq!(last["job"]["id"], id.as_str(), "{last}");
    assert_eq!(last["job"]["state"], "succeeded");
    assert_eq!(last["job"]["report"], job["report"]);
    assert_eq!(last["job"]["kept_in_ledger"], true, "{last}");
    assert_eq!(job["kept_in_ledger"], true, "{job}");
    let streamed: Vec<&Value> = events.iter().map(|(_, _, data)| data).collect();
    let recorded: Vec<&Value> = last["events"].as_array().unwrap().iter().collect();
    assert_eq!(recorded, streamed, "the ledger keeps every event");
    let again = restarted.call("GET", &format!("/api/jobs/{id}"), None);
    assert_eq!(again.body["state"], "succeeded", "{again:?}");
}

/// A job keeps running when its client goes away; a second job and the CLI beside it are
/// refused meanwhile; a cancel stops it at the step boundary (the sleeping step rolled back,
/// nothing after it run, the maintenance flag cleared), as Ctrl-C does to the CLI.
async fn a_job_outlives_its_client_and_cancels_at_a_step_boundary(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    slow_module(&sandbox).write();
    let server = Server::start(&sandbox);
    let started = server.call("POST", "/api/jobs", Some(json!({ "maintenance": true })));
    assert_eq!(started.status, 202, "{started:?}");
    let id = started.body["id"].as_str().unwrap().to_owned();

    // A client watches until the sleeping step starts, then goes away (a closed tab).
    let mut client = server
        .events_command(&id, None)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    let mut reader = BufReader::new(client.stdout.take().unwrap());
    while !seen.contains("\"step\":\"002_sleep\"") {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "stream ended: {seen}"
        );
        seen.push_str(&line);
    }
    client.kill().unwrap();
    client.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let running = server.call("GET", &format!("/api/jobs/{id}"), None);
    assert_eq!(running.body["state"], "running", "{running:?}");
    assert!(sandbox.host().await.is_under_maintenance().await.unwrap());
    let second = server.call("POST", "/api/jobs", Some(json!({})));
    assert_eq!(second.status, 409, "{second:?}");
    assert!(
        second.body["error"].as_str().unwrap().contains(&id),
        "{second:?}"
    );
    let beside = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(!beside.success(), "{beside:?}");
    assert!(beside.stderr().contains("lock"), "{beside:?}");

    let cancelled = server.call("POST", &format!("/api/jobs/{id}/cancel"), None);
    assert_eq!(cancelled.status, 202, "{cancelled:?}");
    let view = settled(&server, &id);
    assert_eq!(view["state"], "cancelled", "{view}");
    let events = server.events(&id, None);
    let sleep_finished = events
        .iter()
        .find(|(_, kind, data)| kind == "step-finished" && data["step"] == "002_sleep")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(
        sleep_finished.2["error"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|(_, _, data)| data["step"] == "003_after")
    );
    let again = server.call("POST", &format!("/api/jobs/{id}/cancel"), None);
    assert_eq!(again.status, 409, "{again:?}");

    assert_slow_stopped_in_its_sleep(&sandbox).await;
    let status = cli_json(&sandbox, &["status", "--json"]);
    assert_eq!(
        status["modules"][0]["action"],
        json!({ "kind": "apply", "first": 2 }),
        "{status}"
    );
    server.stop();
}

/// Without the right token nothing is served, and no secret reaches the log; bad input gets
/// a 4xx with a JSON error and starts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_required_and_bad_input_gets_a_json_error() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    blog_v1(&sandbox).write();
    let server = Server::start(&sandbox);
    for headers in [
        vec![],
        vec!["Authorization: Bearer test-token-0123456789abcdeX"],
        vec!["Authorization: Bearer test-token-0123456789abcde"],
        vec!["Authorization: test-token-0123456789abcdef"],
        vec!["Authorization: Basic dGVzdDp0ZXN0"],
        vec!["Cookie: token=test-token-0123456789abcdef"],
    ] {
        for (method, path) in [
            ("GET", "/api/status"),
            ("POST", "/api/jobs"),
            ("GET", "/api/nowhere"),
        ] {
            let refused = server.curl(method, path, None, &headers);
            assert_eq!(
                refused.status, 401,
                "{method} {path} {headers:?}: {refused:?}"
            );
            assert!(refused.body["error"].as_str().unwrap().contains("token"));
            assert!(refused.headers.contains("www-authenticate: bearer"));
        }
    }
    // Wrong guesses are answered one at a time, each after a pause: four sent at once take
    // at least four pauses.
    let started = Instant::now();
    std::thread::scope(|scope| {
        for n in 0..4 {
            let server = &server;
            scope.spawn(move || {
                let guess = format!("Authorization: Bearer guess-number-{n}-000000");
                assert_eq!(
                    server.curl("GET", "/api/status", None, &[&guess]).status,
                    401
                );
            });
        }
    });
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let in_the_url = server.curl("GET", &format!("/api/status?token={TOKEN}"), None, &[]);
    assert_eq!(in_the_url.status, 401, "{in_the_url:?}");

    let ok = server.call("GET", "/api/status", None);
    assert_eq!(ok.status, 200);
    for header in [
        "cache-control: no-store",
        "x-frame-options: deny",
        "referrer-policy: same-origin",
    ] {
        assert!(ok.headers.contains(header), "{header}: {}", ok.headers);
    }
    let bad = [
        // Not the shape asked for: 422; not JSON at all: 400.
        ("POST", "/api/jobs", Some(json!({ "modules": "blog" })), 422),
        (
            "POST",
            "/api/jobs",
            Some(json!({ "moduls": ["blog"] })),
            422,
        ),
        (
            "POST",
            "/api/jobs",
            Some(json!({ "modules": ["nosuch"] })),
            404,
        ),
        ("POST", "/api/maintenance", Some(json!({ "on": true })), 400),
        (
            "POST",
            "/api/maintenance",
            Some(json!({ "on": "yes" })),
            422,
        ),
        // A reason is shown on terminals: one printable line, not a screenful.
        (
            "POST",
            "/api/maintenance",
            Some(json!({ "on": true, "reason": "\u{1b}]0;pwned\u{7}\u{1b}[2J" })),
            400,
        ),
        (
            "POST",
            "/api/maintenance",
            Some(json!({ "on": true, "reason": "two\nlines" })),
            400,
        ),
        (
            "POST",
            "/api/maintenance",
            Some(json!({ "on": true, "reason": "x".repeat(501) })),
            400,
        ),
        ("GET", "/api/history?module=blog&x=1", None, 400),
        ("GET", "/api/jobs/nosuch", None, 404),
        ("POST", "/api/jobs/nosuch/cancel", None, 404),
        ("GET", "/api/modules/nosuch/plan", None, 404),
        ("GET", "/api/nowhere", None, 404),
        ("DELETE", "/api/status", None, 405),
    ];
    for (method, path, body, expected) in bad {
        let answer = server.call(method, path, body.clone());
        assert_eq!(
            answer.status, expected,
            "{method} {path} {body:?}: {answer:?}"
        );
        assert!(
            !answer.body["error"].as_str().unwrap().is_empty(),
            "{answer:?}"
        );
    }
    let not_json = server.curl(
        "POST",
        "/api/jobs",
        None,
        &[
            &format!("Authorization: Bearer {TOKEN}"),
            "Content-Type: text/plain",
        ],
    );
    assert_eq!(not_json.status, 415, "{not_json:?}");
    let broken = server.raw(
        "POST",
        "/api/jobs",
        Some("{\"modules\": [".into()),
        &[
            &format!("Authorization: Bearer {TOKEN}"),
            "Content-Type: application/json",
        ],
    );
    assert_eq!(broken.0, 400, "{broken:?}");
    assert!(broken.2.contains("\"error\""), "{broken:?}");
    let lower_case = format!("Authorization: bearer {TOKEN}");
    assert_eq!(
        server
            .curl("GET", "/api/status", None, &[&lower_case])
            .status,
        200
    );
    // Nothing of that started a job or touched the database.
    assert_eq!(
        server.call("GET", "/api/jobs/last", None).body["job"],
        Value::Null
    );
    assert!(
        sandbox
            .tables()
            .await
            .iter()
            .all(|t| !t.starts_with("blog"))
    );

    // Another upgrader (here: this test) holds the lock: refused, and said so.
    let lock = sandbox.database().await.lock(Duration::ZERO).await.unwrap();
    let locked = server.call("POST", "/api/jobs", Some(json!({})));
    assert_eq!(locked.status, 409, "{locked:?}");
    assert!(
        locked.body["error"].as_str().unwrap().contains("lock"),
        "{locked:?}"
    );
    lock.release().await;

    // The maintenance flag through the API is the one the CLI reads.
    let raised = server.call(
        "POST",
        "/api/maintenance",
        Some(json!({ "on": true, "reason": "moving racks" })),
    );
    assert_eq!(
        raised.body["maintenance"]["reason"], "moving racks",
        "{raised:?}"
    );
    let cli = sandbox.cli(WASMIG, &["maintenance"]);
    assert!(cli.stdout().contains("moving racks"), "{cli:?}");
    let cleared = server.call("POST", "/api/maintenance", Some(json!({ "on": false })));
    assert_eq!(cleared.body, json!({ "maintenance": null }));

    let (session, csrf) = page_session(&server);
    let log = server.stop();
    for secret in [&session, &csrf] {
        assert!(!log.contains(secret.as_str()), "{log}");
    }
    assert!(
        log.contains("GET /api/status 200"),
        "requests are logged: {log}"
    );
    assert!(
        !log.contains(TOKEN) && !log.contains("0123456789abcde"),
        "{log}"
    );
}

/// Without a token a random one is made and printed once; an address other machines reach
/// needs --allow-remote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_made_when_none_is_given_and_remote_listening_needs_consent() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    let mut child = sandbox
        .cli_command(WASMIG, &["serve", "--listen", "127.0.0.1:0"])
        .env_remove("WASMIG_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = lines.next().unwrap().unwrap();
    let token_line = lines.next().unwrap().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let base = address
        .trim_start_matches("listening on ")
        .trim_end_matches('/');
    let token = token_line.rsplit(' ').next().unwrap();
    assert_eq!(token.len(), 64, "{token_line}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token_line}");
    assert!(base.starts_with("http://127.0.0.1:"), "{address}");

    let remote = sandbox.cli(WASMIG, &["serve", "--listen", "0.0.0.0:0"]);
    assert!(!remote.success(), "{remote:?}");
    assert!(remote.stderr().contains("--allow-remote"), "{remote:?}");
    let mut allowed = sandbox
        .cli_command(
            WASMIG,
            &["serve", "--listen", "0.0.0.0:0", "--allow-remote"],
        )
        .env("WASMIG_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let listening = BufReader::new(allowed.stdout.take().unwrap())
        .lines()
        .next();
    assert!(
        listening
            .unwrap()
            .unwrap()
            .starts_with("listening on http://0.0.0.0:")
    );
    let (_, warned) = signal_and_wait(&mut allowed, "TERM");
    assert!(warned.contains("warning: listening on 0.0.0.0"), "{warned}");
    let short = sandbox
        .cli_command(WASMIG, &["serve", "--listen", "127.0.0.1:0"])
        .env("WASMIG_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 16"),
        "{short:?}"
    );
}

/// Logs in as a browser does and checks what the session may do: read the API (the job
/// page's event stream), never write it; post the pages' forms only with its CSRF token and
/// from this origin. Returns the session id and its CSRF token.
fn page_session(server: &Server) -> (String, String) {
    let form = "Content-Type: application/x-www-form-urlencoded";
    let wrong = server.raw(
        "POST",
        "/login",
        Some("token=not-the-token-0000".into()),
        &[form],
    );
    assert_eq!(wrong.0, 401, "{wrong:?}");
    assert!(!wrong.1.contains("set-cookie"), "{wrong:?}");
    let login = format!("token={TOKEN}");
    let foreign = ["Origin: http://evil.example", form];
    let forged = server.raw("POST", "/login", Some(login.clone()), &foreign);
    assert_eq!(forged.0, 403, "a login from another site: {forged:?}");
    let (status, head, _) = server.raw("POST", "/login", Some(login), &[form]);
    assert_eq!(status, 303, "{head}");
    let id = head
        .split("set-cookie: wasmig_session=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {head}"))
        .to_owned();
    assert!(
        head.contains("httponly") && head.contains("samesite=strict"),
        "{head}"
    );
    let cookie = format!("Cookie: wasmig_session={id}");
    let page = server.raw("GET", "/", None, &[&cookie]).2;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's CSRF token")
        .to_owned();

    assert_eq!(
        server.curl("GET", "/api/status", None, &[&cookie]).status,
        200
    );
    let write = server.curl("POST", "/api/jobs", Some(json!({})), &[&cookie]);
    assert_eq!(
        write.status, 401,
        "a session does not write the API: {write:?}"
    );
    let post = |body: String, extra: &[&str]| {
        let mut headers = vec![cookie.as_str(), form];
        headers.extend_from_slice(extra);
        server.raw("POST", "/maintenance", Some(body), &headers).0
    };
    let raise = |csrf: &str| format!("csrf={csrf}&on=1&reason=drill");
    assert_eq!(post(raise(&"0".repeat(64)), &[]), 403, "a stale CSRF token");
    assert_eq!(post("on=1&reason=drill".into(), &[]), 403, "no CSRF token");
    assert_eq!(post(raise(&csrf), &["Origin: http://evil.example"]), 403);
    assert_eq!(post(raise(&csrf), &["Sec-Fetch-Site: cross-site"]), 403);
    assert_eq!(post(format!("csrf={csrf}&on=1&reason=a%1b[2Jb"), &[]), 400);
    let no_session = server.raw("POST", "/maintenance", Some(raise(&csrf)), &[form]);
    assert_eq!(no_session.0, 303, "to the login page: {no_session:?}");
    let maintenance = server.call("GET", "/api/maintenance", None).body;
    assert_eq!(
        maintenance,
        json!({ "maintenance": null }),
        "none of that raised it"
    );
    assert_eq!(post(raise(&csrf), &[]), 303);
    let raised = server.call("GET", "/api/maintenance", None).body;
    assert_eq!(raised["maintenance"]["reason"], "drill", "{raised}");
    for unclear in ["on=banana", "reason=x"] {
        assert_eq!(
            post(format!("csrf={csrf}&{unclear}"), &[]),
            400,
            "{unclear}"
        );
    }
    let kept = server.call("GET", "/api/maintenance", None).body;
    assert_eq!(kept, raised, "bad input changed nothing");
    assert_eq!(post(format!("csrf={csrf}&on=0"), &[]), 303);
    (id, csrf)
}
