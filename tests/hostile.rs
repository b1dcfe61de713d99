//! Every hostile module is contained: its step fails with the denial or the limit that stopped
//! it, no data changes, the host survives and the next module still runs.

use std::time::Duration;

use wasmig_engine::Limits;
use wasmig_tests::{Backend, Sandbox, on_every_backend};

on_every_backend!(
    reading_another_modules_table,
    writing_a_host_table,
    reaching_a_file_through_the_database,
    switching_the_databases_safety_off,
    committing_inside_up,
    hiding_a_second_statement,
    a_name_that_only_looks_owned,
    a_view_over_an_ungranted_table,
    an_infinite_loop,
    a_memory_bomb,
    deep_recursion,
    a_huge_result,
    opening_a_file,
    opening_a_socket,
    reading_the_environment,
);

/// Limits low enough for the attacks on resources to hit them quickly.
fn limits() -> Limits {
    Limits {
        fuel: 200_000_000,
        memory_bytes: 64 << 20,
        rows: 10_000,
        time: Duration::from_secs(60),
        ..Limits::default()
    }
}

/// Runs `hostile/<attack>` as module `evil` between `victim` and `zz_after`, and checks that
/// it failed with every part of `expected` in its error and harmed nothing. Returns the error.
async fn contained(backend: Backend, attack: &str, expected: &[&str]) -> String {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("victim", "1.0.0")
        .step("001_secrets", "testing/victim")
        .write();
    assert!(sandbox.upgrade().await.is_success());
    let before = sandbox.dump_except(&["wasmig_", "zz_"]).await;
    let victim_history = sandbox.host().await.history(Some("victim")).await.unwrap();

    sandbox
        .module("evil", "1.0.0")
        .step(&format!("001_{attack}"), &format!("hostile/{attack}"))
        .write();
    sandbox
        .module("zz_after", "1.0.0")
        .step("001_ok", "testing/create_table")
        .write();
    let report = sandbox
        .host_with(limits())
        .await
        .upgrade(&[], |_| {})
        .await
        .expect("the host survives the attack");

    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "only evil fails: {report:?}");
    let failure = failures[0];
    assert_eq!(failure.module, "evil");
    assert_eq!(
        failure.step.as_deref(),
        Some(format!("001_{attack}").as_str())
    );
    for part in expected {
        assert!(
            failure.reason.contains(part),
            "`{}` lacks `{part}`",
            failure.reason
        );
    }
    let after = report
        .modules
        .iter()
        .find(|m| m.module == "zz_after")
        .unwrap();
    assert_eq!(after.applied, ["001_ok"], "the next module still runs");

    assert_eq!(
        sandbox.dump_except(&["wasmig_", "zz_"]).await,
        before,
        "no data changed"
    );
    assert_eq!(
        sandbox.host().await.history(Some("victim")).await.unwrap(),
        victim_history,
        "the victim's ledger is intact"
    );
    eprintln!("{backend:?} {attack}: {}", failure.reason);
    failure.reason.clone()
}

async fn reading_another_modules_table(backend: Backend) {
    contained(
        backend,
        "read_other",
        &["denied: may not read `victim_secrets`: it belongs to module `victim`"],
    )
    .await;
}

async fn writing_a_host_table(backend: Backend) {
    contained(
        backend,
        "write_host",
        &["denied: may not write to `wasmig_modules`: it belongs to the host"],
    )
    .await;
}

async fn reaching_a_file_through_the_database(backend: Backend) {
    let expected = match backend {
        Backend::Sqlite => "attaching databases reaches outside this one",
        Backend::Postgres => "COPY and LOAD DATA read or write files and programs",
        Backend::MySql => "denied:",
    };
    contained(backend, "attach", &["denied:", expected]).await;
}

async fn switching_the_databases_safety_off(backend: Backend) {
    let expected = match backend {
        Backend::Sqlite => "PRAGMA writable_schema is not allowed",
        _ => "changing session or server settings is the host's business",
    };
    contained(backend, "writable_schema", &["denied:", expected]).await;
}

async fn committing_inside_up(backend: Backend) {
    contained(
        backend,
        "commit_escape",
        &["denied: COMMIT: transaction control belongs to the host"],
    )
    .await;
}

async fn hiding_a_second_statement(backend: Backend) {
    contained(
        backend,
        "hidden_statement",
        &[
            "denied: may not write to `victim_secrets`",
            "DELETE FROM victim_secrets",
        ],
    )
    .await;
}

async fn a_name_that_only_looks_owned(backend: Backend) {
    contained(
        backend,
        "lookalike",
        &["denied: may not write to", "it belongs to module `victim`"],
    )
    .await;
}

async fn a_view_over_an_ungranted_table(backend: Backend) {
    contained(
        backend,
        "view_trigger",
        &[
            "denied: may not read `victim_secrets`",
            "CREATE VIEW evil_view",
        ],
    )
    .await;
}

async fn an_infinite_loop(backend: Backend) {
    contained(
        backend,
        "infinite_loop",
        &["the step trapped: ran out of fuel (the CPU budget is 200000000 units)"],
    )
    .await;
}

async fn a_memory_bomb(backend: Backend) {
    contained(
        backend,
        "memory_bomb",
        &["the step trapped: exceeded the memory limit of 64 MiB"],
    )
    .await;
}

async fn deep_recursion(backend: Backend) {
    // The guest's stack lives in its own linear memory: overflowing it is an out-of-bounds
    // access there, which traps.
    contained(
        backend,
        "deep_recursion",
        &["the step trapped: wasm trap: out of bounds memory access"],
    )
    .await;
}

async fn a_huge_result(backend: Backend) {
    contained(
        backend,
        "huge_result",
        &["quota exceeded: the step's queries returned more rows than its limit allows"],
    )
    .await;
}

async fn opening_a_file(backend: Backend) {
    contained(backend, "open_file", &["could not open /etc/passwd"]).await;
}

async fn opening_a_socket(backend: Backend) {
    contained(backend, "open_socket", &["could not connect"]).await;
}

async fn reading_the_environment(backend: Backend) {
    contained(
        backend,
        "read_env",
        &["DATABASE_URL: environment variable not found; 0 variables visible"],
    )
    .await;
}
