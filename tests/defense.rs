//! Defense in depth: on PostgreSQL a guest statement runs as a role of the module's own, so
//! the server refuses what the SQL policy would have let through by mistake; on every backend
//! the policy and the database's layer are fuzzed against each other (`differential`).

use wasmig_tests::{Backend, Sandbox};

/// A database holding module `blog`'s table and module `victim`'s, with a secret in it.
async fn with_two_modules_tables(backend: Backend) -> Sandbox {
    let sandbox = Sandbox::new(backend).await;
    for sql in [
        "CREATE TABLE blog_posts (id INTEGER)",
        "CREATE TABLE victim_secrets (secret TEXT)",
        "INSERT INTO victim_secrets VALUES ('s3cr3t')",
    ] {
        sandbox.sql(sql).await;
    }
    sandbox
}

#[tokio::test]
async fn a_guest_role_owns_the_modules_tables_and_nothing_else() {
    let sandbox = with_two_modules_tables(Backend::Postgres).await;
    let db = sandbox.database().await;
    let mut tx = db.begin().await.unwrap();
    let owned = ["blog_posts".to_owned()];
    assert!(
        confine_as(&mut tx, &db, "wasmig_m_blog", &owned, &[], &[])
            .await
            .unwrap(),
        "the test server's account may create roles"
    );

    // As if the parser had let these through: the server has the last word.
    let mut guest = tx.as_guest();
    let error = guest
        .query("SELECT secret FROM victim_secrets", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, wasmig_db::Error::Denied(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("permission denied for table victim_secrets"),
        "{error}"
    );
    drop(guest);
    tx.rollback().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    confine_as(&mut tx, &db, "wasmig_m_blog", &owned, &[], &[])
        .await
        .unwrap();
    let mut guest = tx.as_guest();
    guest
        .execute("INSERT INTO blog_posts VALUES (1)", &[])
        .await
        .expect("its own table");
    guest
        .execute("CREATE TABLE blog_more (id INTEGER)", &[])
        .await
        .expect("a new table");
    let error = guest
        .execute("DROP TABLE victim_secrets", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, wasmig_db::Error::Denied(_)), "{error}");
    drop(guest);
    tx.rollback().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    confine_as(&mut tx, &db, "wasmig_m_blog", &owned, &[], &[])
        .await
        .unwrap();
    let mut guest = tx.as_guest();
    guest
        .execute("CREATE TABLE blog_more (id INTEGER)", &[])
        .await
        .unwrap();
    drop(guest);
    let owners = tx
        .query(
            "SELECT tablename::text, tableowner::text FROM pg_tables \
             WHERE schemaname = current_schema() ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let owners: Vec<(String, String)> = owners
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_text().unwrap().to_owned(),
                r[1].as_text().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        owners[0],
        ("blog_more".to_owned(), "wasmig_m_blog".to_owned())
    );
    assert_eq!(
        owners[1],
        ("blog_posts".to_owned(), "wasmig_m_blog".to_owned())
    );
    assert_ne!(
        owners[2].1, "wasmig_m_blog",
        "victim_secrets stays the host's"
    );
    // The host, between guest statements, is itself again.
    tx.query("SELECT secret FROM victim_secrets", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_module_account_holds_the_modules_tables_and_nothing_else() {
    // MariaDB: as if the parser had let these through, the server has the last word.
    let sandbox = with_two_modules_tables(Backend::MySql).await;
    let db = sandbox.database().await;
    let owned = ["blog_posts".to_owned()];
    let mut tx = db.begin().await.unwrap();
    assert!(
        confine_as(&mut tx, &db, "wasmig_m_blog", &owned, &[], &[])
            .await
            .unwrap(),
        "the test server's account may create accounts"
    );
    let mut guest = tx.as_guest();
    guest
        .execute("INSERT INTO blog_posts VALUES (?)", &[7.into()])
        .await
        .expect("its own table");
    let mine = guest.query("SELECT id FROM blog_posts", &[]).await.unwrap();
    assert_eq!(mine.rows, [[wasmig_db::Value::Integer(7)]]);
    for (sql, refusal) in [
        ("SELECT secret FROM victim_secrets", "SELECT command denied"),
        ("DROP TABLE victim_secrets", "DROP command denied"),
        (
            "UPDATE blog_posts JOIN victim_secrets SET victim_secrets.secret = 'x'",
            "command denied",
        ),
        ("SELECT user FROM mysql.user", "SELECT command denied"),
    ] {
        let error = guest.query(sql, &[]).await.unwrap_err();
        assert!(
            matches!(error, wasmig_db::Error::Denied(_)),
            "{sql}: {error}"
        );
        assert!(error.to_string().contains(refusal), "{sql}: {error}");
    }
    let file = guest
        .query("SELECT LOAD_FILE('/etc/passwd') AS f", &[])
        .await
        .unwrap();
    assert_eq!(file.rows, [[wasmig_db::Value::Null]], "no FILE privilege");
    drop(guest);
    tx.rollback().await.unwrap();
    db.close().await;
}

/// MariaDB reads `_` and `%` in a database-level grant as wildcards: the account's `CREATE` on
/// its database (`wasmig_t…_…`) must not reach a database whose name the unescaped pattern
/// matches, also when an earlier version left such a grant. The server decides: the same
/// `CREATE TABLE` runs in the module's database and is refused in the look-alike.
#[tokio::test]
async fn a_module_accounts_database_grant_reaches_no_look_alike_database() {
    let sandbox = Sandbox::new(Backend::MySql).await;
    let db = sandbox.database().await;
    let own = database_name(&db).await;
    assert!(own.contains('_'), "a name with a wildcard: {own}");
    let look_alike = own.replace('_', "x");
    db.execute(&format!("CREATE DATABASE `{look_alike}`"), &[])
        .await
        .unwrap();
    // What an earlier version granted: the pattern unescaped.
    let account = "'wasmig_m_lookalike'@'localhost'";
    for sql in [
        format!("CREATE USER IF NOT EXISTS {account} ACCOUNT LOCK"),
        format!("GRANT CREATE, CREATE VIEW ON `{own}`.* TO {account}"),
    ] {
        db.execute(&sql, &[]).await.unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    let confined = confine_as(&mut tx, &db, "wasmig_m_lookalike", &[], &[], &[]).await;
    let mut guest = tx.as_guest();
    let mine = guest
        .execute("CREATE TABLE lookalike_mine (x INT)", &[])
        .await;
    let theirs = guest
        .execute(&format!("CREATE TABLE `{look_alike}`.planted (x INT)"), &[])
        .await;
    drop(guest);
    tx.rollback().await.unwrap();
    for sql in [
        format!("DROP DATABASE `{look_alike}`"),
        format!("DROP USER {account}"),
    ] {
        db.execute(&sql, &[]).await.unwrap();
    }
    db.close().await;
    assert!(
        confined.unwrap(),
        "the test server's account may create accounts"
    );
    mine.expect("CREATE in its own database");
    let error = theirs.expect_err("no CREATE in the look-alike database");
    assert!(
        matches!(error, wasmig_db::Error::Denied(_)) && error.to_string().contains("denied"),
        "{error}"
    );
}

/// MariaDB: a module account's parameters pass through session variables; a step leaves
/// none of its values on the connection for whoever uses it next.
#[tokio::test]
async fn a_steps_parameters_do_not_outlive_it_on_the_connection() {
    let sandbox = with_two_modules_tables(Backend::MySql).await;
    let db = sandbox.database().await;
    let owned = ["blog_posts".to_owned()];
    let connection = "SELECT CAST(CONNECTION_ID() AS SIGNED)";
    let mut tx = db.begin().await.unwrap();
    confine_as(&mut tx, &db, "wasmig_m_blog", &owned, &[], &[])
        .await
        .unwrap();
    let used = tx.query(connection, &[]).await.unwrap().rows;
    let mut guest = tx.as_guest();
    guest
        .execute("INSERT INTO blog_posts VALUES (?)", &[4242.into()])
        .await
        .unwrap();
    drop(guest);
    let set = tx.query("SELECT @wasmig_p1", &[]).await.unwrap().rows;
    assert_eq!(
        set,
        [[wasmig_db::Value::Integer(4242)]],
        "passed as a variable"
    );
    tx.commit().await.unwrap();
    // The pool holds a connection of its own for the grants: hold each until the step's
    // comes back.
    let mut held = Vec::new();
    let mut left = None;
    for _ in 0..4 {
        let mut next = db.begin().await.unwrap();
        if next.query(connection, &[]).await.unwrap().rows == used {
            let sql = "SELECT @wasmig_p1, @wasmig_statement";
            left = Some(next.query(sql, &[]).await.unwrap().rows);
        }
        held.push(next);
        if left.is_some() {
            break;
        }
    }
    for tx in held {
        tx.rollback().await.unwrap();
    }
    db.close().await;
    let left = left.expect("the step's connection went back to the pool");
    assert_eq!(
        left,
        [[wasmig_db::Value::Null, wasmig_db::Value::Null]],
        "emptied when the step ended"
    );
}

/// MariaDB reads `\'` as the end of a string under `NO_BACKSLASH_ESCAPES` and `"…"` as a name
/// under `ANSI_QUOTES`, where the policy reads a quote inside a string. A module account's
/// procedure keeps the mode it was made in: one made in such a mode (on a server whose default
/// has it) is made again, and the server reads the guest's statement as the policy does; the
/// host's own connections leave those modes out.
#[tokio::test]
async fn statements_are_read_in_the_sql_mode_the_policy_reads_them_in() {
    use sqlx::{Connection, Executor};
    let sandbox = with_two_modules_tables(Backend::MySql).await;
    let db = sandbox.database().await;
    let name = database_name(&db).await;
    let account = wasmig_db::GuestAccount::new("wasmig_m_blog", &name);
    let mut raw = sqlx::MySqlConnection::connect(&sandbox.database_url())
        .await
        .unwrap();
    // MSSQL sets ANSI_QUOTES again whenever the mode is set.
    let bad = "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,MSSQL,STRICT_TRANS_TABLES'";
    for sql in [
        bad.to_owned(),
        format!(
            "CREATE USER IF NOT EXISTS {} ACCOUNT LOCK",
            account.account()
        ),
        account.procedure_definition(),
    ] {
        raw.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }
    // The host's statement to take those modes out, where a session has them.
    raw.execute(sqlx::AssertSqlSafe(wasmig_db::mysql_safe_sql_mode()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("SELECT CAST(@@sql_mode AS CHAR)")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    let modes: Vec<&str> = mode.split(',').collect();
    assert!(modes.contains(&"STRICT_TRANS_TABLES"), "{mode}");
    for gone in ["NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "MSSQL"] {
        assert!(!modes.contains(&gone), "{mode}");
    }

    let mut tx = db.begin().await.unwrap();
    let owned = ["blog_posts".to_owned()];
    confine_as(&mut tx, &db, "wasmig_m_blog", &owned, &[], &[])
        .await
        .unwrap();
    let mut guest = tx.as_guest();
    let read = guest.query(r#"SELECT 'it\'s', "a string""#, &[]).await;
    drop(guest);
    tx.rollback().await.unwrap();
    db.close().await;
    let text = |s: &str| wasmig_db::Value::Text(s.to_owned());
    assert_eq!(read.unwrap().rows, [[text("it's"), text("a string")]]);
}

/// Differential fuzzing of the boundary: statements generated from a grammar of what
/// attacks try (every table a statement can reach, in every quoting, through joins, CTEs,
/// subqueries, `INSERT … SELECT`, multi-table writes, views and `CREATE TABLE … AS`) run through
/// the SQL policy and, as the guest, through the database's own layer (SQLite's authorizer,
/// PostgreSQL's module role, MariaDB's module account).
/// Whatever runs must not read or write what the module may not touch, and whatever the
/// database layer refuses the policy must refuse too; each difference is reported with its
/// statement. `WASMIG_FUZZ_CASES` raises the number of statements (default 300 per backend).
mod differential {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use wasmig_db::{Dialect, Transaction};
    use wasmig_guard::authorizer::SharedPolicy;
    use wasmig_guard::{Catalog, Effect, Grants, ObjectKind, Policy};
    use wasmig_tests::{Backend, Sandbox, on_every_backend};

    on_every_backend!(policy_and_database_agree_and_nothing_forbidden_succeeds);

    /// Rows no statement of module `blog` may read (`victim`'s, and the host's ungranted).
    const SECRETS: [&str; 2] = ["s3cr3t", "audit-data"];

    /// Tables and who holds them: `blog_posts` is the module's, `users` readable, `settings`
    /// writable, `victim_secrets` another module's, `host_audit` the host's.
    const TABLES: [(&str, &str); 5] = [
        ("blog_posts", "post"),
        ("victim_secrets", "s3cr3t"),
        ("users", "user-data"),
        ("settings", "setting"),
        ("host_audit", "audit-data"),
    ];

    /// Tables whose rows must come out of every statement as they went in.
    const PROTECTED: [&str; 3] = ["victim_secrets", "users", "host_audit"];

    /// A small deterministic generator (xorshift), so that a failure can be replayed.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    /// One table reference, in one of the spellings the dialect reads.
    fn table(rng: &mut Rng, backend: Backend) -> String {
        let name = TABLES[rng.below(TABLES.len())].0;
        let quoted = match backend {
            Backend::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        };
        let home = match backend {
            Backend::Sqlite => "main",
            Backend::Postgres => "public",
            Backend::MySql => "DATABASE_NAME",
        };
        match rng.below(5) {
            0 => quoted,
            // MariaDB's table names are case-sensitive on Linux: `USERS` names no table there.
            1 if backend != Backend::MySql => name.to_uppercase(),
            2 => format!("{home}.{name}"),
            _ => name.to_owned(),
        }
    }

    /// One statement of the grammar.
    fn statement(rng: &mut Rng, backend: Backend) -> String {
        let (a, b) = (table(rng, backend), table(rng, backend));
        let n = rng.below(1000) + 10;
        let text = rng.pick(&["'x'", "body", "lower(body)", "(SELECT max(body) FROM t2)"]);
        let text = text.replace("t2", &b);
        match rng.below(14) {
            0 => format!("SELECT body FROM {a}"),
            1 => format!("SELECT x.body FROM {a} x JOIN {b} y ON x.id = y.id"),
            2 => format!("SELECT body FROM {a} WHERE id IN (SELECT id FROM {b})"),
            3 => format!("WITH c AS (SELECT body FROM {a}) SELECT body FROM c"),
            4 => format!("SELECT (SELECT max(body) FROM {a}) AS v FROM {b}"),
            5 => format!("INSERT INTO {a} (id, body) VALUES ({n}, {text})"),
            6 => format!("INSERT INTO {a} (id, body) SELECT id + {n}, body FROM {b}"),
            7 => format!("UPDATE {a} SET body = {text}"),
            8 => format!("DELETE FROM {a} WHERE id IN (SELECT id FROM {b})"),
            9 => format!("CREATE TABLE blog_copy_{n} AS SELECT body FROM {a}"),
            10 => format!("CREATE VIEW blog_view_{n} AS SELECT body FROM {a}"),
            11 => match backend {
                Backend::MySql => {
                    format!("UPDATE {a} x JOIN {b} y ON x.id = y.id SET y.body = x.body")
                }
                Backend::Postgres => {
                    format!("WITH d AS (UPDATE {a} SET body = 'w' RETURNING id) SELECT id FROM d")
                }
                Backend::Sqlite => format!("UPDATE {a} SET body = (SELECT body FROM {b})"),
            },
            12 => format!("DELETE FROM {a}"),
            _ => format!("INSERT INTO blog_posts (id, body) SELECT id + {n}, body FROM {a}"),
        }
    }

    async fn policy_and_database_agree_and_nothing_forbidden_succeeds(backend: Backend) {
        let cases: usize = std::env::var("WASMIG_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(300);
        let sandbox = Sandbox::new(backend).await;
        for (name, marker) in TABLES {
            sandbox
                .sql(&format!(
                    "CREATE TABLE {name} (id INTEGER, body VARCHAR(100))"
                ))
                .await;
            sandbox
                .sql(&format!(
                    "INSERT INTO {name} (id, body) VALUES (1, '{marker}')"
                ))
                .await;
        }
        let db = sandbox.database().await;
        let home = db
            .query(
                match backend {
                    Backend::MySql => "SELECT CAST(DATABASE() AS CHAR)",
                    _ => "SELECT 'unused'",
                },
                &[],
            )
            .await
            .unwrap()
            .rows[0][0]
            .as_text()
            .unwrap_or_default()
            .to_owned();
        let policy = policy_of_blog(db.dialect(), &home);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut differences = Vec::new();
        let (mut allowed, mut ran) = (0, 0);
        for _ in 0..cases {
            let sql = statement(&mut rng, backend).replace("DATABASE_NAME", &home);
            let verdict = policy.check(&sql);
            if verdict.is_ok() {
                allowed += 1;
            }
            let mut tx = db.begin().await.unwrap();
            confine(&mut tx, &db, &policy).await;
            // As the engine's gate does before a statement makes a table.
            for effect in verdict.as_ref().map_or(&[][..], Vec::as_slice) {
                match effect {
                    Effect::Created {
                        name,
                        kind: ObjectKind::Table | ObjectKind::View,
                    }
                    | Effect::Renamed { to: name, .. } => {
                        wasmig_confine::grant_new(&mut tx, &db, name, true)
                            .await
                            .unwrap()
                    }
                    Effect::Refers { name } => wasmig_confine::grant_new(&mut tx, &db, name, false)
                        .await
                        .unwrap(),
                    _ => {}
                }
            }
            let before = protected_rows(&mut tx).await;
            let mut guest = tx.as_guest();
            let outcome = if sql.starts_with("SELECT") || sql.starts_with("WITH c") {
                guest
                    .query(&sql, &[])
                    .await
                    .map(|rows| format!("{:?}", rows.rows))
            } else {
                guest.execute(&sql, &[]).await.map(|n| n.to_string())
            };
            drop(guest);
            match (&verdict, &outcome) {
                (Ok(_), Err(wasmig_db::Error::Denied(refusal))) => differences.push(format!(
                    "the database refused what the policy allowed: `{sql}`: {refusal}"
                )),
                (_, Ok(output)) => {
                    ran += 1;
                    if let Some(secret) = SECRETS.iter().find(|s| output.contains(**s)) {
                        differences.push(format!("`{sql}` read `{secret}`: {output}"));
                    }
                    if protected_rows(&mut tx).await != before {
                        differences.push(format!("`{sql}` changed a protected table"));
                    }
                    if let Some(secret) = copied_secret(&mut tx).await {
                        differences.push(format!("`{sql}` copied `{secret}` into the module's"));
                    }
                    if verdict.is_err() {
                        differences.push(format!(
                            "the policy refused what the database let through harmlessly: `{sql}`"
                        ));
                    }
                }
                _ => {}
            }
            tx.rollback().await.unwrap();
            if backend == Backend::MySql && sql.starts_with("CREATE") {
                // MariaDB commits DDL at once: the next statements start from the same tables.
                let made = sql.split_whitespace().nth(2).unwrap_or_default();
                for kind in ["TABLE", "VIEW"] {
                    let _ = db
                        .execute(&format!("DROP {kind} IF EXISTS {made}"), &[])
                        .await;
                }
            }
        }
        eprintln!("{backend:?}: {cases} statements, {allowed} allowed by the policy, {ran} ran");
        assert!(
            allowed > cases / 10 && allowed < cases,
            "the grammar reaches both verdicts"
        );
        // A statement the policy refuses but the database runs without harm is only noted.
        let harmful: Vec<&String> = differences
            .iter()
            .filter(|d| !d.starts_with("the policy refused"))
            .collect();
        assert!(harmful.is_empty(), "{}", differences.join("\n"));
    }

    /// Module `blog`'s policy over the fuzzing tables.
    fn policy_of_blog(dialect: Dialect, home: &str) -> Policy {
        let objects: BTreeMap<String, Option<String>> = TABLES
            .iter()
            .map(|(name, _)| {
                let owner = match *name {
                    "blog_posts" => Some("blog".to_owned()),
                    "victim_secrets" => Some("victim".to_owned()),
                    _ => None,
                };
                (name.to_string(), owner)
            })
            .collect();
        let grants = Grants {
            read: BTreeSet::from(["users".to_owned()]),
            write: BTreeSet::from(["settings".to_owned()]),
        };
        let home = match dialect {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("public"),
            Dialect::MySql => Some(home),
        };
        Policy::new(dialect, "blog", home, Catalog { objects }, grants)
    }

    /// Puts the database's own layer in place for module `blog`.
    async fn confine(tx: &mut Transaction, db: &wasmig_db::Database, policy: &Policy) {
        let owned = ["blog_posts".to_owned()];
        let read = ["users".to_owned()];
        let write = ["settings".to_owned()];
        super::confine_as(tx, db, "wasmig_m_blog", &owned, &read, &write)
            .await
            .unwrap();
        let authorizer = Arc::new(SharedPolicy::new(policy.clone()));
        tx.install_authorizer(authorizer).await.unwrap();
    }

    /// The rows of the protected tables, as the host reads them.
    async fn protected_rows(tx: &mut Transaction) -> Vec<String> {
        let mut rows = Vec::new();
        for name in PROTECTED {
            let read = tx
                .query(&format!("SELECT id, body FROM {name} ORDER BY id"), &[])
                .await
                .map(|r| format!("{name}: {:?}", r.rows));
            rows.push(read.unwrap_or_else(|e| format!("{name}: {e}")));
        }
        rows
    }

    /// A secret the module can read from a table or view the statement made for it. Read as
    /// the guest: a view over another module's table is refused when it is read (SQLite's
    /// authorizer checks the view's body then; PostgreSQL checks its owner's rights), a copy
    /// of the rows is not.
    async fn copied_secret(tx: &mut Transaction) -> Option<&'static str> {
        let names = tx.object_names().await.ok()?;
        for (name, _) in names.iter().filter(|(n, _)| n.starts_with("blog_")) {
            let mut guest = tx.as_guest();
            let read = guest.query(&format!("SELECT * FROM {name}"), &[]).await;
            drop(guest);
            let Ok(rows) = read else {
                continue;
            };
            let text = format!("{:?}", rows.rows);
            if let Some(secret) = SECRETS.iter().find(|s| text.contains(**s)) {
                return Some(secret);
            }
        }
        None
    }
}

/// MariaDB: the connection's database.
async fn database_name(db: &wasmig_db::Database) -> String {
    let rows = db
        .query("SELECT CAST(DATABASE() AS CHAR)", &[])
        .await
        .unwrap()
        .rows;
    rows[0][0].as_text().unwrap().to_owned()
}

/// Gives `tx`'s guest statements the module identity `name` (as the engine's gate does).
async fn confine_as(
    tx: &mut wasmig_db::Transaction,
    db: &wasmig_db::Database,
    name: &str,
    owned: &[String],
    read: &[String],
    write: &[String],
) -> Result<bool, wasmig_db::Error> {
    let grants = wasmig_confine::Grants { owned, read, write };
    wasmig_confine::confine(tx, db, name, grants).await
}

/// SQLite keeps a step's data statements prepared. A statement the authorizer allowed for one
/// module is never reused under another's (a dry run serves several modules in one
/// transaction), and after a statement changes the schema each is checked again.
#[tokio::test]
async fn sqlite_statements_kept_prepared_are_checked_for_each_module() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;
    use wasmig_db::{Dialect, Value};
    use wasmig_guard::authorizer::SharedPolicy;
    use wasmig_guard::{Catalog, Grants, Policy};

    let sandbox = with_two_modules_tables(Backend::Sqlite).await;
    let db = sandbox.database().await;
    let policy = |module: &str| {
        let objects = BTreeMap::from([
            ("blog_posts".to_owned(), Some("blog".to_owned())),
            ("victim_secrets".to_owned(), Some("victim".to_owned())),
        ]);
        let grants = Grants {
            read: BTreeSet::new(),
            write: BTreeSet::new(),
        };
        let policy = Policy::new(Dialect::Sqlite, module, None, Catalog { objects }, grants);
        Arc::new(SharedPolicy::new(policy))
    };
    let insert = "INSERT INTO victim_secrets (secret) VALUES (?)";
    let read = "SELECT COUNT(*) FROM victim_secrets";
    let mut tx = db.begin().await.unwrap();
    tx.install_authorizer(policy("victim")).await.unwrap();
    for round in 0..3 {
        let mut guest = tx.as_guest();
        let row = [Value::Text(format!("victim's own {round}"))];
        assert_eq!(guest.execute(insert, &row).await.unwrap(), 1);
        guest.query(read, &[]).await.unwrap();
    }
    // The same texts, now for module `blog`, which may not touch `victim_secrets`.
    tx.install_authorizer(policy("blog")).await.unwrap();
    let mut guest = tx.as_guest();
    let refused = guest
        .execute(insert, &[Value::Text("planted".into())])
        .await
        .unwrap_err();
    assert!(matches!(refused, wasmig_db::Error::Denied(_)), "{refused}");
    let refused = guest.query(read, &[]).await.unwrap_err();
    assert!(matches!(refused, wasmig_db::Error::Denied(_)), "{refused}");
    // Its own table, kept prepared, then dropped and made again as a view of the secrets:
    // the statement kept for the table is not run against the view.
    let own = "SELECT COUNT(*) FROM blog_posts";
    guest.query(own, &[]).await.unwrap();
    guest.execute("DROP TABLE blog_posts", &[]).await.unwrap();
    let made = guest
        .execute(
            "CREATE VIEW blog_posts AS SELECT secret AS id FROM victim_secrets",
            &[],
        )
        .await;
    if made.is_ok() {
        let refused = guest.query(own, &[]).await.unwrap_err();
        assert!(matches!(refused, wasmig_db::Error::Denied(_)), "{refused}");
    }
    // SQLite stops reading at a NUL: what follows is never run, and the text is refused
    // (it once sent the host into an endless loop).
    for hidden in [
        "SELECT 1 -- \0",
        "SELECT 1 /* \0 */; DELETE FROM victim_secrets",
    ] {
        let refused = guest.query(hidden, &[]).await.unwrap_err();
        assert!(
            matches!(&refused, wasmig_db::Error::Denied(m) if m.contains("NUL")),
            "{refused}"
        );
    }
    drop(guest);
    tx.rollback().await.unwrap();
    db.close().await;
}
