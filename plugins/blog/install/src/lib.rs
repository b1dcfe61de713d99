//! Creates the blog's latest schema in one step, on a database where it was never installed.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute(
        "CREATE TABLE blog_posts (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            published INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'draft'
        )",
        params![],
    )?;
    db.execute(
        "CREATE INDEX blog_posts_status ON blog_posts (status)",
        params![],
    )?;
    db.execute(
        "INSERT INTO blog_posts (title, body, published, status) VALUES (?, ?, ?, ?)",
        params!["Hello", "First post.", true, "live"],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
