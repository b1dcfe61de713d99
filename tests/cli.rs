//! The `wasmig` binary as operators and module authors run it.

use wasmig_db::{Database, Dialect};
use wasmig_engine::Action;
use wasmig_store::ModuleStatus;
use wasmig_tests::{
    Backend, CliOutput, Sandbox, assert_slow_stopped_in_its_sleep, blog_indexed, blog_v1,
    on_every_backend, signal_and_wait, slow_module,
};

on_every_backend!(
    build_upgrade_status_and_history_from_a_module_source,
    status_json_describes_each_module,
    a_failing_step_exits_non_zero_with_a_one_line_cause,
    plan_and_history_print_text_and_json,
    a_non_transactional_step_that_fails_stays_unfinished_until_repaired,
    ctrl_c_rolls_back_the_running_step_and_leaves_the_database_in_order,
    an_author_creates_builds_installs_and_extends_a_module,
    verify_paths_catches_a_stale_install,
    status_and_diff_show_what_changed_outside_the_steps,
    a_record_left_behind_by_a_stop_is_not_drift,
    a_settled_schema_answers_as_the_catalog_would,
    python_steps_build_and_run,
);

const WASMIG: &str = env!("CARGO_BIN_EXE_wasmig-test-cli");

async fn build_upgrade_status_and_history_from_a_module_source(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    let blog_src = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/blog");

    let built = author(&sandbox, &["build", blog_src]);
    assert!(built.success(), "{built:?}");
    // The paths check ran the steps, whose log lines reach stderr, without terminal colours.
    assert!(
        built.stderr().contains("backfilled the status")
            && built.stderr().contains("gave 2 posts a slug"),
        "{built:?}"
    );
    assert!(!built.stderr().contains('\u{1b}'), "{built:?}");
    assert!(
        built
            .stdout()
            .contains("built blog 1.3.0 (5 steps, install)"),
        "{built:?}"
    );
    for file in [
        "module.toml",
        "install.wasm",
        "migrations/001_create_posts.wasm",
        "migrations/002_add_status.wasm",
        "migrations/003_index_status.wasm",
        "migrations/004_add_slugs.wasm",
        "migrations/005_unique_slugs.sql",
    ] {
        assert!(
            sandbox.modules_dir().join("blog").join(file).is_file(),
            "{file}"
        );
    }

    let status = sandbox.cli(WASMIG, &["status"]);
    succeeds_saying(&status, "blog    -          1.3.0   install");
    // `build` proved install ≡ upgrade on SQLite; the same on this server runs the Rust,
    // Python and SQL steps there.
    if backend != Backend::Sqlite {
        let package = sandbox.modules_dir().join("blog");
        let url = sandbox.database_url();
        let paths = [
            "verify",
            "--paths",
            package.to_str().unwrap(),
            "--scratch",
            &url,
        ];
        let verified = author(&sandbox, &paths);
        succeeds_saying(
            &verified,
            "blog 1.3.0: every path ends with the same schema",
        );
        assert!(
            verified.stderr().contains("gave 2 posts a slug"),
            "{verified:?}"
        );
    }

    let upgrade = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(upgrade.success(), "{upgrade:?}");
    let out = upgrade.stdout();
    assert!(
        out.contains("blog: installing 1.3.0 with its install step (covers 5 steps)"),
        "{out}"
    );
    assert!(out.contains("  install ... ok ("), "{out}");

    let status = sandbox.cli(WASMIG, &["status"]);
    let lines: Vec<_> = status.stdout().lines().map(str::to_owned).collect();
    assert_eq!(lines[0], "MODULE  INSTALLED  HEADER  PENDING");
    assert_eq!(lines[1], "blog    1.3.0      1.3.0   none");

    let history = sandbox.cli(WASMIG, &["history", "blog"]);
    assert!(history.success(), "{history:?}");
    assert_eq!(history.stdout().lines().count(), 7, "{history:?}");
    for step in ["003_index_status", "004_add_slugs   ", "005_unique_slugs"] {
        assert!(
            history
                .stdout()
                .contains(&format!("{step}  1.3.0    covered")),
            "{history:?}"
        );
    }
}

async fn status_json_describes_each_module(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    let status = sandbox.cli(WASMIG, &["status", "--json"]);
    assert!(status.success(), "{status:?}");
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).expect("valid JSON");
    let blog = &json["modules"][0];
    assert_eq!(blog["module"], "blog");
    assert_eq!(blog["installed_version"], serde_json::Value::Null);
    assert_eq!(blog["header_version"], "1.0.0");
    assert_eq!(blog["action"]["kind"], "apply");
    assert_eq!(blog["pending"][1], "002_add_status");
    // Who has the last word, as the text's `security:` line says.
    let expected = match backend {
        Backend::Sqlite => "authorizer",
        Backend::Postgres => "module-roles",
        Backend::MySql => "module-accounts",
    };
    assert_eq!(json["security"]["mode"], expected, "{json}");
    assert_eq!(json["database_enforced"], true);
    assert_eq!(json["maintenance"], serde_json::Value::Null);
    let set = sandbox.cli(WASMIG, &["maintenance", "--set", "moving house"]);
    assert!(set.success(), "{set:?}");
    let status = sandbox.cli(WASMIG, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).expect("valid JSON");
    assert_eq!(json["maintenance"]["reason"], "moving house", "{json}");
    let text = sandbox.cli(WASMIG, &["status"]).stdout();
    assert!(
        text.lines()
            .any(|l| l.starts_with("under maintenance since ") && l.ends_with(": moving house")),
        "{text}"
    );
}

async fn plan_and_history_print_text_and_json(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox)
        .sql_step("003_archive", "UPDATE blog_posts SET status = 'archived'")
        .write();
    let plan = sandbox.cli(WASMIG, &["plan"]);
    assert!(plan.success(), "{plan:?}");
    let out = plan.stdout();
    assert!(out.contains("blog: installing 1.0.0, 3 steps"), "{out}");
    assert!(out.contains("  003_archive (SQL"), "{out}");
    assert!(
        out.contains("    UPDATE blog_posts SET status = 'archived'"),
        "{out}"
    );
    assert!(out.contains("note: "), "{out}");
    let json = sandbox.cli(WASMIG, &["plan", "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout()).expect("valid JSON");
    assert_eq!(parsed["modules"][0]["steps"][2]["step"], "003_archive");
    assert_eq!(parsed["exact"], backend.has_transactional_ddl());

    assert!(sandbox.cli(WASMIG, &["upgrade"]).success());
    let history = sandbox.cli(WASMIG, &["history", "blog"]);
    let lines: Vec<String> = history.stdout().lines().map(str::to_owned).collect();
    assert!(lines[0].starts_with("STARTED"), "{history:?}");
    assert_eq!(lines.len(), 4, "{history:?}");
    assert!(
        lines[3].contains("003_archive") && lines[3].contains("applied"),
        "{history:?}"
    );
    let json = sandbox.cli(WASMIG, &["history", "--json", "blog"]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout()).expect("valid JSON");
    assert_eq!(parsed[2]["slug"], "archive");
    assert_eq!(parsed[2]["outcome"], "applied");
    assert_eq!(parsed[2]["sha256"].as_str().unwrap().len(), 64);

    // A step that would fail makes `plan` exit non-zero where it can tell.
    blog_v1(&sandbox)
        .sql_step("003_archive", "UPDATE blog_posts SET status = 'archived'")
        .step("004_broken", "testing/fail")
        .version("1.1.0")
        .write();
    let plan = sandbox.cli(WASMIG, &["plan"]);
    assert_eq!(plan.success(), !backend.has_transactional_ddl(), "{plan:?}");
}

async fn a_failing_step_exits_non_zero_with_a_one_line_cause(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox)
        .step("003_broken", "testing/fail_after_insert")
        .write();
    let upgrade = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(!upgrade.success(), "{upgrade:?}");
    assert!(
        upgrade.stdout().contains("  003_broken ... FAILED ("),
        "{upgrade:?}"
    );
    let errors: Vec<_> = upgrade
        .stderr()
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        errors,
        [
            "error: blog: step 003_broken failed: the step returned an error: failing after an insert"
        ],
        "{upgrade:?}"
    );
    let status = sandbox.cli(WASMIG, &["status"]);
    assert!(
        status
            .stdout()
            .contains("1 step: 003_broken (last attempt failed"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_malformed_header_gives_a_clear_error_and_changes_nothing() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    sandbox
        .module("blog", "1.0.0")
        .header("name = \"blog\"\nversion = \"1.0.0\"\nhostapi = \"^0.1\"\n")
        .write();
    let upgrade = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(!upgrade.success());
    let stderr = upgrade.stderr();
    assert!(stderr.starts_with("error: blog: "), "{stderr}");
    assert!(
        stderr.contains("blog/module.toml: line 3, column 1: unknown field `hostapi`"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        sandbox
            .tables()
            .await
            .iter()
            .all(|t| t.starts_with("wasmig_") || t.starts_with("sqlite_")),
        "nothing of the module ran: {:?}",
        sandbox.tables().await
    );
    assert!(
        sandbox
            .host()
            .await
            .history(Some("blog"))
            .await
            .unwrap()
            .is_empty(),
        "and nothing of it was recorded"
    );
}

#[tokio::test]
async fn unknown_modules_and_a_missing_modules_directory_are_reported() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    blog_v1(&sandbox).write();
    let upgrade = sandbox.cli(WASMIG, &["upgrade", "nosuch"]);
    assert!(!upgrade.success());
    assert!(
        upgrade.stderr().contains("no module named `nosuch`"),
        "{upgrade:?}"
    );

    let status = sandbox.cli(WASMIG, &["--modules", "/nonexistent/modules", "status"]);
    assert!(!status.success());
    assert!(
        status
            .stderr()
            .contains("cannot open the modules directory /nonexistent/modules"),
        "{status:?}"
    );
}

#[tokio::test]
async fn help_explains_the_commands_and_defaults() {
    let help = Sandbox::new(Backend::Sqlite).await.cli(WASMIG, &["--help"]);
    assert!(help.success());
    let out = help.stdout();
    for expected in [
        "status",
        "upgrade",
        "history",
        "build",
        "serve",
        "DATABASE_URL",
        "sqlite://wasmig.db",
        "./modules",
    ] {
        assert!(out.contains(expected), "--help lacks {expected}:\n{out}");
    }
}

#[tokio::test]
async fn limits_given_on_the_command_line_stop_a_step() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    blog_v1(&sandbox).write();
    let upgrade = sandbox.cli(WASMIG, &["upgrade", "--max-statements", "2"]);
    assert!(!upgrade.success());
    assert!(
        upgrade.stderr().contains(
            "error: blog: step 001_create_posts failed: quota exceeded: the step sent more than 2 statements"
        ),
        "{upgrade:?}"
    );
    assert!(
        sandbox.tables().await.iter().all(|t| t != "blog_posts"),
        "rolled back"
    );

    let upgrade = sandbox.cli(WASMIG, &["upgrade", "--require-prefix"]);
    assert!(
        upgrade.success(),
        "blog names its objects blog_…: {upgrade:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_a_package_before_it_is_installed() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    let blog_src = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/blog");
    assert!(author(&sandbox, &["build", blog_src]).success());
    let package = sandbox.modules_dir().join("blog");
    let dir = package.to_str().unwrap();

    let verified = sandbox.cli(WASMIG, &["verify", dir]);
    assert!(verified.success(), "{verified:?}");
    let out = verified.stdout();
    assert!(out.contains("blog 1.3.0 ("), "{out}");
    assert!(
        out.contains("ok   checksums.sha256: every step file matches"),
        "{out}"
    );
    assert!(
        out.contains("ok   migrations/003_index_status.wasm: a component of the migration world"),
        "{out}"
    );
    let json = sandbox.cli(WASMIG, &["verify", "--json", dir]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(parsed[0]["module"], "blog");
    assert_eq!(parsed[0]["checks"].as_array().unwrap().len(), 10);

    // A changed file breaks the checksum list.
    let step = package.join("migrations/003_index_status.wasm");
    let mut bytes = std::fs::read(&step).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&step, &bytes).unwrap();
    let tampered = sandbox.cli(WASMIG, &["verify", dir]);
    assert!(!tampered.success(), "{tampered:?}");
    assert!(
        tampered
            .stdout()
            .contains("`migrations/003_index_status.wasm` does not match its checksum"),
        "{tampered:?}"
    );

    // Without the list, each file is checked on its own.
    std::fs::remove_file(package.join("checksums.sha256")).unwrap();
    std::fs::write(
        package.join("migrations/006_more.sql"),
        "SELECT 'unterminated;",
    )
    .unwrap();
    let broken = sandbox.cli(WASMIG, &["verify", dir]);
    assert!(!broken.success(), "{broken:?}");
    let out = broken.stdout();
    assert!(out.contains("ok   checksums.sha256: absent"), "{out}");
    assert!(
        out.contains("FAIL migrations/003_index_status.wasm: not a valid migration component"),
        "{out}"
    );
    assert!(
        out.contains("FAIL migrations/006_more.sql: as sqlite: the script cannot be read"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_draws_a_progress_bar_on_a_terminal_and_plain_lines_otherwise() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    blog_v1(&sandbox).write();
    // `script` runs the command on a pseudo-terminal.
    let command = format!("{WASMIG} upgrade");
    let on_terminal = sandbox.cli("script", &["-qec", &command, "/dev/null"]);
    assert!(on_terminal.success(), "{on_terminal:?}");
    let out = on_terminal.stdout();
    assert!(out.contains("blog [="), "a bar: {out}");
    assert!(out.contains("2/2"), "{out}");
    assert!(out.contains("  002_add_status ... ok ("), "{out}");

    blog_v1(&sandbox)
        .step("003_index_status", "blog/migrations/003_index_status")
        .version("1.1.0")
        .write();
    let piped = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(piped.success(), "{piped:?}");
    let out = piped.stdout();
    assert!(
        !out.contains('\u{1b}') && !out.contains("[="),
        "no bar: {out}"
    );
    assert!(out.contains("  003_index_status ... ok ("), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_backup_prints_where_the_backup_is_and_restore_takes_it() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    blog_v1(&sandbox).write();
    assert!(sandbox.cli(WASMIG, &["upgrade"]).success());
    blog_v1(&sandbox)
        .step("003_index_status", "blog/migrations/003_index_status")
        .version("1.1.0")
        .write();
    let dir = sandbox.path().to_str().unwrap().to_owned();
    let upgraded = sandbox.cli(WASMIG, &["upgrade", "--backup", "--backup-dir", &dir]);
    assert!(upgraded.success(), "{upgraded:?}");
    let out = upgraded.stdout();
    let location = out
        .lines()
        .find_map(|l| l.strip_prefix("backed up to "))
        .unwrap_or_else(|| panic!("the backup's location: {out}"))
        .to_owned();
    let restored = sandbox.cli(WASMIG, &["restore", &location]);
    assert!(restored.success(), "{restored:?}");
    assert!(
        restored.stdout().starts_with("restored blog from "),
        "{restored:?}"
    );
    let status = sandbox.cli(WASMIG, &["status"]);
    assert!(
        status
            .stdout()
            .contains("1.0.0      1.1.0   1 step: 003_index_status"),
        "{status:?}"
    );
}

/// A non-transactional step whose third statement fails: the first two committed, each by
/// itself.
const FILL: &str = "-- wasmig:no-transaction
CREATE TABLE nt_items (n INTEGER PRIMARY KEY);
INSERT INTO nt_items (n) VALUES (1);
INSERT INTO nt_items (n) VALUES (2);
INSERT INTO nt_items (n) VALUES (1);
";

async fn a_non_transactional_step_that_fails_stays_unfinished_until_repaired(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("nt", "1.0.0")
        .sql_step("001_fill", FILL)
        .write();
    let unfinished = Action::Unfinished {
        step: "001_fill".into(),
        status: ModuleStatus::Dirty,
    };

    let first = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(!first.success(), "{first:?}");
    assert!(first.stderr().contains("unfinished"), "{first:?}");
    let status = sandbox.host().await.status().await.unwrap().remove(0);
    assert_eq!(status.action, unfinished);
    assert_eq!(sandbox.integer("SELECT COUNT(*) FROM nt_items").await, 2);

    // A resume that fails again leaves the module unfinished: repair still applies.
    let resumed = sandbox.cli(WASMIG, &["resume"]);
    assert!(!resumed.success(), "{resumed:?}");
    let status = sandbox.host().await.status().await.unwrap().remove(0);
    assert_eq!(status.action, unfinished);
    assert_eq!(sandbox.integer("SELECT COUNT(*) FROM nt_items").await, 2);

    // Steps are named as every message prints them; a wrong name is refused.
    let wrong = sandbox.cli(WASMIG, &["repair", "nt", "--mark-applied", "001_other"]);
    assert!(!wrong.success(), "{wrong:?}");
    assert!(
        wrong
            .stderr()
            .contains("001_other is not the unfinished step, which is 001_fill"),
        "{wrong:?}"
    );
    let recorded = "SELECT COUNT(*) FROM wasmig_schemas WHERE module = 'nt'";
    assert_eq!(
        sandbox.integer(recorded).await,
        0,
        "unfinished: not recorded"
    );
    let repaired = sandbox.cli(WASMIG, &["repair", "nt", "--mark-applied", "001_fill"]);
    assert!(repaired.success(), "{repaired:?}");
    let status = sandbox.host().await.status().await.unwrap().remove(0);
    assert_eq!(status.action, Action::UpToDate, "{status:?}");
    // The operator's word that the step is done: its schema is what drift is measured against.
    assert_eq!(sandbox.integer(recorded).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_run_where_only_the_policy_checks_them_only_with_consent() {
    // SQLite's authorizer backs the policy up: status says so.
    let sqlite = Sandbox::new(Backend::Sqlite).await;
    blog_v1(&sqlite).write();
    let status = sqlite.cli_accepting(false, WASMIG, &["status"]);
    assert!(
        status
            .stdout()
            .contains("security: database-enforced: SQLite's authorizer checks every statement"),
        "{status:?}"
    );
    // MariaDB as root: each module gets an account of its own.
    let sandbox = Sandbox::new(Backend::MySql).await;
    blog_v1(&sandbox).write();
    let status = sandbox.cli_accepting(false, WASMIG, &["status"]);
    assert!(
        status.stdout().contains(
            "security: database-enforced: each module's statements run with the rights of a \
             MariaDB/MySQL account of its own"
        ),
        "{status:?}"
    );
    // An account that may not create accounts: steps run only with --policy-only.
    let account = format!("wasmig_t{}_plain", std::process::id());
    let url = sandbox.database_url();
    let database = url.rsplit('/').next().unwrap().to_owned();
    for sql in [
        format!("DROP USER IF EXISTS '{account}'@'%'"),
        format!("CREATE USER '{account}'@'%' IDENTIFIED BY 'pw'"),
        format!("GRANT ALL ON `{database}`.* TO '{account}'@'%'"),
    ] {
        sandbox.sql(&sql).await;
    }
    let plain_url = url.replacen("root@", &format!("{account}:pw@"), 1);
    let plain = |args: &[&str]| {
        let mut all = vec!["--database", plain_url.as_str()];
        all.extend_from_slice(args);
        sandbox.cli_accepting(false, WASMIG, &all)
    };
    let status = plain(&["status"]);
    assert!(
        status.stdout().contains(
            "security: policy only: wasmig's MariaDB/MySQL account may not create accounts"
        ),
        "{status:?}"
    );
    let json = plain(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout()).expect("valid JSON");
    assert_eq!(
        (&json["security"]["mode"], &json["database_enforced"]),
        (&serde_json::json!("policy-only"), &serde_json::json!(false)),
        "{json}"
    );
    assert!(
        json["security"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("may not create accounts")),
        "{json}"
    );
    let before = sandbox.dump_module_data().await;
    for command in ["plan", "upgrade"] {
        let refused = plain(&[command]);
        assert!(!refused.success(), "{command}: {refused:?}");
        let said = refused.stdout() + &refused.stderr();
        assert!(
            said.contains("blog: refused: only wasmig's SQL policy would check its steps")
                && said.contains("Accept that explicitly to run them (`--policy-only`)"),
            "{command}: {refused:?}"
        );
    }
    assert_eq!(sandbox.dump_module_data().await, before, "nothing ran");
    let history = sandbox.host().await.history(None).await.unwrap();
    assert!(history.is_empty(), "nothing was recorded: {history:?}");
    let upgrade = plain(&["upgrade", "--policy-only"]);
    assert!(upgrade.success(), "{upgrade:?}");
    assert!(sandbox.tables().await.contains(&"blog_posts".to_owned()));
    sandbox.sql(&format!("DROP USER '{account}'@'%'")).await;
}

/// Ctrl-C while a step runs (here one that would sleep an hour): the step is interrupted and
/// rolled back, recorded as failed, nothing after it runs, the maintenance flag is cleared and
/// the lock released; the exit code is 130, as a shell reports SIGINT.
async fn ctrl_c_rolls_back_the_running_step_and_leaves_the_database_in_order(backend: Backend) {
    use std::io::Read;
    let sandbox = Sandbox::new(backend).await;
    slow_module(&sandbox).write();
    let mut child = sandbox
        .cli_command(WASMIG, &["upgrade", "--maintenance"])
        .env(
            "WASMIG_POLICY_ONLY",
            if sandbox.policy_only() { "1" } else { "0" },
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the CLI starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0_u8; 256];
    while !String::from_utf8_lossy(&seen).contains("002_sleep ... ") {
        let read = stdout
            .read(&mut chunk)
            .expect("the CLI prints its progress");
        assert!(
            read > 0,
            "the CLI ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..read]);
    }
    // The step is running: the flag is up, as `--maintenance` promises.
    assert!(sandbox.host().await.is_under_maintenance().await.unwrap());
    let (status, stderr) = signal_and_wait(&mut child, "INT");
    stdout.read_to_end(&mut seen).unwrap();
    let out = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(130), "{out}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(out.contains("002_sleep ... FAILED"), "{out}");

    assert_slow_stopped_in_its_sleep(&sandbox).await;
    let host = sandbox.host().await;
    let lock = sandbox
        .database()
        .await
        .lock(std::time::Duration::ZERO)
        .await;
    assert!(lock.is_ok(), "the lock is free: {:?}", lock.err());
    let history = host.history(Some("slow")).await.unwrap();
    let last = history.last().expect("the interrupted step is recorded");
    assert_eq!(
        (last.step, last.outcome),
        (2, wasmig_store::Outcome::Failed)
    );
    assert!(
        last.error
            .as_deref()
            .unwrap_or_default()
            .contains("stopped"),
        "{last:?}"
    );
    let status = host.status().await.unwrap();
    assert_eq!(
        status[0].action,
        Action::Apply { first: 2 },
        "it runs again next time"
    );
}

/// Runs the CLI in the sandbox, building components into the plugins' target directory (its
/// compiled dependencies are reused) and caching compiled components where the tests share
/// them.
/// Asserts that the command succeeded and printed `text` on stdout.
fn succeeds_saying(output: &wasmig_tests::CliOutput, text: &str) {
    assert!(output.success(), "{output:?}");
    assert!(output.stdout().contains(text), "{text}: {output:?}");
}

fn author(sandbox: &Sandbox, args: &[&str]) -> wasmig_tests::CliOutput {
    let mut command = sandbox.cli_command(WASMIG, args);
    command.env(
        "CARGO_TARGET_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/target"),
    );
    // Python components are large: compiled once for every test that builds the same one.
    command.env(
        "WASMIG_CACHE_DIR",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/python-components"),
    );
    wasmig_tests::CliOutput(command.output().expect("the CLI starts"))
}

/// What README's authoring part shows: `new` makes sources that `build` builds as they are,
/// `upgrade` installs them; `add-step` adds a SQL and a Rust step, which the next upgrade
/// applies. A step left as `add-step` wrote it fails and says where to write it.
async fn an_author_creates_builds_installs_and_extends_a_module(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    // A name per backend: the tests share a target directory, where a component's file is
    // named after its crate.
    let shop = format!("shop_{}", format!("{backend:?}").to_lowercase());
    let shop = shop.as_str();
    let created = author(&sandbox, &["new", shop]);
    assert!(created.success(), "{created:?}");
    let src = sandbox.path().join(shop);
    for file in [
        "module.toml",
        "Cargo.toml",
        "install/src/lib.rs",
        ".wasmig/wit/migration.wit",
    ] {
        assert!(src.join(file).is_file(), "{file}");
    }
    let built = author(&sandbox, &["build", shop]);
    assert!(
        built
            .stdout()
            .contains(&format!("built {shop} 0.1.0 (1 step, install)")),
        "{built:?}"
    );
    let crate_name = format!("Compiling {shop}-install");
    assert!(
        built.stderr().contains(&crate_name),
        "cargo's progress: {built:?}"
    );
    assert!(author(&sandbox, &["upgrade"]).success());

    let sql = author(&sandbox, &["add-step", shop, "add_notes", "--sql"]);
    assert!(
        sql.stdout().contains("migrations/002_add_notes.sql"),
        "{sql:?}"
    );
    let notes = src.join("migrations/002_add_notes.sql");
    let text = std::fs::read_to_string(&notes).unwrap();
    let alter = format!("ALTER TABLE {shop}_items ADD COLUMN notes VARCHAR(100);\n");
    std::fs::write(&notes, text + &alter).unwrap();
    let rust = author(&sandbox, &["add-step", shop, "first_item"]);
    assert!(
        rust.stdout()
            .contains("migrations/003_first_item/src/lib.rs"),
        "{rust:?}"
    );
    let header = src.join("module.toml");
    let text = std::fs::read_to_string(&header).unwrap();
    std::fs::write(&header, text.replace("0.1.0", "0.2.0")).unwrap();
    // The install makes what the steps make together.
    let install = src.join("install/src/lib.rs");
    let text = std::fs::read_to_string(&install).unwrap();
    let with_notes = text.replace("NOT NULL)", "NOT NULL, notes VARCHAR(100))");
    std::fs::write(&install, with_notes).unwrap();
    // The build writes the package, then finds that its paths stop at the unwritten step.
    let stub = author(&sandbox, &["build", shop]);
    assert!(!stub.success(), "{stub:?}");
    assert!(
        stub.stderr()
            .contains("step 003_first_item is not written yet"),
        "{stub:?}"
    );
    let unwritten = author(&sandbox, &["upgrade"]);
    assert!(!unwritten.success());
    assert!(
        unwritten
            .stderr()
            .contains("step 003_first_item is not written yet"),
        "{unwritten:?}"
    );

    let lib = src.join("migrations/003_first_item/src/lib.rs");
    std::fs::write(
        &lib,
        format!(
            "use wasmig_guest::{{Db, Result, params}};\n\
             fn up(db: &Db) -> Result<()> {{\n\
             db.execute(\"INSERT INTO {shop}_items (id, title, notes) VALUES (1, 'first', 'n')\", params![])?;\n\
             Ok(())\n}}\n\
             wasmig_guest::migration!(up);\n"
        ),
    )
    .unwrap();
    // And a Python step: one module of Rust, SQL and Python steps.
    assert!(author(&sandbox, &["add-step", shop, "shout", "--python"]).success());
    std::fs::write(
        src.join("migrations/004_shout.py"),
        format!(
            "import wasmig\n\n\n\
             def up(db: wasmig.Db) -> None:\n    \
             for row in db.query_iter(\"SELECT id, title FROM {shop}_items\"):\n        \
             db.execute(f\"UPDATE {shop}_items SET title = {{db.param(1)}} WHERE id = {{db.param(2)}}\",\n                   \
             [row[\"title\"].upper(), row[\"id\"]])\n"
        ),
    )
    .unwrap();
    let header = std::fs::read_to_string(src.join("module.toml")).unwrap();
    std::fs::write(src.join("module.toml"), header.replace("0.2.0", "0.3.0")).unwrap();
    let built = author(&sandbox, &["build", shop]);
    assert!(built.success(), "{built:?}");
    let upgraded = author(&sandbox, &["upgrade"]);
    assert!(upgraded.success(), "{upgraded:?}");
    assert!(
        upgraded.stdout().contains("004_shout ... ok"),
        "{upgraded:?}"
    );
    let db = sandbox.database().await;
    let rows = db
        .query(&format!("SELECT title, notes FROM {shop}_items"), &[])
        .await
        .unwrap();
    db.close().await;
    assert_eq!(
        rows.rows,
        vec![vec![
            wasmig_db::Value::Text("FIRST".into()),
            wasmig_db::Value::Text("n".into())
        ]]
    );
}

/// A step adds a table and an index but `install.sql` was not updated: `build` (on SQLite)
/// and `verify --paths` (on the backend's server) name what only the steps make; once the
/// install makes it too, both pass.
async fn verify_paths_catches_a_stale_install(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    assert!(sandbox.cli(WASMIG, &["new", "stale", "--sql"]).success());
    assert!(
        sandbox
            .cli(WASMIG, &["add-step", "stale", "add_tags", "--sql"])
            .success()
    );
    let tags = "CREATE TABLE stale_tags (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);\n\
                CREATE INDEX stale_tags_name ON stale_tags (name);\n";
    let step = sandbox.path().join("stale/migrations/002_add_tags.sql");
    let text = std::fs::read_to_string(&step).unwrap();
    std::fs::write(&step, text + tags).unwrap();

    let built = sandbox.cli(WASMIG, &["build", "stale"]);
    assert!(!built.success(), "{built:?}");
    assert!(built.stderr().contains("FAIL steps 001-002: "), "{built:?}");
    assert!(
        built
            .stderr()
            .contains("only in steps 001-002: index stale_tags_name"),
        "{built:?}"
    );
    assert!(
        sandbox
            .cli(WASMIG, &["build", "stale", "--only-warn"])
            .success()
    );
    let package = sandbox.modules_dir().join("stale");
    let package = package.to_str().unwrap();
    let url = sandbox.database_url();
    let mut verify = vec!["verify", "--paths", package];
    if backend != Backend::Sqlite {
        verify.extend(["--scratch", url.as_str()]);
    }
    let identity = IdentityCheck::new(&sandbox, "wasmig_m_stale");
    identity.drop().await;
    let stale = sandbox.cli(WASMIG, &verify);
    assert!(!stale.success(), "{stale:?}");
    // The scratch databases' module identity goes with them: it did not exist before.
    assert_eq!(identity.count().await, 0, "{stale:?}");
    let out = stale.stdout();
    assert!(out.contains("stale 0.1.0: FAILED"), "{out}");
    assert!(out.contains("ok   install (reference)"), "{out}");
    assert!(out.contains("FAIL steps 001-001, then upgrade"), "{out}");
    assert!(out.contains("stale_tags"), "{out}");

    let install = sandbox.path().join("stale/install.sql");
    let text = std::fs::read_to_string(&install).unwrap();
    std::fs::write(&install, text + tags).unwrap();
    let rebuilt = sandbox.cli(WASMIG, &["build", "stale"]);
    assert!(rebuilt.success(), "{rebuilt:?}");
    // An identity that existed before (the module installed in the real database) stays, and
    // keeps nothing of the scratch databases.
    identity.create().await;
    let same = sandbox.cli(WASMIG, &verify);
    assert!(same.success(), "{same:?}");
    assert!(
        same.stdout()
            .contains("stale 0.1.0: every path ends with the same schema"),
        "{same:?}"
    );
    let existed = i64::from(backend != Backend::Sqlite);
    assert_eq!(identity.count().await, existed, "{same:?}");
    assert_eq!(identity.grants_on_scratch().await, 0, "{same:?}");
    identity.drop().await;
}

/// A module's role (PostgreSQL) or account (MariaDB/MySQL), which belongs to the server.
struct IdentityCheck<'s> {
    sandbox: &'s Sandbox,
    name: &'static str,
}

impl<'s> IdentityCheck<'s> {
    fn new(sandbox: &'s Sandbox, name: &'static str) -> Self {
        IdentityCheck { sandbox, name }
    }

    async fn count(&self) -> i64 {
        let sql = match self.sandbox.backend() {
            Backend::Sqlite => return 0,
            Backend::Postgres => format!(
                "SELECT COUNT(*) FROM pg_roles WHERE rolname = '{}'",
                self.name
            ),
            Backend::MySql => format!(
                "SELECT COUNT(*) FROM mysql.user WHERE User = '{}'",
                self.name
            ),
        };
        self.sandbox.integer(&sql).await
    }

    /// Privileges it holds on databases named like the scratch ones (a database-level grant
    /// has the name with `_` escaped).
    async fn grants_on_scratch(&self) -> i64 {
        if self.sandbox.backend() != Backend::MySql {
            return 0;
        }
        let held = |table: &str| {
            format!(
                "SELECT COUNT(*) FROM mysql.{table} WHERE User = '{}' AND Db LIKE 'wasmig%paths%'",
                self.name
            )
        };
        let mut total = 0;
        for table in ["db", "tables_priv", "procs_priv"] {
            total += self.sandbox.integer(&held(table)).await;
        }
        total
    }

    async fn create(&self) {
        self.run(
            "CREATE ROLE {} NOLOGIN",
            "CREATE USER '{}'@'localhost' ACCOUNT LOCK",
        )
        .await;
    }

    async fn drop(&self) {
        self.run(
            "DROP ROLE IF EXISTS {}",
            "DROP USER IF EXISTS '{}'@'localhost'",
        )
        .await;
    }

    /// Runs the PostgreSQL or the MariaDB/MySQL statement, `{}` standing for the name.
    async fn run(&self, postgres: &str, mysql: &str) {
        let sql = match self.sandbox.backend() {
            Backend::Sqlite => return,
            Backend::Postgres => postgres,
            Backend::MySql => mysql,
        };
        self.sandbox.sql(&sql.replace("{}", self.name)).await;
    }
}

/// Someone adds a column and an index to a module's table by hand, and the application adds
/// a table of its own: `status` names the module that drifted, `diff` prints its two changed
/// objects (and nothing of the application's), and an upgrade that runs a step of the module
/// records its schema again.
async fn status_and_diff_show_what_changed_outside_the_steps(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    assert!(sandbox.cli(WASMIG, &["upgrade"]).success());
    let clean = sandbox.cli(WASMIG, &["diff", "blog"]);
    assert!(clean.success(), "{clean:?}");
    assert!(
        clean.stdout().contains("blog: no change outside its steps"),
        "{clean:?}"
    );

    let db = sandbox.database().await;
    for sql in [
        "ALTER TABLE blog_posts ADD COLUMN hand_made INTEGER",
        "CREATE INDEX blog_posts_by_hand ON blog_posts (hand_made)",
        "CREATE TABLE app_settings (k VARCHAR(20) PRIMARY KEY)",
    ] {
        db.execute(sql, &[]).await.unwrap();
    }
    db.close().await;
    let status = sandbox.cli(WASMIG, &["status"]);
    assert!(status.success(), "{status:?}");
    assert!(
        status.stdout().contains("drift: blog: ") && status.stdout().contains("(wasmig diff blog)"),
        "{status:?}"
    );
    let diff = sandbox.cli(WASMIG, &["diff", "blog"]);
    assert!(!diff.success(), "{diff:?}");
    let out = diff.stdout();
    assert!(
        out.contains("only in now: column blog_posts.hand_made"),
        "{out}"
    );
    assert!(out.contains("blog_posts_by_hand"), "{out}");
    assert!(!out.contains("app_settings"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.cli(WASMIG, &["status", "--json"]).stdout()).unwrap();
    assert!(
        json["drift"]["blog"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        "{json}"
    );

    blog_indexed(&sandbox, "1.1.0").write();
    // The dry run says what the upgrade will say, and changes nothing.
    let plan = sandbox.cli(WASMIG, &["plan"]);
    let said = format!("{}{}", plan.stdout(), plan.stderr());
    assert!(said.contains("changed outside its steps"), "{plan:?}");
    assert!(!said.contains("CREATE INDEX blog_posts_status"), "{plan:?}");
    let refused = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(!refused.success(), "{refused:?}");
    assert!(
        refused.stderr().contains("changed outside its steps")
            && refused.stderr().contains("--accept-drift"),
        "{refused:?}"
    );
    let accepted = sandbox.cli(WASMIG, &["upgrade", "--accept-drift"]);
    assert!(accepted.success(), "{accepted:?}");
    let history = sandbox.cli(WASMIG, &["history", "blog"]).stdout();
    let drift_row = history
        .lines()
        .find(|l| l.contains(" drift "))
        .unwrap_or_default();
    assert!(
        drift_row.contains("accepted") && drift_row.contains("hand_made"),
        "{history}"
    );
    let after = sandbox.cli(WASMIG, &["diff", "blog"]);
    assert!(
        after.success(),
        "what the upgrade left is the new reference: {after:?}"
    );
}

/// A process stopped between a step's commit and the recording of the schema it left (the
/// ledger then holds the record of the upgrade before, and a step finished after it): the
/// difference is the step's own work, not drift. Reproduced by putting the earlier record
/// back after an upgrade, which is the state such a stop leaves.
async fn a_record_left_behind_by_a_stop_is_not_drift(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    assert!(sandbox.cli(WASMIG, &["upgrade"]).success());
    let db = sandbox.database().await;
    let select = "SELECT fingerprint, objects, recorded_at, last_step_id FROM wasmig_schemas \
                  WHERE module = 'blog'";
    let before = db.query(select, &[]).await.unwrap().rows.remove(0);

    blog_indexed(&sandbox, "1.1.0").write();
    assert!(sandbox.cli(WASMIG, &["upgrade"]).success());
    let update = match backend {
        Backend::Postgres => {
            "UPDATE wasmig_schemas SET fingerprint = $1, objects = $2, recorded_at = $3, \
             last_step_id = $4 WHERE module = 'blog'"
        }
        _ => {
            "UPDATE wasmig_schemas SET fingerprint = ?, objects = ?, recorded_at = ?, \
             last_step_id = ? WHERE module = 'blog'"
        }
    };
    // Recorded by a host whose clock runs ahead: the ledger's order, not the clocks, tells
    // that a step came after the record.
    let mut earlier = before.clone();
    earlier[2] = "2999-01-01T00:00:00.000Z".into();
    db.execute(update, &earlier).await.unwrap();

    let status = sandbox.cli(WASMIG, &["status"]).stdout();
    assert!(status.contains("drift: blog: not known"), "{status}");
    assert!(!status.contains("changed outside its steps"), "{status}");
    blog_indexed(&sandbox, "1.2.0")
        .step("004_archive", "testing/create_table")
        .write();
    let upgraded = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(upgraded.success(), "not refused as drift: {upgraded:?}");
    let after = sandbox.cli(WASMIG, &["diff", "blog"]);
    assert!(after.success(), "recorded again: {after:?}");
    let recorded = db.query(select, &[]).await.unwrap().rows.remove(0);
    assert_ne!(recorded[2], before[2], "a new record");

    // And a hand change after that record is drift again.
    let drop = match backend {
        Backend::MySql => "DROP INDEX blog_posts_status ON blog_posts",
        _ => "DROP INDEX blog_posts_status",
    };
    db.execute(drop, &[]).await.unwrap();
    db.close().await;
    let diff = sandbox.cli(WASMIG, &["diff", "blog"]);
    assert!(
        diff.stdout().contains("blog_posts_status") && !diff.success(),
        "{diff:?}"
    );
}

/// Where the database keeps its schema as text (SQLite), an upgrade that leaves every module
/// as recorded keeps that state, and `status` in the same state answers from it. Differential:
/// after each change below, and again once it is undone (back in the kept state), `status
/// --json` with the kept state and with it deleted (so that the catalog is read) must say the
/// same, and a change that touches a module's objects, owners or record must be seen.
async fn a_settled_schema_answers_as_the_catalog_would(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    sandbox
        .module("notes", "1.0.0")
        .sql_step(
            "001_create_notes",
            "CREATE TABLE notes_items (id INTEGER PRIMARY KEY, body VARCHAR(200) NOT NULL);",
        )
        .write();
    assert!(sandbox.cli(WASMIG, &["upgrade"]).success());
    let db = sandbox.database().await;
    let kept = || async {
        db.query("SELECT id, state FROM wasmig_settled_schema", &[])
            .await
            .unwrap()
            .rows
    };
    let settled = kept().await;
    assert_eq!(
        settled.len(),
        usize::from(backend == Backend::Sqlite),
        "a state is kept where the schema is text: {settled:?}"
    );
    let drop_index = match backend {
        Backend::MySql => "DROP INDEX notes_by_body ON notes_items",
        _ => "DROP INDEX notes_by_body",
    };
    let move_to = |module: &str| {
        format!("UPDATE wasmig_objects SET module = '{module}' WHERE name = 'notes_items'")
    };
    // Each change, how to undo it, and whether a module has drifted while it stands.
    let changes: [(&str, String, String, bool); 5] = [
        (
            "rows only",
            "INSERT INTO notes_items (id, body) VALUES (1, 'x')".into(),
            "DELETE FROM notes_items".into(),
            false,
        ),
        (
            "an index by hand",
            "CREATE INDEX notes_by_body ON notes_items (body)".into(),
            drop_index.into(),
            true,
        ),
        (
            "an unowned table",
            "CREATE TABLE app_cache (k INTEGER PRIMARY KEY)".into(),
            "DROP TABLE app_cache".into(),
            false,
        ),
        (
            "ownership moved in the ledger",
            move_to("blog"),
            move_to("notes"),
            true,
        ),
        (
            "a record edited",
            "UPDATE wasmig_schemas SET fingerprint = UPPER(fingerprint) WHERE module = 'notes'"
                .into(),
            "UPDATE wasmig_schemas SET fingerprint = LOWER(fingerprint) WHERE module = 'notes'"
                .into(),
            true,
        ),
    ];
    for (what, change, undo, drifted) in changes {
        db.execute(&change, &[]).await.unwrap();
        assert_eq!(
            drift_both_ways(&sandbox, &db, what).await,
            drifted,
            "{what}"
        );
        db.execute(&undo, &[]).await.unwrap();
        assert!(
            !drift_both_ways(&sandbox, &db, what).await,
            "{what}, undone"
        );
        assert_eq!(kept().await, settled, "{what}: the kept state stays");
    }
    db.close().await;
}

/// Whether `status --json` lists drift, asked with the kept settled state and without it
/// (put back afterwards); panics when the two answers differ.
async fn drift_both_ways(sandbox: &Sandbox, db: &Database, what: &str) -> bool {
    let drift = |out: CliOutput| -> serde_json::Value {
        assert!(out.success(), "{what}: {out:?}");
        serde_json::from_str::<serde_json::Value>(&out.stdout()).unwrap()["drift"].clone()
    };
    let with_state = drift(sandbox.cli(WASMIG, &["status", "--json"]));
    let saved = db
        .query("SELECT id, state FROM wasmig_settled_schema", &[])
        .await
        .unwrap()
        .rows;
    db.execute("DELETE FROM wasmig_settled_schema", &[])
        .await
        .unwrap();
    let from_catalog = drift(sandbox.cli(WASMIG, &["status", "--json"]));
    let insert = match db.dialect() {
        Dialect::Postgres => "INSERT INTO wasmig_settled_schema (id, state) VALUES ($1, $2)",
        _ => "INSERT INTO wasmig_settled_schema (id, state) VALUES (?, ?)",
    };
    for row in saved {
        db.execute(insert, &row).await.unwrap();
    }
    assert_eq!(
        with_state, from_catalog,
        "{what}: the kept state and the catalog disagree"
    );
    from_catalog.as_object().is_some_and(|d| !d.is_empty())
}

/// A module of Python steps, as `new --python` and `add-step --python` make it: `build` runs
/// componentize-py (installing it from PyPI the first time) and checks the paths, `upgrade`
/// runs the steps, whose SDK calls (batch, query by name, cursor, errors, logging) the step
/// checks itself. The components are the same on every backend: one cache serves the tests.
async fn python_steps_build_and_run(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    let python = |args: &[&str]| author(&sandbox, args);
    assert!(python(&["new", "pyshop", "--python"]).success());
    assert!(python(&["add-step", "pyshop", "fill_items", "--python"]).success());
    let step = sandbox.path().join("pyshop/migrations/002_fill_items.py");
    std::fs::write(&step, include_str!("python/fill_items.py")).unwrap();
    let built = python(&["build", "pyshop"]);
    assert!(built.success(), "{built:?}");
    assert!(
        built
            .stdout()
            .contains("built pyshop 0.1.0 (2 steps, install)"),
        "{built:?}"
    );
    assert!(
        built
            .stderr()
            .contains("002_fill_items.py (componentize-py)"),
        "{built:?}"
    );
    // Without its install step, a fresh database runs both Python steps.
    std::fs::remove_file(sandbox.modules_dir().join("pyshop/install.sql")).unwrap();
    std::fs::remove_file(sandbox.modules_dir().join("pyshop/checksums.sha256")).unwrap();
    let upgraded = python(&["upgrade"]);
    assert!(upgraded.success(), "{upgraded:?}");
    assert!(upgraded.stderr().contains("1200 items in"), "{upgraded:?}");
    let db = sandbox.database().await;
    let rows = db
        .query(
            "SELECT COUNT(*), MAX(title) FROM pyshop_items WHERE id = 1",
            &[],
        )
        .await
        .unwrap();
    db.close().await;
    assert_eq!(rows.rows[0][1], wasmig_db::Value::Text("item 1!".into()));
}

/// A failure whose message spans lines and runs long stays on its row of `history`'s table;
/// `--json` keeps it whole.
#[tokio::test]
async fn history_keeps_one_line_per_row() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    assert!(sandbox.cli(WASMIG, &["new", "hx", "--sql"]).success());
    assert!(
        sandbox
            .cli(WASMIG, &["add-step", "hx", "fill", "--sql"])
            .success()
    );
    let step = sandbox.path().join("hx/migrations/002_fill.sql");
    let text = std::fs::read_to_string(&step).unwrap();
    let long = "a title that goes on ".repeat(10);
    let fill =
        format!("INSERT INTO hx_items (id, title)\nVALUES\n  (1, '{long}'),\n  (2, NULL);\n");
    std::fs::write(&step, text + &fill).unwrap();
    assert!(
        sandbox
            .cli(WASMIG, &["build", "hx", "--only-warn"])
            .success()
    );
    // Without its install step, a fresh database runs the steps.
    std::fs::remove_file(sandbox.modules_dir().join("hx/install.sql")).unwrap();
    std::fs::remove_file(sandbox.modules_dir().join("hx/checksums.sha256")).unwrap();
    assert!(!sandbox.cli(WASMIG, &["upgrade"]).success());

    let table = sandbox.cli(WASMIG, &["history"]).stdout();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two rows: {table}");
    assert!(
        lines[2].contains("failed") && lines[2].ends_with('…'),
        "{table}"
    );
    assert!(lines[2].chars().count() < 250, "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.cli(WASMIG, &["history", "--json"]).stdout()).unwrap();
    let error = json[1]["error"].as_str().unwrap();
    assert!(
        error.contains("VALUES\n") && error.contains("NOT NULL"),
        "{error}"
    );
}

#[test]
fn new_and_add_step_refuse_what_they_would_overwrite_or_misname() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(WASMIG)
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        wasmig_tests::CliOutput(output)
    };
    assert!(run(&["new", "notes", "--sql"]).success());
    assert!(
        !dir.path().join("notes/Cargo.toml").exists(),
        "a SQL module needs no cargo"
    );
    let again = run(&["new", "notes"]);
    assert!(!again.success());
    assert!(again.stderr().contains("is not empty"), "{again:?}");
    let bad_name = run(&["new", "Bad-Name"]);
    assert!(!bad_name.success(), "{bad_name:?}");
    assert!(!dir.path().join("Bad-Name").exists());
    let bad_slug = run(&["add-step", "notes", "Add-Notes", "--sql"]);
    assert!(!bad_slug.success());
    assert!(bad_slug.stderr().contains("a-z, 0-9 and _"), "{bad_slug:?}");
    let added = run(&["add-step", "notes", "add_body", "--sql"]);
    assert!(
        added.stdout().contains("migrations/002_add_body.sql"),
        "{added:?}"
    );
    // A SQL module builds without cargo; a Rust step brings its workspace along.
    let modules = dir.path().join("modules");
    let built = run(&["build", "notes", "-m", modules.to_str().unwrap()]);
    assert!(
        built
            .stdout()
            .contains("built notes 0.1.0 (2 steps, install)"),
        "{built:?}"
    );
    assert!(run(&["add-step", "notes", "backfill", "--rust"]).success());
    assert!(dir.path().join("notes/Cargo.toml").is_file());
    assert!(
        dir.path()
            .join("notes/migrations/003_backfill/src/lib.rs")
            .is_file()
    );
}
