//! Builds its schema with the SDK's idempotent helpers, then fails unless the table `flag` has
//! a row: on MySQL its resume must answer the catalog checks as they were first answered.
use wasmig_guest::{Db, Error, Result, params};

fn up(db: &Db) -> Result<()> {
    let table = format!("{}_items", db.context().module);
    db.create_table_if_missing(&table, "id INTEGER")?;
    db.add_column_if_missing(&table, "rating", "INTEGER")?;
    db.create_index_if_missing(&table, &format!("{table}_rating"), "rating")?;
    let flags: i64 = db.query_scalar("SELECT COUNT(*) FROM flag", params![])?;
    if flags == 0 {
        return Err(Error::msg("the flag is not set"));
    }
    db.execute(
        &format!("INSERT INTO {table} (id, rating) VALUES (1, 5)"),
        params![],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
