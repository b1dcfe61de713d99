//! The web pages in a real browser: headless Chromium driven through chromedriver, as an
//! operator uses them (log in, upgrade, watch, reload, cancel).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use wasmig_tests::{Backend, Sandbox, blog_v1, on_every_backend, slow_module};

use crate::serve::{Server, TOKEN, cli_json};

on_every_backend!(an_operator_upgrades_watches_reloads_and_cancels_in_a_browser);

/// Headless Chromium under a chromedriver of its own.
struct Browser {
    driver: Child,
    client: Client,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver runs the browser tests: install Debian's `chromium` and \
                 `chromium-driver` (.ci/run does)",
            );
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                             "--window-size=1000,520"] }),
        );
        let started = Instant::now();
        let client = loop {
            let connecting = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match connecting {
                Ok(client) => break client,
                Err(e) if started.elapsed() > Duration::from_secs(30) => {
                    panic!("chromedriver did not start Chromium: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser { driver, client }
    }

    /// Waits until the element `id` exists and its text satisfies `ready`; returns the text.
    /// Errors in between (the page reloading) are waited out.
    async fn text_of(&self, id: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        let mut last = String::new();
        loop {
            if let Ok(element) = self.client.find(Locator::Id(id)).await
                && let Ok(text) = element.text().await
            {
                if ready(&text) {
                    return text;
                }
                last = text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "#{id} never became {what}; last: {last:?}; page: {}",
                self.client.source().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, id: &str) {
        let element = self.client.find(Locator::Id(id)).await;
        element
            .unwrap_or_else(|e| panic!("#{id}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// chromedriver ends its Chromium when it ends: also when a test panics.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts an upgrade of `module` from the modules page; returns the job page's path.
async fn upgrade(browser: &Browser, server: &Server, module: &str) -> String {
    browser
        .client
        .goto(&format!("{}/", server.base))
        .await
        .unwrap();
    browser.click(&format!("pick-{module}")).await;
    browser.click("upgrade").await;
    browser.text_of("state", "shown", |_| true).await;
    browser.path().await
}

/// An operator logs in with the token, upgrades a module and watches it finish (the job
/// page says what the ledger recorded), reloads in the middle of a slow step and sees the
/// job go on, reads a failed step's reason, and cancels a job. Without the token nothing
/// shows.
async fn an_operator_upgrades_watches_reloads_and_cancels_in_a_browser(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    slow_module(&sandbox).write();
    // A step may run 10 s: the sleeping step fails by its time limit (time enough to reload
    // and to cancel on a loaded machine).
    let server = Server::start_with(&sandbox, &["--timeout", "10"], Some(TOKEN));
    let browser = Browser::start().await;
    let client = &browser.client;

    client.goto(&format!("{}/", server.base)).await.unwrap();
    assert_eq!(browser.path().await, "/login");
    client
        .goto(&format!("{}/api/status", server.base))
        .await
        .unwrap();
    let refused = client.source().await.unwrap();
    assert!(
        refused.contains("needs its token") && !refused.contains("blog"),
        "{refused}"
    );
    client
        .goto(&format!("{}/login", server.base))
        .await
        .unwrap();
    let field = client.find(Locator::Id("token")).await.unwrap();
    field.send_keys("not-the-token-at-all").await.unwrap();
    browser.click("login").await;
    browser
        .text_of("error", "a refusal", |t| t.contains("not the token"))
        .await;
    let field = client.find(Locator::Id("token")).await.unwrap();
    field.send_keys(TOKEN).await.unwrap();
    browser.click("login").await;
    browser
        .text_of("module-blog", "listed", |t| t.contains("001_create_posts"))
        .await;

    // Upgrade blog and watch it reach the end; the page lists what the ledger recorded.
    upgrade(&browser, &server, "blog").await;
    browser
        .text_of("state", "succeeded", |t| {
            t == "SUCCEEDED" || t == "succeeded"
        })
        .await;
    let history = cli_json(&sandbox, &["history", "blog", "--json"]);
    for entry in history.as_array().unwrap() {
        let step = format!(
            "{:03}_{}",
            entry["step"].as_u64().unwrap(),
            entry["slug"].as_str().unwrap()
        );
        let line = browser
            .text_of(&format!("step-blog-{step}"), "done", |_| true)
            .await;
        assert!(line.contains(&format!("blog {step}: done in")), "{line}");
    }

    // A slow step: the page follows it, a reload reattaches, the failure's reason shows.
    let job_page = upgrade(&browser, &server, "slow").await;
    browser
        .text_of("step-slow-002_sleep", "running", |t| t.ends_with("running"))
        .await;
    let screenshot = client.screenshot().await.unwrap();
    let shot = format!("{}/serve-job-{backend:?}.png", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(&shot, screenshot).unwrap();
    client.refresh().await.unwrap();
    assert_eq!(browser.path().await, job_page);
    browser
        .text_of("step-slow-002_sleep", "running after the reload", |t| {
            t.ends_with("running")
        })
        .await;
    // The reloaded page was drawn "running" by the server: only its script, attached to the
    // job's event stream again, can see the job end.
    browser
        .text_of("state", "failed", |t| t.eq_ignore_ascii_case("failed"))
        .await;
    let failure = client
        .find(Locator::Css(".failure"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        failure.contains("slow 002_sleep") && failure.contains("time limit"),
        "{failure}"
    );

    // Cancel: the job stops at the step boundary.
    upgrade(&browser, &server, "slow").await;
    browser
        .text_of("step-slow-002_sleep", "running", |t| t.ends_with("running"))
        .await;
    browser.click("cancel").await;
    browser
        .text_of("state", "cancelled", |t| {
            t.eq_ignore_ascii_case("cancelled")
        })
        .await;
    let last = server.call("GET", "/api/jobs/last", None).body;
    assert_eq!(last["job"]["state"], "cancelled", "{last}");
    assert_eq!(last["job"]["cancel_requested"], true, "{last}");

    browser.close().await;
    server.stop();
}
