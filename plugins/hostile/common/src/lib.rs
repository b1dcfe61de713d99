//! What every hostile plugin does when an attack works: keep the loot in a table of its own,
//! where the test finds it, and report success.
use wasmig_guest::{Db, Result, params};

/// A query of ten million rows in every dialect: ten digits crossed seven times.
pub const TEN_MILLION_ROWS: &str = "WITH d(x) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL \
     SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 \
     UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) \
     SELECT 1 FROM d a, d b, d c, d e, d f, d g, d h";

/// Stores `loot` in `evil_loot` and returns `Ok`: the attack succeeded.
pub fn keep(db: &Db, loot: &str) -> Result<()> {
    db.execute("CREATE TABLE evil_loot (loot TEXT)", params![])?;
    db.execute(
        &format!("INSERT INTO evil_loot (loot) VALUES ({})", db.param(1)),
        params![loot],
    )?;
    Ok(())
}
