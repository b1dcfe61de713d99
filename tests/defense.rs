//! Defense in depth on PostgreSQL: a guest statement runs as a role of the module's own, so
//! the server refuses what the SQL policy would have let through by mistake.

use wasmig_tests::{Backend, Sandbox};

#[tokio::test]
async fn a_guest_role_owns_the_modules_tables_and_nothing_else() {
    let sandbox = Sandbox::new(Backend::Postgres).await;
    for sql in [
        "CREATE TABLE blog_posts (id INTEGER)",
        "CREATE TABLE victim_secrets (secret TEXT)",
        "INSERT INTO victim_secrets VALUES ('s3cr3t')",
    ] {
        sandbox.sql(sql).await;
    }
    let db = sandbox.database().await;
    let mut tx = db.begin().await.unwrap();
    let owned = [("blog_posts".to_owned(), "table".to_owned())];
    assert!(
        tx.confine_guest(&db, "wasmig_m_blog", &owned, &[], &[])
            .await
            .unwrap(),
        "the test server's account may create roles"
    );

    // As if the parser had let these through: the server has the last word.
    tx.set_guest(true);
    let error = tx
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
    tx.rollback().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    tx.confine_guest(&db, "wasmig_m_blog", &owned, &[], &[])
        .await
        .unwrap();
    tx.set_guest(true);
    tx.execute("INSERT INTO blog_posts VALUES (1)", &[])
        .await
        .expect("its own table");
    tx.execute("CREATE TABLE blog_more (id INTEGER)", &[])
        .await
        .expect("a new table");
    let error = tx
        .execute("DROP TABLE victim_secrets", &[])
        .await
        .unwrap_err();
    assert!(matches!(error, wasmig_db::Error::Denied(_)), "{error}");
    tx.rollback().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    tx.confine_guest(&db, "wasmig_m_blog", &owned, &[], &[])
        .await
        .unwrap();
    tx.set_guest(true);
    tx.execute("CREATE TABLE blog_more (id INTEGER)", &[])
        .await
        .unwrap();
    tx.set_guest(false);
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
