//! Real migration histories (`tests/corpus/<dialect>/`), run unmodified: wasmig builds the
//! same schema as the database's own client does from the same files, and an upgrade in
//! increments builds the same schema as one fresh install.

use wasmig_engine::{Limits, Runtime, UpgradeReport, verify_package};
use wasmig_tests::corpus::Corpus;
use wasmig_tests::schema::Schema;
use wasmig_tests::{Backend, Sandbox, on_every_backend};

on_every_backend!(
    the_history_runs_unmodified_and_matches_the_client,
    an_upgrade_in_increments_matches_a_fresh_install,
    verify_passes_the_history_and_refuses_what_no_database_allows,
    plan_previews_the_history_without_a_denial_and_changes_nothing,
);

/// Upgrades the sandbox's modules as an operator who allows the extensions the histories
/// ask for.
async fn upgrade(sandbox: &Sandbox) -> UpgradeReport {
    let mut host = sandbox.host().await;
    host.set_allowed_extensions(["citext".to_owned()]);
    host.upgrade(&[], |_| {}).await.expect("the upgrade runs")
}

/// Installs the whole history with wasmig; returns the sandbox and its schema.
async fn fresh_install(corpus: &Corpus, backend: Backend) -> (Sandbox, Schema) {
    let sandbox = Sandbox::new(backend).await;
    corpus.write_package(&sandbox, corpus.len(), &corpus.version());
    let report = upgrade(&sandbox).await;
    assert!(report.is_success(), "{report:#?}");
    assert_eq!(report.modules[0].applied.len(), corpus.len());
    let schema = Schema::read(&sandbox.database().await).await.unwrap();
    (sandbox, schema)
}

async fn the_history_runs_unmodified_and_matches_the_client(backend: Backend) {
    let corpus = Corpus::load(backend);
    assert!(corpus.len() >= 40, "{} steps", corpus.len());
    let (_sandbox, ours) = fresh_install(&corpus, backend).await;

    let reference = Sandbox::new(backend).await;
    corpus.build_with_client(&reference);
    let theirs = Schema::read(&reference.database().await).await.unwrap();

    let differences = ours.differences(&theirs, ("wasmig", "the client"));
    assert!(differences.is_empty(), "{differences}");
    assert!(
        ours.0.len() >= 100,
        "a schema worth comparing: {:#?}",
        ours.0
    );

    // The comparison sees a difference when there is one.
    reference.sql("CREATE TABLE corpus_control (id INT)").await;
    let changed = Schema::read(&reference.database().await).await.unwrap();
    let differences = ours.differences(&changed, ("wasmig", "the client"));
    assert!(differences.contains("corpus_control"), "{differences}");
}

async fn an_upgrade_in_increments_matches_a_fresh_install(backend: Backend) {
    let corpus = Corpus::load(backend);
    let (_fresh, expected) = fresh_install(&corpus, backend).await;
    for first in [corpus.len() / 3, corpus.len() * 2 / 3] {
        let sandbox = Sandbox::new(backend).await;
        corpus.write_package(&sandbox, first, "0.1.0");
        let report = upgrade(&sandbox).await;
        assert!(report.is_success(), "first {first} steps: {report:#?}");
        corpus.write_package(&sandbox, corpus.len(), &corpus.version());
        let report = upgrade(&sandbox).await;
        assert!(report.is_success(), "after {first} steps: {report:#?}");
        assert_eq!(report.modules[0].applied.len(), corpus.len() - first);
        let schema = Schema::read(&sandbox.database().await).await.unwrap();
        let differences = schema.differences(&expected, ("in increments", "fresh"));
        assert!(
            differences.is_empty(),
            "after {first} steps:\n{differences}"
        );
    }
}

async fn verify_passes_the_history_and_refuses_what_no_database_allows(backend: Backend) {
    let corpus = Corpus::load(backend);
    let sandbox = Sandbox::new(backend).await;
    corpus.write_package(&sandbox, corpus.len(), &corpus.version());
    let runtime = Runtime::new(Limits::default()).unwrap();
    let package = sandbox.modules_dir().join(corpus.module());
    let verification = verify_package(&runtime, &package).await;
    assert!(verification.passed(), "{verification:#?}");
    let comments_only = verification
        .checks
        .iter()
        .filter(|c| c.detail.contains("comments only"))
        .count();
    assert_eq!(
        comments_only, 1,
        "each history has one step of comments only"
    );

    // A step that ends the host's transaction is refused before any database sees it.
    let next = format!("{:03}_close_the_books", corpus.len() + 1);
    std::fs::write(
        package.join("migrations").join(format!("{next}.sql")),
        "-- the application's habit\nDELETE FROM sessions;\nCOMMIT;\n",
    )
    .unwrap();
    let verification = verify_package(&runtime, &package).await;
    assert!(!verification.passed());
    let failed: Vec<_> = verification.checks.iter().filter(|c| !c.passed).collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(failed[0].detail.contains("line 3"), "{failed:#?}");
    assert!(
        failed[0]
            .detail
            .contains("transaction control belongs to the host"),
        "{failed:#?}"
    );
}

async fn plan_previews_the_history_without_a_denial_and_changes_nothing(backend: Backend) {
    let corpus = Corpus::load(backend);
    let sandbox = Sandbox::new(backend).await;
    corpus.write_package(&sandbox, corpus.len(), &corpus.version());
    let before = sandbox.dump().await;
    let plan = sandbox.cli(
        env!("CARGO_BIN_EXE_wasmig-test-cli"),
        &["plan", "--allow-extension", "citext"],
    );
    assert!(plan.success(), "{plan:?}");
    assert!(!plan.stdout().contains("FAILS"), "{plan:?}");
    assert_eq!(sandbox.dump().await, before, "the database is unchanged");

    // A step the policy refuses makes the plan fail, on every backend, as the upgrade would.
    let next = format!("{:03}_sneak", corpus.len() + 1);
    sandbox.sql("CREATE TABLE app_accounts (id INTEGER)").await;
    corpus.write_package(&sandbox, corpus.len(), &corpus.version());
    let package = sandbox.modules_dir().join(corpus.module());
    std::fs::write(
        package.join("migrations").join(format!("{next}.sql")),
        "DELETE FROM sessions;\nDELETE FROM app_accounts;\n",
    )
    .unwrap();
    let plan = sandbox.cli(
        env!("CARGO_BIN_EXE_wasmig-test-cli"),
        &["plan", "--allow-extension", "citext"],
    );
    assert!(!plan.success(), "{plan:?}");
    assert!(
        plan.stdout().contains("may not write to `app_accounts`"),
        "{plan:?}"
    );
    let report = upgrade(&sandbox).await;
    let failure = report.failures().next().expect("the upgrade fails too");
    assert_eq!(failure.step.as_deref(), Some(next.as_str()));
    assert!(
        failure.reason.contains("may not write to `app_accounts`"),
        "{failure}"
    );
}
