//! The second layer: SQLite's authorizer refuses what the parser let through.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmig_db::{Database, Dialect};
use wasmig_guard::authorizer::SharedPolicy;
use wasmig_guard::{Catalog, Checks, Effect, Grants, ObjectKind, Policy};

async fn database() -> Database {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    for sql in [
        "CREATE TABLE blog_posts (id INTEGER PRIMARY KEY, title TEXT)",
        "CREATE TABLE victim_secrets (secret TEXT)",
        "INSERT INTO victim_secrets VALUES ('s3cr3t')",
    ] {
        db.execute(sql, &[]).await.unwrap();
    }
    db
}

/// The policy of module `blog`, with the parser's read check switched off: a read of another
/// module's table now slips past the parser.
fn careless_policy() -> Policy {
    let objects: BTreeMap<String, Option<String>> = [
        ("blog_posts".to_owned(), Some("blog".to_owned())),
        ("victim_secrets".to_owned(), Some("victim".to_owned())),
    ]
    .into();
    Policy::new(
        Dialect::Sqlite,
        "blog",
        None,
        Catalog { objects },
        Grants::default(),
    )
    .with_checks(Checks { reads: false })
}

#[tokio::test]
async fn a_read_that_slips_past_the_parser_is_refused_by_sqlite() {
    let db = database().await;
    let policy = SharedPolicy::new(careless_policy());
    let sneaky = "SELECT secret FROM victim_secrets";
    assert!(
        policy.lock().check(sneaky).is_ok(),
        "the parser rule is off"
    );

    let mut tx = db.begin().await.unwrap();
    tx.install_authorizer(Arc::new(policy.clone()))
        .await
        .unwrap();
    let mut guest = tx.as_guest();
    let error = guest.query(sneaky, &[]).await.unwrap_err();
    assert!(matches!(error, wasmig_db::Error::Denied(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("access to victim_secrets.secret is prohibited"),
        "{error}"
    );
    // The module's own table stays usable, and so does the host between guest statements.
    guest
        .query("SELECT title FROM blog_posts", &[])
        .await
        .unwrap();
    let index = "CREATE INDEX blog_posts_title ON blog_posts (title)";
    policy.statement_starts(&policy.lock().check(index).unwrap());
    guest
        .execute(index, &[])
        .await
        .expect("an index on an owned table");
    drop(guest);
    tx.query(sneaky, &[])
        .await
        .expect("the host reads what it likes");
    // A guest scope ends with the future that holds it, even one cancelled mid-await.
    let cancelled = async {
        let _guest = tx.as_guest();
        std::future::pending::<()>().await;
    };
    let waited = tokio::time::timeout(std::time::Duration::from_millis(20), cancelled).await;
    assert!(waited.is_err(), "the guest's future was cancelled");
    tx.query(sneaky, &[])
        .await
        .expect("the host's again after a cancelled guest scope");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn attach_pragmas_temp_objects_and_trigger_bodies_are_refused_by_sqlite() {
    let db = database().await;
    let policy = SharedPolicy::new(careless_policy());
    let mut tx = db.begin().await.unwrap();
    tx.install_authorizer(Arc::new(policy.clone()))
        .await
        .unwrap();
    let mut guest = tx.as_guest();
    for sql in [
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA writable_schema = ON",
        "CREATE TEMP TABLE blog_tmp (id INTEGER)",
        "DELETE FROM victim_secrets",
        "DROP TABLE victim_secrets",
        "SELECT load_extension('evil')",
    ] {
        let error = guest.execute(sql, &[]).await.unwrap_err();
        assert!(
            matches!(error, wasmig_db::Error::Denied(_)),
            "{sql}: {error}"
        );
    }
    // A trigger body that writes another module's table: created by a careless parser, it is
    // refused when the statement that fires it compiles.
    policy.statement_starts(&[Effect::Created {
        name: "blog_spy".into(),
        kind: ObjectKind::Trigger,
    }]);
    guest.execute(
        "CREATE TRIGGER blog_spy AFTER INSERT ON blog_posts BEGIN DELETE FROM victim_secrets; END",
        &[],
    )
    .await
    .expect("creating a trigger on an owned table is allowed");
    let error = guest
        .execute("INSERT INTO blog_posts (title) VALUES ('x')", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, wasmig_db::Error::Denied(_)), "{error}");
    drop(guest);
    tx.rollback().await.unwrap();
    let left = db
        .query("SELECT COUNT(*) FROM victim_secrets", &[])
        .await
        .unwrap();
    assert_eq!(left.rows[0][0].as_integer(), Some(1));
}

/// The policy of module `blog` that owns `blog_posts`, checking everything.
fn strict_policy() -> SharedPolicy {
    let objects: BTreeMap<String, Option<String>> = [
        ("blog_posts".to_owned(), Some("blog".to_owned())),
        ("victim_secrets".to_owned(), Some("victim".to_owned())),
    ]
    .into();
    SharedPolicy::new(Policy::new(
        Dialect::Sqlite,
        "blog",
        None,
        Catalog { objects },
        Grants::default(),
    ))
}

/// Runs `sql` as the engine's gate does: the parser first, then the database with the
/// authorizer told what the statement creates; the parser's effects are applied on success.
async fn run_checked(
    tx: &mut wasmig_db::Transaction,
    policy: &SharedPolicy,
    sql: &str,
) -> Result<(), String> {
    let effects = policy.lock().check(sql).map_err(|d| d.to_string())?;
    policy.statement_starts(&effects);
    let mut guest = tx.as_guest();
    let result = guest.execute(sql, &[]).await;
    drop(guest);
    result.map_err(|e| e.to_string())?;
    policy.lock().apply(&effects);
    Ok(())
}

#[tokio::test]
async fn real_ddl_passes_the_authorizer_for_the_modules_own_tables() {
    let db = database().await;
    let policy = strict_policy();
    let mut tx = db.begin().await.unwrap();
    tx.install_authorizer(Arc::new(policy.clone()))
        .await
        .unwrap();
    for sql in [
        // Each of these makes SQLite create an implicit index or the sequence table.
        "CREATE TABLE blog_users (uuid TEXT NOT NULL PRIMARY KEY, email TEXT NOT NULL UNIQUE)",
        "CREATE TABLE blog_tags (post INTEGER, tag TEXT, PRIMARY KEY (post, tag)) WITHOUT ROWID",
        "CREATE TABLE blog_log (id INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT, UNIQUE (msg))",
        "INSERT INTO blog_log (msg) VALUES ('one')",
        // Renames rewrite sqlite_master, sqlite_sequence and the temp schema.
        "ALTER TABLE blog_log RENAME TO blog_journal",
        "ALTER TABLE blog_journal RENAME COLUMN msg TO message",
        "ALTER TABLE blog_users ADD COLUMN name TEXT",
        "ALTER TABLE blog_users DROP COLUMN name",
        "DROP TABLE blog_tags",
    ] {
        run_checked(&mut tx, &policy, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    tx.commit().await.unwrap();
    let seq = db
        .query("SELECT name FROM sqlite_sequence", &[])
        .await
        .unwrap();
    assert_eq!(seq.rows[0][0].as_text(), Some("blog_journal"));
}

#[tokio::test]
async fn what_ddl_may_touch_stays_out_of_reach_of_other_statements() {
    let db = database().await;
    db.execute(
        "CREATE TABLE victim_log (id INTEGER PRIMARY KEY AUTOINCREMENT)",
        &[],
    )
    .await
    .unwrap();
    db.execute("INSERT INTO victim_log DEFAULT VALUES", &[])
        .await
        .unwrap();
    let policy = SharedPolicy::new(careless_policy());
    let mut tx = db.begin().await.unwrap();
    tx.install_authorizer(Arc::new(policy.clone()))
        .await
        .unwrap();
    // With the parser out of the way, no DDL is under way: SQLite's own tables, the temp
    // schema and other modules' tables stay closed, and the refusal says what was refused.
    for (sql, refused) in [
        (
            "UPDATE sqlite_sequence SET seq = 0",
            "write to `sqlite_sequence`",
        ),
        ("SELECT sql FROM temp.sqlite_temp_master", "in `temp`"),
        (
            "ALTER TABLE victim_secrets RENAME TO blog_loot",
            "alter `victim_secrets`",
        ),
        ("DROP TABLE victim_secrets", "drop `victim_secrets`"),
    ] {
        policy.statement_starts(&[]);
        let mut guest = tx.as_guest();
        let error = guest.execute(sql, &[]).await.unwrap_err();
        drop(guest);
        assert!(
            matches!(error, wasmig_db::Error::Denied(_)),
            "{sql}: {error}"
        );
        assert!(error.to_string().contains(refused), "{sql}: {error}");
    }
    tx.rollback().await.unwrap();
    let seq = db
        .query(
            "SELECT seq FROM sqlite_sequence WHERE name = 'victim_log'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(seq.rows[0][0].as_integer(), Some(1));
}
