//! Every hostile module is contained: its step fails with the denial or the limit that stopped
//! it, no data changes, the host survives and the next module still runs.

use std::time::Duration;

use wasmig_db::Value;
use wasmig_engine::{FailureKind, Limits, Refusal};
use wasmig_tests::{Backend, ModuleWriter, Sandbox, failure_mentioning, on_every_backend};

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
    a_huge_result_through_a_cursor,
    reading_and_writing_through_a_cursor,
    opening_a_file,
    opening_a_socket,
    reading_the_environment,
    settings_a_step_changes_do_not_outlive_it,
    an_oversized_statement,
    sleeping_in_wasi,
    a_cpu_heavy_query,
    a_huge_statement_from_a_component,
    an_expression_chaining_more_operators_than_the_policy_reads,
    the_catalog_shows_a_module_only_its_own_objects,
    a_quoted_function_that_reads_files,
    a_batch_into_another_modules_table,
    every_row_of_a_batch_counts_as_a_statement,
    a_table_the_application_made_between_two_upgrades,
);

/// Limits low enough for the attacks on resources to hit them quickly.
fn limits() -> Limits {
    Limits {
        fuel: 200_000_000,
        memory_bytes: 64 << 20,
        rows: 10_000,
        statement_bytes: 64 << 10,
        time: Duration::from_secs(60),
        ..Limits::default()
    }
}

/// Runs `hostile/<attack>` as module `evil` between `victim` and `zz_after`, and checks that
/// it failed with every part of `expected` in its error and harmed nothing. Returns the error.
async fn contained(backend: Backend, attack: &str, expected: &[&str]) -> String {
    let crate_dir = format!("hostile/{attack}");
    contained_step(backend, attack, expected, |m| {
        m.step(&format!("001_{attack}"), &crate_dir)
    })
    .await
}

/// Like [`contained`], for an attack written as the SQL step `001_<attack>.sql`.
async fn contained_sql(backend: Backend, attack: &str, sql: &str, expected: &[&str]) -> String {
    contained_step(backend, attack, expected, |m| {
        m.sql_step(&format!("001_{attack}"), sql)
    })
    .await
}

/// Runs module `evil`, whose only step `write` adds, between `victim` and `zz_after`; see
/// [`contained`].
async fn contained_step(
    backend: Backend,
    attack: &str,
    expected: &[&str],
    write: impl FnOnce(ModuleWriter) -> ModuleWriter,
) -> String {
    contained_within(backend, attack, expected, limits(), write).await
}

/// Like [`contained_step`], under `limits`.
async fn contained_within(
    backend: Backend,
    attack: &str,
    expected: &[&str],
    limits: Limits,
    write: impl FnOnce(ModuleWriter) -> ModuleWriter,
) -> String {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("victim", "1.0.0")
        .step("001_secrets", "testing/victim")
        .write();
    assert!(sandbox.upgrade().await.is_success());
    let before = sandbox.dump_except(&["wasmig_", "zz_"]).await;
    let victim_history = sandbox.host().await.history(Some("victim")).await.unwrap();

    write(sandbox.module("evil", "1.0.0")).write();
    sandbox
        .module("zz_after", "1.0.0")
        .step("001_ok", "testing/create_table")
        .write();
    let report = sandbox
        .host_with(limits)
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
    // Where the message says how the host stopped the step (a denial, a limit, a trap), the
    // failure's kind says so too.
    let expected_kind = match expected.first().copied().unwrap_or_default() {
        e if e.starts_with("denied:") => Some("denied"),
        e if e.starts_with("quota exceeded") => Some("quota"),
        e if e.starts_with("the step trapped") => Some("trapped"),
        _ => None,
    };
    let kind = match &failure.kind {
        FailureKind::Denied { .. } => "denied",
        FailureKind::Quota => "quota",
        FailureKind::Trapped => "trapped",
        _ => "other",
    };
    if let Some(expected_kind) = expected_kind {
        assert_eq!(kind, expected_kind, "{failure:?}");
    }
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
        sandbox.running_statements().await,
        Vec::<String>::new(),
        "nothing the step started still runs on the server"
    );

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

async fn a_batch_into_another_modules_table(backend: Backend) {
    // On PostgreSQL and MariaDB the rows go out as multi-row statements: the policy checks
    // those as it checks any other.
    contained(
        backend,
        "batch_into_other",
        &["denied: may not write to `victim_secrets`: it belongs to module `victim`"],
    )
    .await;
}

async fn every_row_of_a_batch_counts_as_a_statement(backend: Backend) {
    // 2,500 rows, sent as a few multi-row statements, against a limit of 1,000 statements.
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("batch", "1.0.0")
        .step("001_rows", "testing/batch_rows")
        .write();
    let limits = Limits {
        statements: 1000,
        ..limits()
    };
    let report = sandbox
        .host_with(limits)
        .await
        .upgrade(&[], |_| {})
        .await
        .unwrap();
    let failure = failure_mentioning(&report, "the step sent more than 1000 statements");
    assert!(matches!(failure.kind, FailureKind::Quota), "{failure:?}");
    // No row stays: the step rolled back (on MariaDB its CREATE TABLE had committed).
    let db = sandbox.database().await;
    let rows = db.query("SELECT COUNT(*) FROM batch_items", &[]).await;
    db.close().await;
    match backend {
        Backend::MySql => assert_eq!(rows.unwrap().rows[0][0], Value::Integer(0)),
        _ => assert!(rows.is_err(), "the table was rolled back: {rows:?}"),
    }
}

/// The holders of names a host remembers between steps (SQLite) are read again once another
/// connection changed the schema: a table the application makes after one upgrade stays the
/// application's in the next upgrade by the same host.
async fn a_table_the_application_made_between_two_upgrades(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    // The first upgrade ends with a data step, so that what the host remembers was read in
    // the very state the application changes next.
    sandbox
        .module("early", "1.0.0")
        .sql_step(
            "001_items",
            "CREATE TABLE early_items (id INTEGER PRIMARY KEY, name VARCHAR(50));",
        )
        .sql_step(
            "002_fill",
            "INSERT INTO early_items (id, name) VALUES (1, 'one');",
        )
        .write();
    let host = sandbox.host().await;
    let first = host.upgrade(&[], |_| {}).await.unwrap();
    assert!(first.is_success(), "{first:?}");
    sandbox
        .sql("CREATE TABLE app_secrets (id INTEGER PRIMARY KEY, secret VARCHAR(50))")
        .await;
    sandbox
        .sql("INSERT INTO app_secrets (id, secret) VALUES (1, 'kept')")
        .await;
    sandbox
        .module("late", "1.0.0")
        .sql_step(
            "001_take",
            "CREATE TABLE IF NOT EXISTS app_secrets (id INTEGER PRIMARY KEY, secret VARCHAR(50));\n\
             INSERT INTO app_secrets (id, secret) VALUES (2, 'taken');",
        )
        .write();
    let report = host.upgrade(&[], |_| {}).await.unwrap();
    let failure = failure_mentioning(&report, "app_secrets");
    assert_eq!(failure.module, "late");
    assert!(
        failure.reason.contains("belongs to the host"),
        "{}",
        failure.reason
    );
    let db = sandbox.database().await;
    let rows = db
        .query("SELECT secret FROM app_secrets", &[])
        .await
        .unwrap();
    db.close().await;
    assert_eq!(rows.rows, vec![vec![Value::Text("kept".into())]]);
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

/// A cursor holds one page at a time, but its rows count against the limit all the same.
async fn a_huge_result_through_a_cursor(backend: Backend) {
    contained(
        backend,
        "cursor_huge",
        &["quota exceeded: the step's queries returned more rows than its limit allows"],
    )
    .await;
}

/// Each way of writing through a cursor is refused without running (the guest goes on and
/// would keep the loot of any that ran); reading another module's table is denied.
async fn reading_and_writing_through_a_cursor(backend: Backend) {
    contained(
        backend,
        "cursor_tricks",
        &["denied: may not read `victim_secrets`: it belongs to module `victim`"],
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

// PostgreSQL runs code a module writes (functions, trigger functions, DO blocks) only where its
// own role confines it: the server refuses what the policy cannot read.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_do_block_cannot_leave_the_modules_role() {
    contained_sql(
        Backend::Postgres,
        "do_reset_role",
        "DO $$ BEGIN EXECUTE 'RESET ROLE'; DELETE FROM victim_secrets; END $$;",
        &["cannot set parameter \"role\" within security-definer function"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_do_block_cannot_read_another_modules_table() {
    contained_sql(
        Backend::Postgres,
        "do_read_other",
        "DO $$ DECLARE s text; BEGIN SELECT secret INTO s FROM victim_secrets LIMIT 1; \
         RAISE EXCEPTION 'stolen: %', s; END $$;",
        &["denied:", "permission denied for table victim_secrets"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_cannot_leave_the_modules_role() {
    contained_sql(
        Backend::Postgres,
        "function_set_role",
        "CREATE FUNCTION evil_escape() RETURNS void LANGUAGE plpgsql AS $$ \
         BEGIN EXECUTE 'SET ROLE postgres'; DELETE FROM victim_secrets; END $$;\n\
         SELECT evil_escape();",
        &["cannot set parameter \"role\" within security-definer function"],
    )
    .await;
}

/// Installs `victim`, then `evil` with `sql` as its one step, which must succeed.
async fn with_evil_installed(sql: &str) -> Sandbox {
    let sandbox = Sandbox::new(Backend::Postgres).await;
    sandbox
        .module("victim", "1.0.0")
        .step("001_secrets", "testing/victim")
        .write();
    sandbox
        .module("evil", "1.0.0")
        .sql_step("001_setup", sql)
        .write();
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    sandbox
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_function_fired_by_the_host_keeps_the_modules_rights() {
    let sandbox = with_evil_installed(
        "CREATE TABLE evil_inbox (id int);
         CREATE TABLE evil_loot (secret text);
         CREATE FUNCTION evil_steal() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO evil_loot SELECT secret FROM victim_secrets; RETURN NEW; END $$;
         CREATE TRIGGER evil_inbox_steal AFTER INSERT ON evil_inbox
             FOR EACH ROW EXECUTE FUNCTION evil_steal();",
    )
    .await;
    let db = sandbox.database().await;
    // The application, as a superuser, puts a row where the module's trigger fires.
    let error = db
        .execute("INSERT INTO evil_inbox VALUES (1)", &[])
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("permission denied for table victim_secrets"),
        "{error}"
    );
    assert_eq!(sandbox.integer("SELECT COUNT(*) FROM evil_loot").await, 0);
    let confined = db
        .query(
            "SELECT prosecdef::int4, array_to_string(proconfig, ',') FROM pg_proc \
             WHERE proname = 'evil_steal'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        confined.rows[0][0].as_integer(),
        Some(1),
        "SECURITY DEFINER"
    );
    assert_eq!(
        confined.rows[0][1].as_text(),
        Some("search_path=public, pg_temp")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_modules_function_cannot_be_called() {
    let sandbox = with_evil_installed(
        "CREATE FUNCTION evil_peek() RETURNS text LANGUAGE sql AS $$ SELECT 'evil' $$;",
    )
    .await;
    sandbox
        .module("nosy", "1.0.0")
        .sql_step(
            "001_call",
            "CREATE TABLE nosy_seen AS SELECT evil_peek() AS v;",
        )
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("nosy fails");
    assert_eq!(failure.module, "nosy");
    // The policy refuses it by name (another module's function is no built-in it allows);
    // behind it, EXECUTE is revoked from everyone but evil's role.
    assert!(
        failure
            .reason
            .contains("denied: the function `evil_peek` is not one a step may call"),
        "{failure}"
    );
    let db = sandbox.database().await;
    let grantees = db
        .query(
            "SELECT (proacl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM aclexplode(proacl) a \
             WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))::int4 \
             FROM pg_proc WHERE proname = 'evil_peek'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        grantees.rows[0][0].as_integer(),
        Some(1),
        "not executable by PUBLIC"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_role_confinement_code_is_refused_with_the_reason() {
    let sandbox = Sandbox::new(Backend::Postgres).await;
    let role = format!("wasmig_t{}_limited", std::process::id());
    let url = sandbox.database_url();
    let database = url.rsplit('/').next().unwrap().to_owned();
    for sql in [
        format!("DROP ROLE IF EXISTS {role}"),
        format!("CREATE ROLE {role} LOGIN NOCREATEROLE"),
        format!("GRANT ALL ON DATABASE {database} TO {role}"),
        format!("GRANT USAGE, CREATE ON SCHEMA public TO {role}"),
    ] {
        sandbox.sql(&sql).await;
    }
    let limited_url = url.replacen("postgres@", &format!("{role}@"), 1);
    for (slug, sql) in [
        (
            "function",
            "CREATE FUNCTION code_one() RETURNS int LANGUAGE sql AS 'SELECT 1';",
        ),
        ("block", "DO $$ BEGIN PERFORM 1; END $$;"),
    ] {
        sandbox
            .module("code", "1.0.0")
            .sql_step(&format!("001_{slug}"), sql)
            .write();
        let mut host = wasmig_engine::Host::open(&limited_url, sandbox.modules_dir(), limits())
            .await
            .unwrap();
        // Secure by default: no step runs where only the policy would check it…
        let enforcement = host.enforcement().await.unwrap();
        assert!(!enforcement.is_database_enforced(), "{enforcement}");
        let before = sandbox.dump_module_data().await;
        for plan_first in [true, false] {
            let refusal = match plan_first {
                true => {
                    let plan = host.plan(&[]).await.unwrap();
                    match &plan.modules[0].plan.action {
                        wasmig_engine::Action::Refused { refusal } => refusal.clone(),
                        other => panic!("plan would run the step: {other:?}"),
                    }
                }
                false => {
                    let report = host.upgrade(&[], |_| {}).await.unwrap();
                    match &report.failures().next().expect("refused").kind {
                        FailureKind::Refused { refusal } => refusal.clone(),
                        other => panic!("refused before running: {other:?}"),
                    }
                }
            };
            let Refusal::Unenforced { reason } = &refusal else {
                panic!("refused as unenforced: {refusal:?}");
            };
            assert!(
                reason.contains("(grant the account CREATEROLE)"),
                "{reason}"
            );
            assert!(
                refusal
                    .to_string()
                    .contains("only wasmig's SQL policy would check its steps"),
                "{refusal}"
            );
        }
        assert_eq!(
            sandbox.dump_module_data().await,
            before,
            "nothing ran without consent"
        );
        // …and with the operator's consent, code stays refused with its reason.
        host.set_policy_only(true);
        let report = host.upgrade(&[], |_| {}).await.unwrap();
        host.database().close().await;
        let failure = report.failures().next().expect("the step is refused");
        assert!(
            failure
                .reason
                .contains("may not create roles (grant it CREATEROLE)"),
            "{failure}"
        );
    }
    // The role owns the ledger it created: its database goes first.
    drop(sandbox);
    let admin = wasmig_db::Database::connect("postgres://postgres@127.0.0.1:5432/test")
        .await
        .unwrap();
    admin
        .execute(&format!("DROP ROLE IF EXISTS {role}"), &[])
        .await
        .unwrap();
}

/// A step that changes settings it may change: the host puts them back before the
/// connection serves anyone else (here, the application's own pool).
fn loosening(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "PRAGMA foreign_keys = OFF;\nCREATE TABLE loose_items (id INTEGER);",
        Backend::Postgres => {
            "SET lock_timeout = '7s';\nSET statement_timeout = '9s';\n\
             CREATE TABLE loose_items (id INTEGER);"
        }
        Backend::MySql => {
            "SET FOREIGN_KEY_CHECKS = 0;\nSET UNIQUE_CHECKS = 0;\n\
             CREATE TABLE loose_items (id INTEGER);"
        }
    }
}

/// What every connection of the pool says about those settings, as `name=value`.
fn settings_query(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT 'foreign_keys=' || foreign_keys FROM pragma_foreign_keys",
        Backend::Postgres => {
            "SELECT 'lock_timeout=' || current_setting('lock_timeout') || ' statement_timeout=' \
             || current_setting('statement_timeout')"
        }
        Backend::MySql => {
            "SELECT CAST(CONCAT('foreign_key_checks=', @@SESSION.foreign_key_checks, \
             ' unique_checks=', @@SESSION.unique_checks) AS CHAR)"
        }
    }
}

async fn settings_a_step_changes_do_not_outlive_it(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("loose", "1.0.0")
        .sql_step("001_loosen", loosening(backend))
        .write();
    let db = sandbox.database().await;
    let before = db.query(settings_query(backend), &[]).await.unwrap();
    upgrade_on_the_applications_pool(&sandbox, &db).await;
    for now in on_every_pooled_connection(&db, settings_query(backend)).await {
        assert_eq!(
            now, before.rows,
            "a connection of the pool kept a step's setting"
        );
    }
}

/// Upgrades the sandbox's modules over `db`'s pool, as an application embedding wasmig does.
async fn upgrade_on_the_applications_pool(sandbox: &Sandbox, db: &wasmig_db::Database) {
    let mut host = wasmig_engine::Host::new(
        db.clone(),
        sandbox.modules_dir(),
        wasmig_engine::Runtime::new(limits()).unwrap(),
    );
    host.set_policy_only(sandbox.policy_only());
    let report = host.upgrade(&[], |_| {}).await.unwrap();
    assert!(report.is_success(), "{report:?}");
}

/// What `sql` returns on every connection the pool holds, all held at once.
async fn on_every_pooled_connection(db: &wasmig_db::Database, sql: &str) -> Vec<Vec<Vec<Value>>> {
    let mut held = Vec::new();
    let mut answers = Vec::new();
    for _ in 0..db.pool_size() {
        let mut connection = db.autocommit().await.unwrap();
        answers.push(connection.query(sql, &[]).await.unwrap().rows);
        held.push(connection);
    }
    assert!(!answers.is_empty(), "the pool holds connections");
    answers
}

/// A DO block that plants a temporary `wasmig_objects` claiming the application's and another
/// module's tables, in several steps so that it lands on every pooled connection.
const TEMP_LEDGER: &str = "DO $$ BEGIN
  CREATE TEMP TABLE IF NOT EXISTS wasmig_objects (name VARCHAR(255) NOT NULL PRIMARY KEY,
    module VARCHAR(63) NOT NULL, kind VARCHAR(16) NOT NULL);
  DELETE FROM pg_temp.wasmig_objects;
  INSERT INTO pg_temp.wasmig_objects VALUES ('users', 'evil', 'table'),
    ('victim_secrets', 'evil', 'table');
  SET SESSION search_path = pg_temp, public;
END $$;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_table_cannot_stand_in_for_the_ledger() {
    let sandbox = Sandbox::new(Backend::Postgres).await;
    sandbox
        .sql("CREATE TABLE users (id int, password_hash text)")
        .await;
    sandbox
        .sql("INSERT INTO users VALUES (1, 'SECRETHASH')")
        .await;
    sandbox
        .module("victim", "1.0.0")
        .step("001_secrets", "testing/victim")
        .write();
    assert!(sandbox.upgrade().await.is_success());
    let before = sandbox.dump_except(&["wasmig_", "evil_"]).await;
    sandbox
        .module("evil", "1.0.0")
        .sql_step("001_plant", TEMP_LEDGER)
        .sql_step("002_plant", TEMP_LEDGER)
        .sql_step("003_plant", TEMP_LEDGER)
        .sql_step(
            "004_take",
            "CREATE TABLE evil_loot AS SELECT password_hash FROM users;\n\
             UPDATE users SET password_hash = 'PWNED';",
        )
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the theft is refused");
    assert_eq!(failure.step.as_deref(), Some("004_take"), "{failure}");
    assert!(
        failure
            .reason
            .contains("may not read `users`: it belongs to the host"),
        "{failure}"
    );
    assert_eq!(sandbox.dump_except(&["wasmig_", "evil_"]).await, before);
    let owner = sandbox
        .database()
        .await
        .query(
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'users'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(owner.rows[0][0].as_text(), Some("postgres"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_a_do_block_changes_do_not_outlive_its_step() {
    let sandbox = Sandbox::new(Backend::Postgres).await;
    sandbox
        .module("evil", "1.0.0")
        .sql_step(
            "001_poison",
            "DO $$ BEGIN SET SESSION default_transaction_read_only = on; \
             SET SESSION TIME ZONE 'Pacific/Kiritimati'; END $$;",
        )
        .sql_step("002_after", "CREATE TABLE evil_after (id int);")
        .write();
    sandbox
        .module("zz_after", "1.0.0")
        .step("001_ok", "testing/create_table")
        .write();
    let db = sandbox.database().await;
    upgrade_on_the_applications_pool(&sandbox, &db).await;
    let settings = "SELECT current_setting('default_transaction_read_only') || ' ' || \
                    current_setting('TimeZone')";
    for rows in on_every_pooled_connection(&db, settings).await {
        let setting = rows[0][0].as_text().unwrap().to_owned();
        assert!(
            !setting.contains("Kiritimati") && setting.starts_with("off"),
            "{setting}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_cannot_shadow_a_builtin() {
    contained_sql(
        Backend::Postgres,
        "shadow_lower",
        "CREATE TABLE evil_cap (v text);\n\
         CREATE FUNCTION lower(character varying) RETURNS text LANGUAGE plpgsql AS $$ \
         BEGIN INSERT INTO evil_cap VALUES ($1); RETURN pg_catalog.lower($1::text); END $$;",
        &["`lower` is the name of a function of PostgreSQL's own catalog"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executable_comment_is_refused() {
    contained_sql(
        Backend::MySql,
        "executable_comment",
        "SELECT 'secret' AS x /*M! , secret FROM victim_secrets */;",
        &["denied: executable comments"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cte_name_does_not_hide_the_catalog_elsewhere() {
    // `pg_class` (every table's name and size) is readable by any role: only the policy stands
    // between it and the step, and a CTE named `pg_class` in one subquery must not blind it to
    // the real one read in another.
    contained_sql(
        Backend::Postgres,
        "cte_shadow",
        "CREATE TABLE evil_loot AS SELECT b.relname FROM \
         (WITH pg_class AS (SELECT 1 AS x) SELECT x FROM pg_class) a, \
         (SELECT relname FROM pg_class) b;",
        &["denied:", "pg_class"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optimizer_hint_is_refused() {
    contained_sql(
        Backend::MySql,
        "optimizer_hint",
        "CREATE TABLE evil_copy AS SELECT /*+ MAX_EXECUTION_TIME(1) */ 1 AS x;",
        &[
            "denied: executable comments",
            "optimizer hints (`/*+ … */`)",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cascade_cannot_reach_what_others_built() {
    let sandbox = with_evil_installed("CREATE TABLE evil_base (id int);").await;
    // The application builds a view on the module's table (it may read it).
    sandbox
        .sql("CREATE VIEW app_report AS SELECT count(*) AS n FROM evil_base")
        .await;
    sandbox
        .module("evil", "1.1.0")
        .sql_step("001_setup", "CREATE TABLE evil_base (id int);")
        .sql_step("002_wipe", "DROP TABLE evil_base CASCADE;")
        .write();
    let report = sandbox.upgrade().await;
    let failure = report.failures().next().expect("the cascade is refused");
    assert!(
        failure.reason.contains("CASCADE would also drop"),
        "{failure}"
    );
    assert_eq!(sandbox.integer("SELECT n FROM app_report").await, 0);
}

async fn an_oversized_statement(backend: Backend) {
    // A 100 KiB statement against a 64 KiB limit: refused before it is parsed.
    let long = format!("SELECT '{}'", "x".repeat(100 << 10));
    contained_sql(
        backend,
        "oversized_statement",
        &long,
        &["quota exceeded: a statement of 100 KiB is longer than the 64 KiB a statement may be"],
    )
    .await;
}

/// Limits with a short time limit, for the attacks on time.
fn three_seconds() -> Limits {
    Limits {
        time: Duration::from_secs(3),
        ..limits()
    }
}

async fn sleeping_in_wasi(backend: Backend) {
    // Neither fuel nor the epoch counts while a guest waits in WASI: the time limit does.
    contained_within(
        backend,
        "sleep",
        &["quota exceeded: the step reached its time limit of 3 s"],
        three_seconds(),
        |m| m.step("001_sleep", "hostile/sleep"),
    )
    .await;
}

/// A query that would run for hours (a cross join of 10¹² rows), the same on every backend.
const CPU_HEAVY_QUERY: &str = "WITH t (x) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 \
    UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 \
    UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9), \
    u AS (SELECT a.x FROM t AS a, t AS b) \
    SELECT COUNT(*) FROM u AS evil_a, u AS evil_b, u AS evil_c, u AS evil_d, u AS evil_e, u AS evil_f";

async fn a_cpu_heavy_query(backend: Backend) {
    // The database's work counts against the time limit, and the query stops on the server
    // too: nothing of it is left running once the step has failed (`contained_within`).
    contained_within(
        backend,
        "cpu_heavy_query",
        &["quota exceeded: the step reached its time limit of 3 s"],
        three_seconds(),
        |m| m.sql_step("001_cpu_heavy_query", &format!("{CPU_HEAVY_QUERY};")),
    )
    .await;
}

async fn a_huge_statement_from_a_component(backend: Backend) {
    contained(
        backend,
        "huge_statement",
        &["quota exceeded: a statement of 18432 KiB is longer than the 64 KiB a statement may be"],
    )
    .await;
}

/// `1 + 1 + …` parses into a tree as deep as the chain, walked and dropped recursively on the
/// fiber that serves the guest's calls (100,000 terms overflow a 2 MiB stack, ending the host
/// process; see `wasmig_guard`'s chain tests): refused by the policy before it is parsed.
/// Without the rule this one reached SQLite, whose own expression depth limit refused it.
async fn an_expression_chaining_more_operators_than_the_policy_reads(backend: Backend) {
    contained(
        backend,
        "deep_sql",
        &["an expression chains 30000 operators, more than the 1000 the policy reads"],
    )
    .await;
}

async fn the_catalog_shows_a_module_only_its_own_objects(backend: Backend) {
    // Differential: what the module reads from the catalog against what the database holds.
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("victim", "1.0.0")
        .step("001_secrets", "testing/victim")
        .write();
    assert!(sandbox.upgrade().await.is_success());
    let (catalog, name, detail) = match backend {
        Backend::Sqlite => ("sqlite_master", "name", "sql"),
        Backend::Postgres | Backend::MySql => {
            ("information_schema.columns", "table_name", "column_default")
        }
    };
    let script = format!(
        "CREATE TABLE evil_seen (name VARCHAR(200), detail TEXT);\n\
         INSERT INTO evil_seen (name, detail) SELECT {name}, {detail} FROM {catalog};\n\
         INSERT INTO evil_seen (name, detail) \
         SELECT {name}, {detail} FROM (SELECT * FROM {catalog}) AS nested;\n"
    );
    sandbox
        .module("evil", "1.0.0")
        .sql_step("001_look", &script)
        .write();
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    let seen = |sql: &'static str| {
        let sandbox = &sandbox;
        async move {
            let db = sandbox.database().await;
            let rows = db.query(sql, &[]).await.unwrap();
            db.close().await;
            rows.rows
                .iter()
                .filter_map(|r| r[0].as_text().map(str::to_lowercase))
                .collect::<std::collections::BTreeSet<_>>()
        }
    };
    let module_saw = seen("SELECT name FROM evil_seen").await;
    assert_eq!(
        module_saw,
        ["evil_seen".to_owned()].into(),
        "the module saw only its own table"
    );
    let all_sql = match backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master",
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema()"
        }
        Backend::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE()"
        }
    };
    let database_has = seen(all_sql).await;
    assert!(
        database_has.contains("victim_secrets") && database_has.contains("wasmig_modules"),
        "the control query sees the rest: {database_has:?}"
    );
}

async fn a_quoted_function_that_reads_files(backend: Backend) {
    // Functions are allowed by name, however the name is quoted.
    let (sql, function) = match backend {
        Backend::Sqlite => (
            "CREATE TABLE evil_loot AS SELECT [readfile]('/etc/passwd') AS x;",
            "readfile",
        ),
        Backend::Postgres => (
            "CREATE TABLE evil_loot AS SELECT \"pg_read_file\"('/etc/passwd') AS x;",
            "pg_read_file",
        ),
        Backend::MySql => (
            "CREATE TABLE evil_loot AS SELECT `LOAD_FILE`('/etc/passwd') AS x;",
            "load_file",
        ),
    };
    let expected = format!("denied: the function `{function}` is not one a step may call");
    contained_sql(backend, "quoted_function", sql, &[&expected]).await;
}

/// MariaDB: a batch through a module account names its parameters as the session variables
/// `@wasmig_p…`; the guest sending that same text itself is judged by its own text (which
/// names variables it did not set) and refused, whatever the host made of its own.
#[tokio::test]
async fn replaying_the_hosts_batch_text() {
    let sandbox = Sandbox::new(Backend::MySql).await;
    sandbox
        .module("evil", "1.0.0")
        .step("001_replay", "hostile/replay_batch_text")
        .write();
    let report = sandbox.upgrade().await;
    let failure = failure_mentioning(&report, "user variables and accounts");
    assert!(
        matches!(failure.kind, FailureKind::Denied { .. }),
        "{failure:?}"
    );
    // The batch's rows went with the failed step; its CREATE TABLE had committed.
    let rows = sandbox.integer("SELECT COUNT(*) FROM evil_rows").await;
    assert_eq!(rows, 0, "{report:?}");
}
