//! Adds a `status` column and backfills it from the old `published` flag.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute(
        "ALTER TABLE blog_posts ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'draft'",
        params![],
    )?;
    let posts = db.query("SELECT id, published FROM blog_posts", params![])?;
    let update = format!(
        "UPDATE blog_posts SET status = {} WHERE id = {}",
        db.param(1),
        db.param(2)
    );
    for post in posts.iter() {
        let id: i64 = post.get("id")?;
        let status = if post.get::<bool>("published")? {
            "live"
        } else {
            "draft"
        };
        db.execute(&update, params![status, id])?;
    }
    wasmig_guest::info!("backfilled the status of {} posts", posts.len());
    Ok(())
}

wasmig_guest::migration!(up);
