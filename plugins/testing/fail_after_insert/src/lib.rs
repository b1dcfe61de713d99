//! Adds a post to the blog, then fails: only data changed, so every database rolls it back.
use wasmig_guest::{Db, Error, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute(
        "INSERT INTO blog_posts (title, body) VALUES ('Ghost', 'Never seen.')",
        params![],
    )?;
    Err(Error::msg("failing after an insert"))
}

wasmig_guest::migration!(up);
