//! Real migration histories (`tests/corpus/<dialect>/`), run unmodified: wasmig builds the
//! same schema as the database's own client does from the same files, and an upgrade in
//! increments builds the same schema as one fresh install.

use wasmig_engine::UpgradeReport;
use wasmig_tests::corpus::Corpus;
use wasmig_tests::schema::Schema;
use wasmig_tests::{Backend, Sandbox, on_every_backend};

on_every_backend!(
    the_history_runs_unmodified_and_matches_the_client,
    an_upgrade_in_increments_matches_a_fresh_install,
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
    let schema = Schema::read(&sandbox.database().await).await;
    (sandbox, schema)
}

async fn the_history_runs_unmodified_and_matches_the_client(backend: Backend) {
    let corpus = Corpus::load(backend);
    assert!(corpus.len() >= 40, "{} steps", corpus.len());
    let (_sandbox, ours) = fresh_install(&corpus, backend).await;

    let reference = Sandbox::new(backend).await;
    corpus.build_with_client(&reference);
    let theirs = Schema::read(&reference.database().await).await;

    let differences = ours.differences(&theirs, ("wasmig", "the client"));
    assert!(differences.is_empty(), "{differences}");
    assert!(
        ours.0.len() >= 100,
        "a schema worth comparing: {:#?}",
        ours.0
    );

    // The comparison sees a difference when there is one.
    reference.sql("CREATE TABLE corpus_control (id INT)").await;
    let changed = Schema::read(&reference.database().await).await;
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
        let schema = Schema::read(&sandbox.database().await).await;
        let differences = schema.differences(&expected, ("in increments", "fresh"));
        assert!(
            differences.is_empty(),
            "after {first} steps:\n{differences}"
        );
    }
}
