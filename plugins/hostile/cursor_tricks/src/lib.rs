//! Tries to write, or to read another module's table, through a cursor. The ways of writing
//! must each be refused without running; the read is denied and stops the step.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let writes = [
        "DELETE FROM victim_secrets",
        "WITH gone AS (DELETE FROM victim_secrets RETURNING secret) SELECT secret FROM gone",
        "SELECT 1; DELETE FROM victim_secrets",
        "SELECT secret INTO evil_copy FROM victim_secrets",
    ];
    for sql in writes {
        if let Ok(rows) = db.query_iter(sql, params![]) {
            let read = rows.count();
            return hostile::keep(db, &format!("a cursor ran `{sql}` ({read} rows)"));
        }
    }
    let mut rows = db.query_iter("SELECT secret FROM victim_secrets", params![])?;
    let stolen: String = match rows.next() {
        Some(row) => row?.get(0)?,
        None => return Err("no secret".into()),
    };
    hostile::keep(db, &stolen)
}

wasmig_guest::migration!(up);
