//! The upgrade path end to end on SQLite: real components, the real host, a real database file.

use wasmig_engine::Action;
use wasmig_store::Outcome;
use wasmig_tests::{Backend, Sandbox, blog_v1, on_every_backend};

on_every_backend!(
    a_fresh_install_runs_install_wasm_and_records_every_step_as_covered,
    without_install_wasm_a_fresh_install_runs_every_step_in_order,
    a_newer_version_runs_only_the_new_steps_and_a_second_upgrade_does_nothing,
    a_step_that_returns_an_error_is_rolled_back_and_recorded,
    a_trapping_step_is_contained_and_the_next_module_still_runs,
    an_older_header_is_refused_and_nothing_changes,
    a_step_added_without_a_version_bump_is_refused,
    gaps_duplicates_and_bad_headers_are_refused_before_any_step_runs,
    a_tampered_component_is_refused_before_it_runs,
    a_step_sees_fixed_clocks_and_seeded_randomness,
);

async fn a_fresh_install_runs_install_wasm_and_records_every_step_as_covered(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox)
        .step("003_index_status", "blog/migrations/003_index_status")
        .install("blog/install")
        .write();

    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.modules[0].applied, ["install"]);

    let host = sandbox.host().await;
    let status = host.status().await.unwrap();
    assert_eq!(status[0].installed_version, Some("1.0.0".parse().unwrap()));
    assert_eq!(status[0].action, Action::UpToDate);
    assert!(status[0].pending.is_empty());
    assert_eq!(status[0].last_step, 3);

    let history = host.history(Some("blog")).await.unwrap();
    let steps: Vec<_> = history.iter().map(|e| (e.step_name(), e.outcome)).collect();
    assert_eq!(
        steps,
        [
            ("install".to_owned(), Outcome::Applied),
            ("001_create_posts".to_owned(), Outcome::Covered),
            ("002_add_status".to_owned(), Outcome::Covered),
            ("003_index_status".to_owned(), Outcome::Covered),
        ]
    );
    assert!(history.iter().all(|e| e.sha256.len() == 64));
    assert!(sandbox.tables().await.contains(&"blog_posts".to_owned()));
}

async fn without_install_wasm_a_fresh_install_runs_every_step_in_order(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();

    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        report.modules[0].applied,
        ["001_create_posts", "002_add_status"]
    );

    // Step 002 backfilled the new column from what step 001 inserted.
    let rows = sandbox
        .database()
        .await
        .query("SELECT title, status FROM blog_posts ORDER BY id", &[])
        .await
        .unwrap();
    let statuses: Vec<_> = rows
        .rows
        .iter()
        .map(|r| r[1].as_text().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["live", "draft"]);
}

async fn a_newer_version_runs_only_the_new_steps_and_a_second_upgrade_does_nothing(
    backend: Backend,
) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    assert!(sandbox.upgrade().await.is_success());

    blog_v1(&sandbox)
        .header("name = \"blog\"\nversion = \"1.1.0\"\nhost-api = \"^0.1\"\n")
        .step("003_index_status", "blog/migrations/003_index_status")
        .step("004_archive", "testing/create_table")
        .write();
    let status = sandbox.host().await.status().await.unwrap();
    assert_eq!(status[0].pending, ["003_index_status", "004_archive"]);

    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        report.modules[0].applied,
        ["003_index_status", "004_archive"]
    );
    assert_eq!(report.modules[0].from, Some("1.0.0".parse().unwrap()));
    assert_eq!(report.modules[0].to, Some("1.1.0".parse().unwrap()));

    // The step saw where it was going from and to.
    let note = sandbox
        .database()
        .await
        .query("SELECT note FROM blog_004_archive", &[])
        .await
        .unwrap();
    assert_eq!(note.rows[0][0].as_text(), Some("1.0.0 -> 1.1.0"));

    let history = sandbox.host().await.history(None).await.unwrap();
    let order: Vec<_> = history.iter().map(|e| e.step_name()).collect();
    assert_eq!(
        order,
        [
            "001_create_posts",
            "002_add_status",
            "003_index_status",
            "004_archive"
        ]
    );

    let before = sandbox.dump().await;
    let again = sandbox.upgrade().await;
    assert!(again.is_success());
    assert!(again.modules[0].applied.is_empty());
    assert_eq!(
        sandbox.dump().await,
        before,
        "a second upgrade changes nothing"
    );
}

async fn a_step_that_returns_an_error_is_rolled_back_and_recorded(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    assert!(sandbox.upgrade().await.is_success());
    let before = sandbox.dump_module_data().await;

    blog_v1(&sandbox)
        .header("name = \"blog\"\nversion = \"1.1.0\"\nhost-api = \"^0.1\"\n")
        .step("003_more", "testing/create_table")
        .step("004_broken", "testing/fail")
        .step("005_never", "testing/create_table")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the upgrade fails");
    assert_eq!(failure.module, "blog");
    assert_eq!(failure.step.as_deref(), Some("004_broken"));
    assert!(failure.reason.contains("refusing on purpose"), "{failure}");
    assert_eq!(report.modules[0].applied, ["003_more"]);

    let tables = sandbox.tables().await;
    assert!(
        tables.contains(&"blog_003_more".to_owned()),
        "step 003 stays applied"
    );
    assert!(
        !tables.contains(&"blog_004_broken".to_owned()),
        "step 004 rolled back"
    );
    assert!(
        !tables.contains(&"blog_005_never".to_owned()),
        "the module stopped"
    );
    assert_ne!(sandbox.dump_module_data().await, before);

    let status = sandbox.host().await.status().await.unwrap();
    assert_eq!(status[0].installed_version, Some("1.0.0".parse().unwrap()));
    assert_eq!(status[0].last_step, 3);
    assert!(status[0].last_attempt_failed);
    assert_eq!(status[0].pending, ["004_broken", "005_never"]);

    let history = sandbox.host().await.history(Some("blog")).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.step, last.outcome), (4, Outcome::Failed));
    assert!(
        last.error
            .as_deref()
            .unwrap()
            .contains("refusing on purpose")
    );
}

async fn a_trapping_step_is_contained_and_the_next_module_still_runs(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("alpha", "1.0.0")
        .step("001_ok", "testing/create_table")
        .step("002_boom", "testing/panic")
        .write();
    sandbox
        .module("beta", "1.0.0")
        .step("001_ok", "testing/create_table")
        .write();

    let report = sandbox.upgrade().await;
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report:?}");
    assert_eq!(failures[0].step.as_deref(), Some("002_boom"));
    assert!(failures[0].reason.contains("trapped"), "{}", failures[0]);
    assert!(
        failures[0]
            .reason
            .contains("panicking on purpose in 002_boom"),
        "the panic message comes from the captured stderr: {}",
        failures[0]
    );
    assert_eq!(
        report.modules[1].applied,
        ["001_ok"],
        "beta ran after alpha trapped"
    );

    let tables = sandbox.tables().await;
    assert!(tables.contains(&"alpha_001_ok".to_owned()));
    assert!(!tables.contains(&"alpha_002_boom".to_owned()));
    assert!(tables.contains(&"beta_001_ok".to_owned()));

    let status = sandbox.host().await.status().await.unwrap();
    assert_eq!(status[0].installed_version, None, "alpha never completed");
    assert_eq!(status[0].last_step, 1);
    assert_eq!(status[0].action, Action::Apply { first: 2 });
}

async fn an_older_header_is_refused_and_nothing_changes(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox)
        .header("name = \"blog\"\nversion = \"2.0.0\"\nhost-api = \"^0.1\"\n")
        .write();
    assert!(sandbox.upgrade().await.is_success());
    let before = sandbox.dump().await;

    blog_v1(&sandbox).write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("refused");
    assert_eq!(failure.step, None);
    assert!(
        failure
            .reason
            .contains("database is at 2.0.0 but the package is 1.0.0"),
        "{failure}"
    );
    assert_eq!(sandbox.dump().await, before);
}

async fn a_step_added_without_a_version_bump_is_refused(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    assert!(sandbox.upgrade().await.is_success());
    let before = sandbox.dump().await;

    blog_v1(&sandbox)
        .step("003_index_status", "blog/migrations/003_index_status")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("refused");
    assert!(
        failure.reason.contains("step 003_index_status was added"),
        "{failure}"
    );
    assert_eq!(sandbox.dump().await, before);
}

async fn gaps_duplicates_and_bad_headers_are_refused_before_any_step_runs(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    // A healthy module beside the broken one must not run either.
    blog_v1(&sandbox).write();
    let cases = [
        (
            sandbox
                .module("zeta", "1.0.0")
                .step("001_a", "testing/create_table")
                .step("003_c", "testing/create_table"),
            "step 002 is missing",
        ),
        (
            sandbox
                .module("zeta", "1.0.0")
                .step("001_a", "testing/create_table")
                .step("001_b", "testing/create_table"),
            "share step number 001",
        ),
        (
            sandbox
                .module("zeta", "1.0.0")
                .header("name = \"zeta\"\nversion = \"one\"\nhost-api = \"^0.1\"\n"),
            "zeta/module.toml: field `version`: `one` is not a semver version",
        ),
        (
            sandbox
                .module("zeta", "1.0.0")
                .header("name = \"zeta\"\nversion = \"1.0.0\"\nhost-api = [\n"),
            "zeta/module.toml: line 3",
        ),
    ];
    let before = sandbox.dump().await;
    for (module, expected) in cases {
        module.write();
        let error = sandbox
            .host()
            .await
            .upgrade(&[], |_| {})
            .await
            .expect_err("the package is refused");
        assert!(
            error.to_string().contains(expected),
            "`{error}` lacks `{expected}`"
        );
        assert_eq!(sandbox.dump().await, before, "nothing ran for `{expected}`");
    }
}

async fn a_tampered_component_is_refused_before_it_runs(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    let dir = blog_v1(&sandbox).write();
    let step = dir.join("migrations/002_add_status.wasm");
    let mut bytes = std::fs::read(&step).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&step, bytes).unwrap();

    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("refused");
    assert_eq!(failure.step.as_deref(), Some("002_add_status"));
    assert!(
        failure.reason.contains("not a valid migration component"),
        "{failure}"
    );
    assert!(
        !sandbox.tables().await.contains(&"blog_posts".to_owned()),
        "step 001 did not run either: every component is checked first"
    );
}

async fn a_step_sees_fixed_clocks_and_seeded_randomness(backend: Backend) {
    let mut observed = Vec::new();
    for _ in 0..2 {
        let sandbox = Sandbox::new(backend).await;
        sandbox
            .module("probe", "1.0.0")
            .step("001_observe", "testing/nondeterminism")
            .write();
        assert!(sandbox.upgrade().await.is_success());
        let rows = sandbox
            .database()
            .await
            .query("SELECT wall, random, elapsed FROM observed", &[])
            .await
            .unwrap();
        observed.push(rows.rows);
    }
    assert_eq!(
        observed[0], observed[1],
        "two runs saw the same clocks and randomness"
    );
    assert_eq!(
        observed[0][0][0].as_integer(),
        Some(0),
        "the wall clock reads the epoch"
    );
}
