//! The upgrade path end to end on SQLite: real components, the real host, a real database file.

use std::time::Duration;

use wasmig_engine::{Action, EntryKind, FailureKind, Refusal, Repair, RepairRefusal};
use wasmig_store::{ModuleStatus, Outcome};
use wasmig_tests::{Backend, Sandbox, blog_v1, on_every_backend};

on_every_backend!(
    a_fresh_install_runs_install_wasm_and_records_every_step_as_covered,
    without_install_wasm_a_fresh_install_runs_every_step_in_order,
    a_newer_version_runs_only_the_new_steps_and_a_second_upgrade_does_nothing,
    a_failing_step_that_changed_data_is_rolled_back_on_every_backend,
    a_failing_step_with_ddl_is_rolled_back_where_ddl_is_transactional,
    resume_replays_an_unfinished_step_and_skips_what_committed,
    a_replay_that_sends_other_statements_is_refused,
    idempotent_helpers_survive_a_resume,
    a_host_may_require_module_names_as_prefixes,
    grants_open_tables_a_module_does_not_own,
    a_write_grant_covers_the_keys_the_table_generates,
    repair_refuses_a_module_with_nothing_unfinished,
    a_second_upgrader_is_refused_while_the_lock_is_held,
    a_command_finds_the_lock_its_predecessor_released,
    a_trapping_step_is_contained_and_the_next_module_still_runs,
    an_older_header_is_refused_and_nothing_changes,
    a_step_added_without_a_version_bump_is_refused,
    a_malformed_package_fails_only_itself,
    a_tampered_component_is_refused_before_it_runs,
    a_step_sees_fixed_clocks_and_seeded_randomness,
    a_component_listed_as_non_transactional_commits_statement_by_statement,
    a_name_a_module_dropped_stays_reserved_to_it,
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
    let kinds: Vec<_> = history.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Install,
            EntryKind::Step,
            EntryKind::Step,
            EntryKind::Step
        ],
        "the install is recorded as what it is, not as a step 0"
    );
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
    let sandbox = Sandbox::with_blog_v1(backend).await;

    blog_v1(&sandbox)
        .version("1.1.0")
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

async fn a_failing_step_that_changed_data_is_rolled_back_on_every_backend(backend: Backend) {
    let sandbox = Sandbox::with_blog_v1(backend).await;
    let before = sandbox.dump_module_data().await;

    blog_v1(&sandbox)
        .version("1.1.0")
        .step("003_ghost", "testing/fail_after_insert")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the upgrade fails");
    assert_eq!(
        failure.to_string(),
        "blog: step 003_ghost failed: the step returned an error: failing after an insert"
    );
    assert_eq!(
        sandbox.dump_module_data().await,
        before,
        "the insert was rolled back"
    );

    let status = sandbox.host().await.status().await.unwrap();
    assert_eq!(status[0].installed_version, Some("1.0.0".parse().unwrap()));
    assert!(status[0].last_attempt_failed);
    assert_eq!(status[0].action, Action::Apply { first: 3 });
    let history = sandbox.host().await.history(Some("blog")).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.step, last.outcome), (3, Outcome::Failed));
    assert!(
        last.error
            .as_deref()
            .unwrap()
            .contains("failing after an insert")
    );
}

async fn a_failing_step_with_ddl_is_rolled_back_where_ddl_is_transactional(backend: Backend) {
    let sandbox = Sandbox::with_blog_v1(backend).await;

    blog_v1(&sandbox)
        .version("1.1.0")
        .step("003_more", "testing/create_table")
        .step("004_broken", "testing/fail")
        .step("005_never", "testing/create_table")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the upgrade fails");
    assert_eq!(failure.module, "blog");
    assert_eq!(failure.step.as_deref(), Some("004_broken"));
    assert_eq!(failure.kind, FailureKind::Returned, "{failure}");
    assert!(failure.reason.contains("refusing on purpose"), "{failure}");
    assert_eq!(failure.unfinished, !backend.has_transactional_ddl());
    assert_eq!(report.modules[0].applied, ["003_more"]);

    let tables = sandbox.tables().await;
    assert!(
        tables.contains(&"blog_003_more".to_owned()),
        "step 003 stays applied"
    );
    assert!(
        !tables.contains(&"blog_005_never".to_owned()),
        "the module stopped"
    );
    let status = sandbox.host().await.status().await.unwrap();
    assert_eq!(status[0].installed_version, Some("1.0.0".parse().unwrap()));
    assert_eq!(status[0].last_step, 3);

    if backend.has_transactional_ddl() {
        assert!(
            !tables.contains(&"blog_004_broken".to_owned()),
            "step 004 rolled back"
        );
        assert!(status[0].last_attempt_failed);
        assert_eq!(status[0].pending, ["004_broken", "005_never"]);
        return;
    }
    // MySQL committed the CREATE TABLE: the module is unfinished until an operator acts.
    assert!(tables.contains(&"blog_004_broken".to_owned()));
    assert!(
        failure.reason.contains("so the module is unfinished"),
        "{failure}"
    );
    assert_eq!(
        status[0].action,
        Action::Unfinished {
            step: "004_broken".into(),
            status: ModuleStatus::Dirty
        }
    );
    let again = sandbox.upgrade().await;
    let refusal = again.failures().next().expect("refused while unfinished");
    assert_eq!(refusal.kind, FailureKind::Unfinished);
    assert!(refusal.unfinished);
    assert!(
        refusal
            .reason
            .contains("step 004_broken failed after some of its statements had committed"),
        "{refusal}"
    );

    // The operator drops the half-made table and marks the step failed: it runs again.
    sandbox.sql("DROP TABLE blog_004_broken").await;
    let host = sandbox.host().await;
    let wrong = host
        .repair("blog", Repair::MarkFailed(5))
        .await
        .unwrap_err();
    assert!(
        wrong
            .to_string()
            .contains("step 005 is not the unfinished one, which is 004_broken"),
        "{wrong}"
    );
    host.repair("blog", Repair::MarkFailed(4)).await.unwrap();
    let status = host.status().await.unwrap();
    assert_eq!(status[0].action, Action::Apply { first: 4 });
    assert!(status[0].last_attempt_failed);
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
    assert_eq!(failures[0].kind, FailureKind::Trapped, "{}", failures[0]);
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
    assert_eq!(
        tables.contains(&"alpha_002_boom".to_owned()),
        !backend.has_transactional_ddl(),
        "rolled back unless DDL commits implicitly"
    );
    assert!(tables.contains(&"beta_001_ok".to_owned()));

    let status = sandbox.host().await.status().await.unwrap();
    assert_eq!(status[0].installed_version, None, "alpha never completed");
    assert_eq!(status[0].last_step, 1);
    let expected = if backend.has_transactional_ddl() {
        Action::Apply { first: 2 }
    } else {
        Action::Unfinished {
            step: "002_boom".into(),
            status: ModuleStatus::Dirty,
        }
    };
    assert_eq!(status[0].action, expected);
}

async fn an_older_header_is_refused_and_nothing_changes(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).version("2.0.0").write();
    assert!(sandbox.upgrade().await.is_success());
    let before = sandbox.dump().await;

    blog_v1(&sandbox).write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("refused");
    assert_eq!(failure.step, None);
    let downgrade = Refusal::Downgrade {
        installed: "2.0.0".parse().unwrap(),
        header: "1.0.0".parse().unwrap(),
    };
    assert_eq!(failure.kind, FailureKind::Refused { refusal: downgrade });
    assert!(
        failure
            .reason
            .contains("database is at 2.0.0 but the package is 1.0.0"),
        "{failure}"
    );
    assert_eq!(sandbox.dump().await, before);
}

async fn a_step_added_without_a_version_bump_is_refused(backend: Backend) {
    let sandbox = Sandbox::with_blog_v1(backend).await;
    let before = sandbox.dump().await;

    blog_v1(&sandbox)
        .step("003_index_status", "blog/migrations/003_index_status")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("refused");
    assert!(
        matches!(&failure.kind, FailureKind::Refused {
            refusal: Refusal::StepAddedWithoutBump { step, .. } } if step == "003_index_status"),
        "{failure:?}"
    );
    assert!(
        failure.reason.contains("step 003_index_status was added"),
        "{failure}"
    );
    assert_eq!(sandbox.dump().await, before);
}

async fn a_malformed_package_fails_only_itself(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    // The healthy module beside the broken one installs; the broken one is refused whole.
    blog_v1(&sandbox).write();
    // The last case's step 002 is a FIFO: reading it would block forever.
    let cases = [
        (
            sandbox
                .module("zeta", "1.0.0")
                .step("001_a", "testing/create_table")
                .step("003_c", "testing/create_table"),
            "step 002 is missing",
            false,
        ),
        (
            sandbox
                .module("zeta", "1.0.0")
                .step("001_a", "testing/create_table")
                .step("001_b", "testing/create_table"),
            "share step number 001",
            false,
        ),
        (
            sandbox
                .module("zeta", "1.0.0")
                .header("name = \"zeta\"\nversion = \"one\"\nhost-api = \"^0.1\"\n"),
            "zeta/module.toml: field `version`: `one` is not a semver version",
            false,
        ),
        (
            sandbox
                .module("zeta", "1.0.0")
                .header("name = \"zeta\"\nversion = \"1.0.0\"\nhost-api = [\n"),
            "zeta/module.toml: line 3",
            false,
        ),
        (
            sandbox
                .module("zeta", "1.0.0")
                .step("001_a", "testing/create_table"),
            "002_b.sql: not a regular file (a FIFO, a device or a directory is never read)",
            true,
        ),
    ];
    for (module, expected, fifo) in cases {
        let dir = module.write();
        if fifo {
            let path = dir.join("migrations/002_b.sql");
            let made = std::process::Command::new("mkfifo").arg(&path).status();
            assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", path.display());
        }
        let status = sandbox
            .host()
            .await
            .status()
            .await
            .expect("status reads the rest");
        let zeta = status
            .iter()
            .find(|p| p.module == "zeta")
            .expect("zeta is listed");
        assert!(
            matches!(&zeta.action, Action::Refused { refusal: Refusal::Unreadable { error } }
                if error.contains(expected)),
            "{zeta:?} lacks `{expected}`"
        );
        let report = sandbox.upgrade().await;
        let failures: Vec<_> = report.failures().collect();
        assert_eq!(failures.len(), 1, "only zeta fails: {report:?}");
        assert_eq!(
            (failures[0].module.as_str(), failures[0].step.as_deref()),
            ("zeta", None)
        );
        assert!(
            matches!(&failures[0].kind, FailureKind::Refused { refusal: Refusal::Unreadable { error } }
                if error.contains(expected)),
            "`{}` lacks `{expected}`",
            failures[0].reason
        );
        let history = sandbox.host().await.history(Some("zeta")).await.unwrap();
        assert!(
            history.is_empty(),
            "nothing of zeta ran for `{expected}`: {history:?}"
        );
        let blog = status.iter().find(|p| p.module == "blog").unwrap();
        assert!(
            blog.has_work() || blog.installed_version.is_some(),
            "{blog:?}"
        );
    }
    let status = sandbox.host().await.status().await.unwrap();
    let blog = status.iter().find(|p| p.module == "blog").unwrap();
    assert_eq!(
        blog.action,
        Action::UpToDate,
        "the healthy module was installed"
    );
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
    assert_eq!(failure.kind, FailureKind::Invalid);
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

async fn resume_replays_an_unfinished_step_and_skips_what_committed(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox.sql("CREATE TABLE flag (id INTEGER)").await;
    sandbox
        .module("blog", "1.0.0")
        .step("001_ok", "testing/create_table")
        .step("002_flagged", "testing/needs_flag")
        .grant_read("flag")
        .write();
    let report = sandbox.upgrade().await;
    assert!(
        report
            .failures()
            .next()
            .unwrap()
            .reason
            .contains("the flag is not set")
    );

    sandbox.sql("INSERT INTO flag (id) VALUES (1)").await;
    let host = sandbox.host().await;
    let report = if backend.has_transactional_ddl() {
        // Nothing of step 002 committed: it simply runs again.
        host.upgrade(&[], |_| {}).await.unwrap()
    } else {
        let refused = host.upgrade(&[], |_| {}).await.unwrap();
        assert!(
            !refused.is_success(),
            "an unfinished module is not upgraded"
        );
        host.resume(&[], |_| {}).await.unwrap()
    };
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.modules[0].applied, ["002_flagged"]);

    assert_eq!(
        sandbox
            .integer("SELECT COUNT(*) FROM blog_002_flagged")
            .await,
        1,
        "the step's effects happened once"
    );
    let outcomes: Vec<_> = host
        .history(Some("blog"))
        .await
        .unwrap()
        .iter()
        .filter(|e| e.step == 2)
        .map(|e| e.outcome)
        .collect();
    assert_eq!(outcomes, [Outcome::Failed, Outcome::Applied]);
    assert_eq!(
        sandbox.integer("SELECT COUNT(*) FROM wasmig_journal").await,
        0,
        "the journal is cleared"
    );
}

async fn a_replay_that_sends_other_statements_is_refused(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox.sql("CREATE TABLE flag (id INTEGER)").await;
    let module = |version: &str| {
        sandbox
            .module("blog", version)
            .step("001_shifty", "testing/diverge")
            .grant_read("flag")
            .write()
    };
    module("1.0.0");
    assert!(!sandbox.upgrade().await.is_success());
    // The header changes before the step is taken up again: it now names another table.
    module("1.0.1");
    sandbox.sql("INSERT INTO flag (id) VALUES (1)").await;

    let host = sandbox.host().await;
    if backend.has_transactional_ddl() {
        assert!(host.upgrade(&[], |_| {}).await.unwrap().is_success());
        let tables = sandbox.tables().await;
        assert!(tables.contains(&"blog_001_shifty_1_0_1".to_owned()));
        assert!(
            !tables.contains(&"blog_001_shifty_1_0_0".to_owned()),
            "rolled back"
        );
        return;
    }
    let report = host.resume(&[], |_| {}).await.unwrap();
    let failure = report.failures().next().expect("the replay is refused");
    assert!(
        failure
            .reason
            .contains("the replay diverged from the journal"),
        "{failure}"
    );
    assert!(
        failure.reason.contains(
            "statement 1 was `CREATE TABLE blog_001_shifty_1_0_0 (id INTEGER)` when it committed"
        ),
        "{failure}"
    );
    assert!(
        failure
            .reason
            .contains("now sends `CREATE TABLE blog_001_shifty_1_0_1 (id INTEGER)`"),
        "{failure}"
    );
    let tables = sandbox.tables().await;
    assert!(
        !tables.contains(&"blog_001_shifty_1_0_1".to_owned()),
        "the differing statement never ran"
    );
    let status = host.status().await.unwrap();
    assert!(
        matches!(status[0].action, Action::Unfinished { .. }),
        "{:?}",
        status[0].action
    );
}

async fn a_write_grant_covers_the_keys_the_table_generates(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    // The application's table, with a key the database generates (on PostgreSQL a sequence
    // that the module's role needs the right to use).
    let key = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY",
        Backend::Postgres => "SERIAL PRIMARY KEY",
        Backend::MySql => "INTEGER AUTO_INCREMENT PRIMARY KEY",
    };
    sandbox
        .sql(&format!("CREATE TABLE settings (id {key}, name TEXT)"))
        .await;
    sandbox
        .module("shop", "1.0.0")
        .sql_step(
            "001_setting",
            "INSERT INTO settings (name) VALUES ('shop.currency');\n\
             UPDATE settings SET name = 'shop.currency.default' WHERE name = 'shop.currency';",
        )
        .grant_write("settings")
        .write();
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        sandbox
            .integer(
                "SELECT COUNT(*) FROM settings WHERE name = 'shop.currency.default' AND id > 0"
            )
            .await,
        1
    );
}

async fn repair_refuses_a_module_with_nothing_unfinished(backend: Backend) {
    let sandbox = Sandbox::with_blog_v1(backend).await;
    let before = sandbox.dump().await;
    let error = sandbox
        .host()
        .await
        .repair("blog", Repair::MarkApplied(3))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            wasmig_engine::Error::Repair {
                reason: RepairRefusal::NothingUnfinished { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("cannot repair blog: no step is unfinished"),
        "{error}"
    );
    assert_eq!(sandbox.dump().await, before);
}

async fn a_second_upgrader_is_refused_while_the_lock_is_held(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    let held = sandbox.database().await.lock(Duration::ZERO).await.unwrap();
    let error = sandbox.host().await.upgrade(&[], |_| {}).await.unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("another upgrade holds the lock"), "{text}");
    if backend != Backend::MySql {
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "names the holder: {text}"
        );
    }
    assert!(
        sandbox
            .tables()
            .await
            .iter()
            .all(|t| !t.starts_with("blog")),
        "nothing ran"
    );

    // With a wait, the upgrade proceeds once the holder lets go.
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
    });
    let mut host = sandbox.host().await;
    host.set_lock_wait(Duration::from_secs(10));
    assert!(host.upgrade(&[], |_| {}).await.unwrap().is_success());
    release.await.unwrap();
}

/// A command returns only once the server let go of its lock: the next one, with no wait,
/// never finds it still held (MariaDB notices a dropped connection a moment later, which
/// once failed CI).
async fn a_command_finds_the_lock_its_predecessor_released(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    let host = sandbox.host().await;
    for round in 0..150 {
        let report = host.upgrade(&[], |_| {}).await;
        assert!(report.is_ok(), "round {round}: {:?}", report.err());
        let lock = sandbox.database().await.lock(Duration::ZERO).await;
        assert!(lock.is_ok(), "round {round}: {:?}", lock.err());
        lock.unwrap().release().await;
    }
}

async fn idempotent_helpers_survive_a_resume(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox.sql("CREATE TABLE flag (id INTEGER)").await;
    sandbox
        .module("shop", "1.0.0")
        .step("001_items", "testing/idempotent")
        .grant_read("flag")
        .write();
    assert!(!sandbox.upgrade().await.is_success());
    let journal = sandbox
        .database()
        .await
        .query("SELECT COUNT(*) FROM wasmig_journal", &[])
        .await
        .unwrap();
    let expected_journal = if backend.has_transactional_ddl() {
        0
    } else {
        5
    };
    assert_eq!(journal.rows[0][0].as_integer(), Some(expected_journal));
    sandbox.sql("INSERT INTO flag (id) VALUES (1)").await;

    // On MySQL the table, column and index committed: the replay must skip them, answering
    // the helpers' catalog checks as they were answered when those statements ran.
    let report = sandbox.retry().await;
    assert!(report.is_success(), "{report:?}");
    let rows = sandbox
        .database()
        .await
        .query("SELECT id, rating FROM shop_items", &[])
        .await
        .unwrap();
    assert_eq!(rows.rows.len(), 1);
    assert_eq!(rows.rows[0][1].as_integer(), Some(5));
}

async fn a_host_may_require_module_names_as_prefixes(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    // `create_table` names its table `<module>_<step>`: `shop_001_a` fits the rule for `shop`.
    sandbox
        .module("shop", "1.0.0")
        .step("001_a", "testing/create_table")
        .write();
    // `victim` creates `victim_secrets`, which is not `other_…`.
    sandbox
        .module("other", "1.0.0")
        .step("001_secrets", "testing/victim")
        .write();
    let mut host = sandbox.host().await;
    host.set_require_prefix(true);
    let report = host.upgrade(&[], |_| {}).await.unwrap();
    let failure = report.failures().next().expect("`other` is refused");
    assert_eq!(failure.module, "other");
    assert!(
        failure
            .reason
            .contains("this host requires module `other` to name its objects `other_…`"),
        "{failure}"
    );
    assert_eq!(
        report
            .modules
            .iter()
            .find(|m| m.module == "shop")
            .unwrap()
            .applied,
        ["001_a"]
    );
}

async fn grants_open_tables_a_module_does_not_own(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox.sql("CREATE TABLE flag (id INTEGER)").await;
    sandbox.sql("INSERT INTO flag (id) VALUES (1)").await;
    // Without a grant, `flag` (the application's) is out of reach …
    sandbox
        .module("shop", "1.0.0")
        .step("001_items", "testing/idempotent")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("refused without a grant");
    assert!(
        failure
            .reason
            .contains("may not read `flag`: it belongs to the host"),
        "{failure}"
    );
    // … with `[grants] read = ["flag"]` the same step runs.
    sandbox
        .module("shop", "1.0.0")
        .step("001_items", "testing/idempotent")
        .grant_read("flag")
        .write();
    let report = sandbox.retry().await;
    assert!(report.is_success(), "{report:?}");
}

/// Compiling a component (Cranelift, the slow part of preparing a step) leaves an embedding
/// application's other tasks running, even on a single-threaded runtime.
#[tokio::test(flavor = "current_thread")]
async fn compiling_a_component_leaves_other_tasks_running() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let bytes = std::fs::read(wasmig_tests::component("blog/install")).expect("the component");
    let runtime = wasmig_runtime::Runtime::new(wasmig_engine::Limits::default()).unwrap();
    let compiled = AtomicBool::new(false);
    let ((), ran_meanwhile) = tokio::join!(
        async {
            runtime
                .prepare(&bytes, [0; 32])
                .await
                .expect("a valid component");
            compiled.store(true, Ordering::SeqCst);
        },
        async {
            tokio::task::yield_now().await;
            !compiled.load(Ordering::SeqCst)
        }
    );
    assert!(ran_meanwhile, "another task ran only after the compilation");
}

async fn a_component_listed_as_non_transactional_commits_statement_by_statement(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("nt", "1.0.0")
        .header_line("no-transaction = [\"001_fail\"]")
        .step("001_fail", "testing/fail")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the step fails");
    assert!(failure.reason.contains("refusing on purpose"), "{failure}");
    // Its CREATE TABLE committed by itself, even where DDL is transactional: the module is
    // unfinished, as on MySQL.
    assert!(sandbox.tables().await.contains(&"nt_001_fail".to_owned()));
    let status = sandbox.host().await.status().await.unwrap().remove(0);
    assert!(
        matches!(status.action, Action::Unfinished { .. }),
        "{status:?}"
    );
}

async fn a_name_a_module_dropped_stays_reserved_to_it(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("first", "1.0.0")
        .sql_step("001_make", "CREATE TABLE first_tmp (id INTEGER);")
        .sql_step("002_drop", "DROP TABLE first_tmp;")
        .write();
    assert!(sandbox.upgrade().await.is_success());
    sandbox
        .module("second", "1.0.0")
        .sql_step("001_take", "CREATE TABLE first_tmp (id INTEGER);")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the name is taken");
    assert_eq!(failure.module, "second");
    assert!(
        failure
            .reason
            .contains("may not create `first_tmp`: the name belongs to module `first`"),
        "{failure}"
    );
    // The module that dropped it may make it again.
    sandbox
        .module("first", "1.1.0")
        .sql_step("001_make", "CREATE TABLE first_tmp (id INTEGER);")
        .sql_step("002_drop", "DROP TABLE first_tmp;")
        .sql_step(
            "003_again",
            "CREATE TABLE first_tmp (id INTEGER, note TEXT);",
        )
        .write();
    let report = sandbox
        .host()
        .await
        .upgrade(&["first".to_owned()], |_| {})
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
}
