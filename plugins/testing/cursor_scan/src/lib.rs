//! Scans `<module>_items` with a cursor while writing every row it reads into
//! `<module>_copy`, and checks the cursor against `query` of the same rows.
use wasmig_guest::{Db, Result, Value, params};

/// Rows scanned: several of the SDK's pages (500) and of PostgreSQL's fetches (1,000).
const ROWS: i64 = 2_345;

fn up(db: &Db) -> Result<()> {
    let module = &db.context().module;
    let (items, copy) = (format!("{module}_items"), format!("{module}_copy"));
    for table in [&items, &copy] {
        db.execute(
            &format!(
                "CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(40), \
                 score DOUBLE PRECISION, note VARCHAR(40))"
            ),
            params![],
        )?;
    }
    let placeholders = (1..=4).map(|n| db.param(n)).collect::<Vec<_>>().join(", ");
    let rows: Vec<Vec<Value>> = (0..ROWS).map(item).collect();
    db.execute_batch(
        &format!("INSERT INTO {items} (id, name, score, note) VALUES ({placeholders})"),
        &rows,
    )?;
    let select = format!("SELECT id, name, score, note FROM {items} ORDER BY id");
    let whole = db.query(&select, params![])?;
    let cursor = db.query_iter(&select, params![])?;
    if cursor.columns() != whole.columns() {
        return Err(format!("columns {:?} vs {:?}", cursor.columns(), whole.columns()).into());
    }
    let insert = format!("INSERT INTO {copy} (id, name, score, note) VALUES ({placeholders})");
    let mut expected = whole.iter();
    let mut read = 0;
    for row in cursor {
        let row = row?;
        match expected.next() {
            Some(want) if want.values() == row.values() => {}
            want => return Err(format!("row {read}: {:?} vs {want:?}", row.values()).into()),
        }
        // A write while the cursor is open, on the same connection.
        db.execute(&insert, row.values())?;
        read += 1;
    }
    if read != ROWS {
        return Err(format!("the cursor gave {read} rows of {ROWS}").into());
    }
    edges(db, &items, &select)
}

/// A cursor left half-read, an empty one, and one over a statement that writes.
fn edges(db: &Db, items: &str, select: &str) -> Result<()> {
    let mut early = db.query_iter(select, params![])?;
    early.next().transpose()?;
    drop(early);
    let empty = db.query_iter(
        &format!("SELECT id, name FROM {items} WHERE id < 0"),
        params![],
    )?;
    let columns: Vec<String> = empty.columns().iter().map(|c| c.to_lowercase()).collect();
    if columns != ["id", "name"] || empty.count() != 0 {
        return Err(format!("an empty cursor: columns {columns:?}").into());
    }
    match db.query_iter(&format!("DELETE FROM {items}"), params![]) {
        Err(e)
            if e.to_string()
                .contains("a cursor reads the rows of one query") => {}
        Err(e) => return Err(format!("a cursor over DELETE failed another way: {e}").into()),
        Ok(_) => return Err("a cursor opened over DELETE".into()),
    }
    let left: i64 = db.query_scalar(&format!("SELECT COUNT(*) FROM {items}"), params![])?;
    if left != ROWS {
        return Err(format!("{left} rows left after the refused DELETE").into());
    }
    Ok(())
}

/// Row `i`: NULLs, quotes and reals among them.
fn item(i: i64) -> Vec<Value> {
    let note = if i % 7 == 0 {
        Value::Null
    } else {
        Value::from(format!("it's #{i}"))
    };
    vec![
        Value::from(i),
        Value::from(format!("item {i}")),
        Value::Real(i as f64 / 8.0),
        note,
    ]
}

wasmig_guest::migration!(up);
