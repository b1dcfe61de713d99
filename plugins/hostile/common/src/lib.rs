//! What every hostile plugin does when an attack works: keep the loot in a table of its own,
//! where the test finds it, and report success.
use wasmig_guest::{Db, Result, params};

/// Stores `loot` in `evil_loot` and returns `Ok`: the attack succeeded.
pub fn keep(db: &Db, loot: &str) -> Result<()> {
    db.execute("CREATE TABLE evil_loot (loot TEXT)", params![])?;
    db.execute(
        &format!("INSERT INTO evil_loot (loot) VALUES ({})", db.param(1)),
        params![loot],
    )?;
    Ok(())
}
