//! The `wasmig` binary as operators and module authors run it.

use wasmig_tests::{Backend, Sandbox, blog_v1, on_every_backend};

on_every_backend!(
    build_upgrade_status_and_history_from_a_module_source,
    status_json_describes_each_module,
    a_failing_step_exits_non_zero_with_a_one_line_cause,
);

const WASMIG: &str = env!("CARGO_BIN_EXE_wasmig-test-cli");

async fn build_upgrade_status_and_history_from_a_module_source(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    let blog_src = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/blog");

    let built = sandbox.cli(WASMIG, &["build", blog_src]);
    assert!(built.success(), "{built:?}");
    assert!(
        built
            .stdout()
            .contains("built blog 1.2.0 (3 steps, install)"),
        "{built:?}"
    );
    for file in [
        "module.toml",
        "install.wasm",
        "migrations/001_create_posts.wasm",
        "migrations/002_add_status.wasm",
        "migrations/003_index_status.wasm",
    ] {
        assert!(
            sandbox.modules_dir().join("blog").join(file).is_file(),
            "{file}"
        );
    }

    let status = sandbox.cli(WASMIG, &["status"]);
    assert!(status.success(), "{status:?}");
    assert!(
        status
            .stdout()
            .contains("blog    -          1.2.0   install"),
        "{status:?}"
    );

    let upgrade = sandbox.cli(WASMIG, &["upgrade"]);
    assert!(upgrade.success(), "{upgrade:?}");
    let out = upgrade.stdout();
    assert!(
        out.contains("blog: installing 1.2.0 with install.wasm (covers 3 steps)"),
        "{out}"
    );
    assert!(out.contains("  install ... ok ("), "{out}");

    let status = sandbox.cli(WASMIG, &["status"]);
    let lines: Vec<_> = status.stdout().lines().map(str::to_owned).collect();
    assert_eq!(lines[0], "MODULE  INSTALLED  HEADER  PENDING");
    assert_eq!(lines[1], "blog    1.2.0      1.2.0   none");

    let history = sandbox.cli(WASMIG, &["history", "blog"]);
    assert!(history.success(), "{history:?}");
    assert_eq!(history.stdout().lines().count(), 5, "{history:?}");
    assert!(
        history
            .stdout()
            .contains("003_index_status  1.2.0    covered"),
        "{history:?}"
    );
}

async fn status_json_describes_each_module(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    blog_v1(&sandbox).write();
    let status = sandbox.cli(WASMIG, &["status", "--json"]);
    assert!(status.success(), "{status:?}");
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).expect("valid JSON");
    let blog = &json[0];
    assert_eq!(blog["module"], "blog");
    assert_eq!(blog["installed_version"], serde_json::Value::Null);
    assert_eq!(blog["header_version"], "1.0.0");
    assert_eq!(blog["action"]["kind"], "apply");
    assert_eq!(blog["pending"][1], "002_add_status");
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
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("blog/module.toml: line 3, column 1: unknown field `hostapi`"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        sandbox.tables().await.is_empty(),
        "not even the ledger was created"
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
