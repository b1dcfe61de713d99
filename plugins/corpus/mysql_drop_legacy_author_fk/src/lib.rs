//! Step 024 of the MySQL corpus: drops the auto-named foreign key `comments_ibfk_2` only
//! where an older release created it. The application decides this with dynamic SQL
//! (`SET @x = IF(…)`, `PREPARE`, `EXECUTE`), which wasmig refuses; a component asks the
//! catalog and sends the one statement it decided on.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let existing: i64 = db.query_scalar(
        "SELECT COUNT(*) FROM information_schema.table_constraints \
         WHERE constraint_schema = DATABASE() AND table_name = 'comments' \
         AND constraint_name = 'comments_ibfk_2' AND constraint_type = 'FOREIGN KEY'",
        params![],
    )?;
    if existing > 0 {
        db.execute(
            "ALTER TABLE comments DROP FOREIGN KEY comments_ibfk_2",
            params![],
        )?;
        wasmig_guest::info!("dropped the legacy foreign key comments_ibfk_2");
    }
    Ok(())
}

wasmig_guest::migration!(up);
