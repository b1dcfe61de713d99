//! Upgrading installed modules safely: plain SQL steps, tolerant statements, integrity,
//! host API compatibility and dependencies, on every backend.

use sha2::Digest as _;
use wasmig_db::Value;
use wasmig_engine::{
    Action, EntryKind, Event, FailureKind, Refusal, Repair, Repaired, Rule, UninstallRefusal,
};
use wasmig_store::Outcome;
use wasmig_tests::{Backend, Sandbox, blog_v1, failure_mentioning, on_every_backend};

on_every_backend!(
    a_sql_step_runs_in_the_steps_transaction_and_is_recorded,
    a_sql_step_goes_through_the_policy,
    a_failing_sql_statement_fails_the_step_and_changes_nothing,
    a_tolerant_statement_may_fail_and_the_step_goes_on,
    execute_tolerant_keeps_the_step_transaction_usable,
    a_step_changed_after_it_was_applied_blocks_upgrades_until_accepted,
    a_checksum_list_refuses_a_tampered_package_before_anything_runs,
    an_incompatible_host_api_is_refused_unless_forced,
    dependencies_run_first_and_unmet_ones_block_only_their_dependents,
    a_dependency_cycle_is_refused_when_the_modules_are_read,
    plan_shows_the_sql_of_each_pending_step_and_changes_nothing,
    plan_shows_parameters_and_the_statements_allowed_to_fail,
    a_deactivated_module_is_left_alone_until_activated,
    uninstall_runs_the_modules_own_step_and_nothing_else,
    the_maintenance_flag_is_up_while_steps_run_and_cleared_after_a_failure,
    an_abandoned_upgrade_lowers_the_maintenance_flag_and_releases_the_lock,
    a_backup_taken_before_an_upgrade_brings_the_modules_back,
);

const NOTES_SQL: &str = "-- notes, in plain SQL\n\
    CREATE TABLE notes_items (id INTEGER PRIMARY KEY, body VARCHAR(200));\n\
    INSERT INTO notes_items (id, body) VALUES (1, 'semi; colon');\n\
    INSERT INTO notes_items (id, body) VALUES (2, 'it''s');\n";

async fn a_sql_step_runs_in_the_steps_transaction_and_is_recorded(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .sql_step(
            "002_more",
            "INSERT INTO notes_items (id, body) SELECT id + 10, body FROM notes_items",
        )
        .write();
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.modules[0].applied, ["001_create", "002_more"]);
    assert_eq!(
        sandbox
            .integer("SELECT COUNT(*) FROM notes_items WHERE body = 'semi; colon'")
            .await,
        2
    );
    let history = sandbox.host().await.history(Some("notes")).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|e| e.outcome == Outcome::Applied));
    assert_eq!(
        history[0].sha256,
        format!("{:x}", sha2::Sha256::digest(NOTES_SQL.as_bytes()))
    );
}

async fn a_sql_step_goes_through_the_policy(backend: Backend) {
    let sandbox = Sandbox::with_blog_v1(backend).await;
    let before = sandbox.dump_except(&["wasmig_"]).await;
    sandbox
        .module("notes", "1.0.0")
        .sql_step(
            "001_steal",
            "CREATE TABLE notes_copy (title VARCHAR(200));\n\
             INSERT INTO notes_copy SELECT title FROM blog_posts;",
        )
        .write();
    let report = sandbox.upgrade().await;
    let failure = failure_mentioning(
        &report,
        "may not read `blog_posts`: it belongs to module `blog`",
    );
    let FailureKind::Denied { denial } = &failure.kind else {
        panic!("a denial: {failure:?}");
    };
    assert_eq!(
        (denial.rule, denial.object.as_deref()),
        (Rule::Access, Some("blog_posts"))
    );
    if backend.has_transactional_ddl() {
        assert_eq!(sandbox.dump_except(&["wasmig_"]).await, before);
    } else {
        // The CREATE TABLE committed implicitly: the module is left for resume or repair.
        assert!(failure.unfinished, "{failure}");
        assert!(
            failure.reason.contains("so the module is unfinished"),
            "{failure}"
        );
    }
}

async fn a_failing_sql_statement_fails_the_step_and_changes_nothing(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .write();
    assert!(sandbox.upgrade().await.is_success());
    let before = sandbox.dump_except(&["wasmig_"]).await;
    sandbox
        .module("notes", "1.1.0")
        .sql_step("001_create", NOTES_SQL)
        .sql_step(
            "002_broken",
            "INSERT INTO notes_items (id, body) VALUES (3, 'three');\n\
             \n\
             INSERT INTO notes_items (id, body) VALUES (1, 'duplicate key');",
        )
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the step fails");
    assert_eq!(failure.step.as_deref(), Some("002_broken"));
    assert!(
        failure.reason.contains(
            "line 3: `INSERT INTO notes_items (id, body) VALUES (1, 'duplicate key')` failed"
        ),
        "{failure}"
    );
    assert_eq!(sandbox.dump_except(&["wasmig_"]).await, before);
}

async fn a_tolerant_statement_may_fail_and_the_step_goes_on(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .sql_step(
            "002_normalize",
            "-- wasmig:tolerant\n\
             INSERT INTO notes_items (id, body) VALUES (1, 'already there');\n\
             INSERT INTO notes_items (id, body) VALUES (3, 'after');\n",
        )
        .write();
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(sandbox.integer("SELECT COUNT(*) FROM notes_items").await, 3);
    assert_eq!(
        sandbox
            .integer("SELECT COUNT(*) FROM notes_items WHERE body = 'already there'")
            .await,
        0
    );
    let history = sandbox.host().await.history(Some("notes")).await.unwrap();
    let normalize = &history[1];
    assert_eq!(normalize.outcome, Outcome::Applied);
    let note = normalize.error.as_deref().unwrap_or_default();
    assert!(
        note.contains("statement 1 `INSERT INTO notes_items (id, body) VALUES (1, 'already there')` failed and was tolerated"),
        "{note}"
    );
}

async fn execute_tolerant_keeps_the_step_transaction_usable(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("marks", "1.0.0")
        .header_line("# uses execute-tolerant")
        .step("001_marks", "testing/tolerant")
        .write();
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(sandbox.integer("SELECT COUNT(*) FROM marks_marks").await, 2);
    let history = sandbox.host().await.history(Some("marks")).await.unwrap();
    let note = history[0].error.as_deref().unwrap_or_default();
    assert!(note.contains("failed and was tolerated"), "{note}");
}

async fn a_step_changed_after_it_was_applied_blocks_upgrades_until_accepted(backend: Backend) {
    let sandbox = Sandbox::with_blog_v1(backend).await;
    // Version 1.1.0 adds step 003, but its step 002 is not the file that was applied.
    let dir = blog_v1(&sandbox)
        .step("003_index_status", "blog/migrations/003_index_status")
        .version("1.1.0")
        .write();
    std::fs::copy(
        dir.join("migrations/003_index_status.wasm"),
        dir.join("migrations/002_add_status.wasm"),
    )
    .unwrap();
    let before = sandbox.dump().await;

    let host = sandbox.host().await;
    let status = host.status().await.unwrap();
    assert_eq!(status[0].changed, ["002_add_status"]);
    let report = sandbox.upgrade().await;
    failure_mentioning(
        &report,
        "step 002_add_status of blog changed after it was applied",
    );
    assert_eq!(
        sandbox.dump().await,
        before,
        "nothing ran, nothing was recorded"
    );

    let accepted = host.repair("blog", Repair::AcceptChanged).await.unwrap();
    assert_eq!(
        accepted,
        Repaired::Accepted {
            steps: vec!["002_add_status".into()]
        }
    );
    let status = host.status().await.unwrap();
    assert!(status[0].changed.is_empty());
    assert_eq!(status[0].pending, ["003_index_status"]);
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    let history = host.history(Some("blog")).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.outcome == Outcome::Accepted && e.step == 2)
    );
    let err = host
        .repair("blog", Repair::AcceptChanged)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no applied step changed"), "{err}");
}

async fn a_checksum_list_refuses_a_tampered_package_before_anything_runs(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    let dir = blog_v1(&sandbox).write();
    let package = wasmig_manifest::load_module(&sandbox.modules_dir(), "blog").unwrap();
    std::fs::write(
        dir.join(wasmig_manifest::CHECKSUMS_FILE),
        wasmig_manifest::checksum_list(&dir, &package),
    )
    .unwrap();
    std::fs::copy(
        wasmig_tests::component("testing/fail"),
        dir.join("migrations/002_add_status.wasm"),
    )
    .unwrap();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the package is refused");
    assert_eq!(
        (failure.module.as_str(), failure.step.as_deref()),
        ("blog", None)
    );
    assert!(
        failure
            .reason
            .contains("`migrations/002_add_status.wasm` does not match its checksum"),
        "{failure}"
    );
    assert!(
        sandbox
            .tables()
            .await
            .iter()
            .all(|t| t.starts_with("wasmig_") || t.starts_with("sqlite_")),
        "nothing of the package ran: {:?}",
        sandbox.tables().await
    );
}

async fn an_incompatible_host_api_is_refused_unless_forced(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox)
        .header("name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"^0.2\"\n")
        .write();
    let report = sandbox.upgrade().await;
    failure_mentioning(
        &report,
        "needs host API ^0.2, but this host implements 0.1.2",
    );
    assert!(!sandbox.tables().await.contains(&"blog_posts".to_owned()));

    let mut host = sandbox.host().await;
    host.set_force(true);
    let report = host.upgrade(&[], |_| {}).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(sandbox.tables().await.contains(&"blog_posts".to_owned()));
}

async fn dependencies_run_first_and_unmet_ones_block_only_their_dependents(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    // `addon` sorts before `blog` but reads its table, granted: it must run after it.
    sandbox
        .module("addon", "1.0.0")
        .header_line("depends = { blog = \">=1.0\" }")
        .grant_read("blog_posts")
        .sql_step(
            "001_count",
            "CREATE TABLE addon_counts (posts INTEGER);\n\
             INSERT INTO addon_counts SELECT COUNT(*) FROM blog_posts;",
        )
        .write();
    sandbox
        .module("extra", "1.0.0")
        .header_line("depends = { blog = \">=2\", missing = \"1\" }")
        .sql_step("001_t", "CREATE TABLE extra_t (id INTEGER);")
        .write();

    let status = sandbox.host().await.status().await.unwrap();
    let extra = status.iter().find(|p| p.module == "extra").unwrap();
    let Action::Refused {
        refusal: Refusal::Dependency { unmet },
    } = &extra.action
    else {
        panic!("extra is blocked: {extra:?}");
    };
    assert_eq!(
        unmet,
        &[
            "needs module `blog` >=2, which is at 1.0.0",
            "needs module `missing` ^1, which is not installed"
        ],
    );

    let report = sandbox.upgrade().await;
    let order: Vec<&str> = report.modules.iter().map(|m| m.module.as_str()).collect();
    assert_eq!(order, ["blog", "addon", "extra"]);
    assert!(report.modules[0].failure.is_none() && report.modules[1].failure.is_none());
    let blocked = report.modules[2]
        .failure
        .as_ref()
        .expect("extra is blocked");
    assert!(
        blocked
            .reason
            .contains("needs module `blog` >=2, which is at 1.0.0"),
        "{blocked}"
    );
    assert_eq!(sandbox.integer("SELECT posts FROM addon_counts").await, 2);
    assert!(!sandbox.tables().await.contains(&"extra_t".to_owned()));
}

async fn a_dependency_cycle_is_refused_when_the_modules_are_read(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox)
        .header_line("depends = { addon = \"1\" }")
        .write();
    sandbox
        .module("addon", "1.0.0")
        .header_line("depends = { blog = \"1\" }")
        .write();
    let err = sandbox.host().await.status().await.unwrap_err().to_string();
    assert!(
        err.contains("modules depend on each other in a cycle: addon -> blog -> addon"),
        "{err}"
    );
}

async fn plan_shows_the_sql_of_each_pending_step_and_changes_nothing(backend: Backend) {
    let sandbox = Sandbox::with_blog_v1(backend).await;
    blog_v1(&sandbox)
        .version("1.1.0")
        .step("003_index_status", "blog/migrations/003_index_status")
        .sql_step(
            "004_archive",
            "UPDATE blog_posts SET status = 'archived' WHERE published = 0",
        )
        .step("005_broken", "testing/fail")
        .write();
    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .write();
    let before = sandbox.dump().await;

    let dry_run = sandbox.host().await.plan(&[]).await.unwrap();
    assert_eq!(sandbox.dump().await, before, "a dry run changes nothing");
    assert_eq!(dry_run.exact, backend.has_transactional_ddl());
    let blog = &dry_run.modules[0];
    assert_eq!(blog.plan.module, "blog");
    let steps: Vec<&str> = blog.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["003_index_status", "004_archive", "005_broken"]);
    let sql = |step: &wasmig_engine::StepPreview| -> Vec<String> {
        step.statements.iter().map(|s| s.sql.clone()).collect()
    };
    assert_eq!(
        sql(&blog.steps[1]),
        ["UPDATE blog_posts SET status = 'archived' WHERE published = 0"]
    );
    let notes = &dry_run.modules[1];
    assert_eq!(notes.steps[0].statements.len(), 3);
    if backend.has_transactional_ddl() {
        assert!(blog.steps.iter().all(|s| s.ran));
        assert!(
            blog.steps[0].statements[0]
                .sql
                .contains("CREATE INDEX blog_posts_status"),
            "{:?}",
            blog.steps[0]
        );
        let error = blog.steps[2].error.as_deref().unwrap_or_default();
        assert!(error.contains("the step returned an error"), "{error}");
        assert!(blog.steps[..2].iter().all(|s| s.error.is_none()));
        assert!(notes.steps[0].ran && notes.steps[0].error.is_none());
    } else {
        assert!(blog.steps.iter().all(|s| !s.ran));
        assert!(
            blog.steps[0].statements.is_empty(),
            "a component's SQL is unknown"
        );
        assert!(
            dry_run
                .notes
                .iter()
                .any(|n| n.contains("commit DDL implicitly"))
        );
    }
    let status = sandbox.host().await.status().await.unwrap();
    assert_eq!(
        status[0].pending,
        ["003_index_status", "004_archive", "005_broken"]
    );
}

async fn plan_shows_parameters_and_the_statements_allowed_to_fail(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).install("blog/install").write();
    sandbox
        .module("marks", "1.0.0")
        .header_line("# uses execute-tolerant")
        .step("001_marks", "testing/tolerant")
        .write();
    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .sql_step(
            "002_normalize",
            "-- wasmig:tolerant\n\
             INSERT INTO notes_items (id, body) VALUES (1, 'already there');\n",
        )
        .write();

    let dry_run = sandbox.host().await.plan(&[]).await.unwrap();
    let module = |name: &str| {
        dry_run
            .modules
            .iter()
            .find(|m| m.plan.module == name)
            .unwrap_or_else(|| panic!("{name} in {dry_run:?}"))
    };
    let normalize = &module("notes").steps[1].statements[0];
    assert!(normalize.tolerant, "{normalize:?}");
    if !backend.has_transactional_ddl() {
        return; // components do not run in a dry run on MySQL
    }
    // On a fresh database the whole `notes` module runs: the tolerant insert meets the row
    // the first step inserted.
    assert!(normalize.tolerated.is_some(), "{normalize:?}");
    let insert = module("blog").steps[0]
        .statements
        .iter()
        .find(|s| s.sql.starts_with("INSERT INTO blog_posts"))
        .expect("the install inserts a post");
    assert_eq!(insert.params.len(), 5, "{insert:?}");
    assert_eq!(insert.params[0], Value::Text("Hello".into()));
    assert!(!insert.tolerant);
    let marks = &module("marks").steps[0].statements;
    let tolerant: Vec<_> = marks.iter().filter(|s| s.tolerant).collect();
    assert_eq!(tolerant.len(), 1, "{marks:?}");
    assert!(tolerant[0].tolerated.is_some(), "{marks:?}");
    assert!(
        marks
            .iter()
            .filter(|s| !s.tolerant)
            .all(|s| s.tolerated.is_none())
    );

    // The CLI shows both.
    let plan = sandbox.cli(env!("CARGO_BIN_EXE_wasmig-test-cli"), &["plan"]);
    let out = plan.stdout();
    assert!(out.contains("      with 'Hello', 'First post.', "), "{out}");
    assert!(out.contains("      allowed to fail; fails: "), "{out}");
}

async fn a_deactivated_module_is_left_alone_until_activated(backend: Backend) {
    let sandbox = Sandbox::with_blog_v1(backend).await;
    let host = sandbox.host().await;
    host.deactivate("blog").await.unwrap();
    blog_v1(&sandbox)
        .version("1.1.0")
        .step("003_index_status", "blog/migrations/003_index_status")
        .write();
    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .write();
    host.deactivate("notes").await.unwrap();
    let before = sandbox.dump_except(&["wasmig_"]).await;

    let status = host.status().await.unwrap();
    assert!(
        status.iter().all(|p| p.action == Action::Inactive),
        "{status:?}"
    );
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert!(report.modules.iter().all(|m| m.applied.is_empty()));
    assert_eq!(
        sandbox.dump_except(&["wasmig_"]).await,
        before,
        "data kept, nothing ran"
    );

    let report = host.activate("blog", |_| {}).await.unwrap();
    assert_eq!(report.modules[0].applied, ["003_index_status"]);
    assert_eq!(report.modules[0].to, Some("1.1.0".parse().unwrap()));
    let report = host.activate("notes", |_| {}).await.unwrap();
    assert_eq!(
        report.modules[0].applied,
        ["001_create"],
        "first activation installs"
    );
}

/// A sandbox where `blog` 1.0.0 and `notes` 1.0.0 are installed.
async fn blog_and_notes_installed(backend: Backend) -> Sandbox {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .write();
    assert!(sandbox.upgrade().await.is_success());
    sandbox
}

async fn uninstall_runs_the_modules_own_step_and_nothing_else(backend: Backend) {
    let sandbox = blog_and_notes_installed(backend).await;
    let host = sandbox.host().await;
    let err = host.uninstall("notes").await.unwrap_err();
    assert!(
        matches!(
            &err,
            wasmig_engine::Error::Lifecycle {
                reason: UninstallRefusal::NoUninstallStep,
                ..
            }
        ),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.contains("notes: its package ships no uninstall step"),
        "{err}"
    );

    // An uninstall step is held to the module's policy like any step.
    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .file(
            "uninstall.sql",
            "DROP TABLE notes_items;\nDROP TABLE blog_posts;",
        )
        .write();
    let before = sandbox.dump_except(&["wasmig_"]).await;
    let err = host.uninstall("notes").await.unwrap_err();
    let wasmig_engine::Error::Lifecycle {
        reason: UninstallRefusal::Failed { kind, .. },
        ..
    } = &err
    else {
        panic!("the uninstall step fails: {err:?}");
    };
    let FailureKind::Denied { denial } = kind.as_ref() else {
        panic!("denied: {kind:?}");
    };
    assert_eq!(denial.object.as_deref(), Some("blog_posts"));
    let err = err.to_string();
    assert!(err.contains("its uninstall step failed: denied"), "{err}");
    assert!(err.contains("`blog_posts`"), "{err}");
    if backend.has_transactional_ddl() {
        assert_eq!(sandbox.dump_except(&["wasmig_"]).await, before);
    }

    sandbox
        .module("notes", "1.0.0")
        .sql_step("001_create", NOTES_SQL)
        .file("uninstall.sql", "DROP TABLE IF EXISTS notes_items;")
        .write();
    host.uninstall("notes").await.unwrap();
    let history = host.history(Some("notes")).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.kind, last.step_name(), last.outcome),
        (
            EntryKind::Uninstall,
            "uninstall".to_owned(),
            Outcome::Applied
        )
    );
    assert!(!sandbox.tables().await.contains(&"notes_items".to_owned()));
    assert!(sandbox.tables().await.contains(&"blog_posts".to_owned()));
    let status = host.status().await.unwrap();
    let notes = status.iter().find(|p| p.module == "notes").unwrap();
    assert_eq!(notes.action, Action::Inactive, "not reinstalled unasked");
    assert!(
        sandbox
            .upgrade()
            .await
            .modules
            .iter()
            .all(|m| m.applied.is_empty())
    );
    let report = host.activate("notes", |_| {}).await.unwrap();
    assert_eq!(report.modules[0].applied, ["001_create"]);
    assert_eq!(sandbox.integer("SELECT COUNT(*) FROM notes_items").await, 2);
}

async fn an_abandoned_upgrade_lowers_the_maintenance_flag_and_releases_the_lock(backend: Backend) {
    // An application that drops the upgrade's future (a request timeout, a cancelled task)
    // in the middle of a step that would sleep for an hour.
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("napper", "1.0.0")
        .step("001_sleep", "hostile/sleep")
        .write();
    let mut host = sandbox.host().await;
    host.set_maintenance(true);
    let observer = sandbox.host().await;
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = started.clone();
    let upgrade = host.upgrade(&[], move |event| {
        if let Event::StepStarted { .. } = event {
            signal.notify_one();
        }
    });
    tokio::select! {
        report = upgrade => panic!("the step sleeps for an hour: {report:?}"),
        () = started.notified() => {}
    }
    // The future is dropped here, with the step running.
    let mut lowered = false;
    for _ in 0..100 {
        if !observer.is_under_maintenance().await.unwrap() {
            lowered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        lowered,
        "the flag is still up 10 s after the upgrade was dropped"
    );
    let db = sandbox.database().await;
    let lock = db.lock(std::time::Duration::from_secs(10)).await;
    assert!(lock.is_ok(), "the lock is released: {lock:?}");
    lock.unwrap().release().await;
    db.close().await;
    let history = observer.history(Some("napper")).await.unwrap();
    assert!(
        history.iter().all(|e| e.outcome != Outcome::Applied),
        "nothing of the abandoned step is recorded as applied: {history:?}"
    );
}

async fn the_maintenance_flag_is_up_while_steps_run_and_cleared_after_a_failure(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).step("003_broken", "testing/fail").write();
    let mut host = sandbox.host().await;
    assert!(!host.is_under_maintenance().await.unwrap());
    host.set_maintenance(true);
    let observer = sandbox.host().await;
    let mut seen = Vec::new();
    let report = host
        .upgrade(&[], |event| {
            if let Event::StepStarted { step, .. } = event {
                let flag = tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(observer.is_under_maintenance())
                });
                seen.push((step.to_owned(), flag.unwrap()));
            }
        })
        .await
        .unwrap();
    assert!(!report.is_success(), "step 003 fails");
    assert_eq!(
        seen,
        [
            ("001_create_posts".to_owned(), true),
            ("002_add_status".to_owned(), true),
            ("003_broken".to_owned(), true),
        ]
    );
    assert!(
        !observer.is_under_maintenance().await.unwrap(),
        "cleared after the failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_works_over_the_applications_own_pool() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    blog_v1(&sandbox).write();
    let url = sandbox.database_url();
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
        .await
        .unwrap();
    let mismatch = wasmig_engine::Database::from_pool("postgres://x@localhost/db", pool.clone());
    assert!(
        mismatch
            .unwrap_err()
            .to_string()
            .contains("does not name a database of the pool's kind (Sqlite)")
    );
    let database = wasmig_engine::Database::from_pool(&url, pool.clone()).unwrap();
    let runtime = wasmig_engine::Runtime::new(wasmig_engine::Limits::default()).unwrap();
    let host = wasmig_engine::Host::new(database, sandbox.modules_dir(), runtime);
    assert!(host.upgrade(&[], |_| {}).await.unwrap().is_success());
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blog_posts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        posts, 2,
        "the application sees what the upgrade did through its pool"
    );
}

async fn a_backup_taken_before_an_upgrade_brings_the_modules_back(backend: Backend) {
    let sandbox = blog_and_notes_installed(backend).await;
    let blog_before = sandbox.dump_except(&["wasmig_", "notes_"]).await;
    blog_v1(&sandbox)
        .version("1.1.0")
        .step("003_index_status", "blog/migrations/003_index_status")
        .sql_step(
            "004_archive",
            "UPDATE blog_posts SET status = 'archived';\n\
             CREATE TABLE blog_archive (id INTEGER);",
        )
        .write();
    let mut host = sandbox.host().await;
    host.set_backup_dir(Some(sandbox.path().to_owned()));
    let mut location = None;
    let upgraded = host
        .upgrade(&["blog".to_owned()], |event| {
            if let Event::BackedUp { location: at } = event {
                location = Some(at.to_owned());
            }
        })
        .await;
    assert!(upgraded.unwrap().is_success());
    let location = location.expect("the backup's location is reported");
    assert!(
        location.starts_with(sandbox.path()),
        "{}",
        location.display()
    );
    assert_ne!(
        sandbox.dump_except(&["wasmig_", "notes_"]).await,
        blog_before
    );
    sandbox
        .sql("INSERT INTO notes_items (id, body) VALUES (9, 'written after the backup')")
        .await;

    let restored = host.restore(&location).await.unwrap();
    assert_eq!(restored, ["blog"]);
    assert_eq!(
        sandbox.dump_except(&["wasmig_", "notes_"]).await,
        blog_before,
        "blog's tables, schema and rows, are back as they were"
    );
    assert_eq!(
        sandbox
            .integer("SELECT COUNT(*) FROM notes_items WHERE id = 9")
            .await,
        1,
        "other modules are left alone"
    );
    let status = host.status().await.unwrap();
    assert_eq!(status[0].installed_version, Some("1.0.0".parse().unwrap()));
    assert_eq!(status[0].pending, ["003_index_status", "004_archive"]);
    let history = host.history(Some("blog")).await.unwrap();
    assert_eq!(history.last().unwrap().outcome, Outcome::Restored);
    assert!(
        sandbox.upgrade().await.is_success(),
        "the upgrade can run again"
    );

    let err = host
        .restore(&sandbox.path().join("nothing.db"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no backup at"), "{err}");
}

/// A table whose keys come from a sequence, with two rows.
const COUNTS_CREATE: &str = "CREATE TABLE counts_items (id serial PRIMARY KEY, n int);
INSERT INTO counts_items (n) VALUES (1), (2);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_leaves_sequences_where_they_were() {
    let sandbox = Sandbox::new(Backend::Postgres).await;
    sandbox
        .module("counts", "1.0.0")
        .sql_step("001_create", COUNTS_CREATE)
        .write();
    assert!(sandbox.upgrade().await.is_success());
    sandbox
        .module("counts", "1.1.0")
        .sql_step("001_create", COUNTS_CREATE)
        .sql_step(
            "002_more",
            "INSERT INTO counts_items (n) SELECT g FROM generate_series(3, 40) AS g;",
        )
        .write();
    let position = "SELECT last_value FROM counts_items_id_seq";
    let before = sandbox.integer(position).await;
    let dry_run = sandbox.host().await.plan(&[]).await.unwrap();
    assert!(dry_run.modules[0].steps[0].ran, "{dry_run:?}");
    assert_eq!(
        sandbox.integer(position).await,
        before,
        "the sequence is back"
    );
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        sandbox.integer("SELECT max(id) FROM counts_items").await,
        40
    );
}
