//! Indexes posts by status, for the listing page.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute(
        "CREATE INDEX blog_posts_status ON blog_posts (status)",
        params![],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
