//! The second layer: SQLite's authorizer refuses what the parser let through.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmig_db::{Database, Dialect};
use wasmig_guard::authorizer::SharedPolicy;
use wasmig_guard::{Catalog, Checks, Grants, Policy};

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
        &Catalog { objects },
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
    tx.set_guest(true);
    let error = tx.query(sneaky, &[]).await.unwrap_err();
    assert!(matches!(error, wasmig_db::Error::Denied(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("access to victim_secrets.secret is prohibited"),
        "{error}"
    );
    // The module's own table stays usable, and so does the host between guest statements.
    tx.query("SELECT title FROM blog_posts", &[]).await.unwrap();
    tx.execute("CREATE INDEX blog_posts_title ON blog_posts (title)", &[])
        .await
        .expect("an index on an owned table");
    tx.set_guest(false);
    tx.query(sneaky, &[])
        .await
        .expect("the host reads what it likes");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn attach_pragmas_temp_objects_and_trigger_bodies_are_refused_by_sqlite() {
    let db = database().await;
    let policy = SharedPolicy::new(careless_policy());
    let mut tx = db.begin().await.unwrap();
    tx.install_authorizer(Arc::new(policy)).await.unwrap();
    tx.set_guest(true);
    for sql in [
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA writable_schema = ON",
        "CREATE TEMP TABLE blog_tmp (id INTEGER)",
        "DELETE FROM victim_secrets",
        "DROP TABLE victim_secrets",
        "SELECT load_extension('evil')",
    ] {
        let error = tx.execute(sql, &[]).await.unwrap_err();
        assert!(
            matches!(error, wasmig_db::Error::Denied(_)),
            "{sql}: {error}"
        );
    }
    // A trigger body that writes another module's table: created by a careless parser, it is
    // refused when the statement that fires it compiles.
    tx.execute(
        "CREATE TRIGGER blog_spy AFTER INSERT ON blog_posts BEGIN DELETE FROM victim_secrets; END",
        &[],
    )
    .await
    .expect("creating a trigger on an owned table is allowed");
    let error = tx
        .execute("INSERT INTO blog_posts (title) VALUES ('x')", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, wasmig_db::Error::Denied(_)), "{error}");
    tx.rollback().await.unwrap();
    let left = db
        .query("SELECT COUNT(*) FROM victim_secrets", &[])
        .await
        .unwrap();
    assert_eq!(left.rows[0][0].as_integer(), Some(1));
}
