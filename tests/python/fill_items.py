"""A Python step: fills `<module>_items` and reads the rows back every way the SDK has."""
import wasmig


def up(db: wasmig.Db) -> None:
    items = db.context.module + "_items"
    p = db.param
    rows = [[i, f"item {i}"] for i in range(1, 1201)]
    added = db.execute_batch(f"INSERT INTO {items} (id, title) VALUES ({p(1)}, {p(2)})", rows)
    if added != 1200:
        raise wasmig.Error(f"added {added} rows")
    whole = db.query(f"SELECT id, title FROM {items} ORDER BY id")
    paged = list(db.query_iter(f"SELECT id, title FROM {items} ORDER BY id"))
    if [r.values() for r in whole] != [r.values() for r in paged]:
        raise wasmig.Error("the cursor and the query disagree")
    db.execute(f"UPDATE {items} SET title = {p(1)} WHERE id = {p(2)}", [whole[0]["TITLE"] + "!", 1])
    # A duplicate key fails without failing the step (in a savepoint on PostgreSQL).
    if db.execute_tolerant(f"INSERT INTO {items} (id, title) VALUES (1, 'duplicate')") is not None:
        raise wasmig.Error("a duplicate key went through")
    # A call the host refuses before the database sees it raises a DatabaseError.
    try:
        next(db.query_iter(f"DELETE FROM {items}"))
    except wasmig.DatabaseError as refused:
        wasmig.info(f"{db.context.step}: refused as expected ({refused.kind})")
    else:
        raise wasmig.Error("a cursor ran a DELETE")
    count = db.query_scalar(f"SELECT COUNT(*) FROM {items}")
    wasmig.info(f"{count} items in {db.dialect}")
