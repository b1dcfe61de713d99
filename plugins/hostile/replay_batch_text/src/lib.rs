//! Sends, as a statement of its own, the text the host writes for a batch through a
//! MariaDB/MySQL module account, whose parameters are the session variables `@wasmig_p…`:
//! had the host's verdict on its own text let the guest's through, the guest could read
//! variables it did not set (another statement's parameters, another module's).
use wasmig_guest::{Db, Result, Value, params};

fn up(db: &Db) -> Result<()> {
    db.execute("CREATE TABLE evil_rows (x VARCHAR(20))", params![])?;
    let rows: Vec<Vec<Value>> = (0..100).map(|i| vec![format!("row {i}").into()]).collect();
    let insert = format!("INSERT INTO evil_rows (x) VALUES ({})", db.param(1));
    db.execute_batch(&insert, &rows)?;
    let tuples: Vec<String> = (1..=100).map(|n| format!("(@wasmig_p{n})")).collect();
    let replay = format!("INSERT INTO evil_rows (x) VALUES {}", tuples.join(", "));
    db.execute(&replay, params![])?;
    Ok(())
}

wasmig_guest::migration!(up);
