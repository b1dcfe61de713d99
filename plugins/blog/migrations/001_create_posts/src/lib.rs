//! Creates the blog's tables and a first post.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute(
        "CREATE TABLE blog_posts (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            published INTEGER NOT NULL DEFAULT 0
        )",
        params![],
    )?;
    db.execute_batch(
        "INSERT INTO blog_posts (title, body, published) VALUES (?, ?, ?)",
        &[
            vec!["Hello".into(), "First post.".into(), true.into()],
            vec!["Draft".into(), "Not yet.".into(), false.into()],
        ],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
