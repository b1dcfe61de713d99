//! Uses a name that only looks like its own: quoted, in another case, schema-qualified.
use wasmig_guest::{Db, Dialect, Result, params};

fn up(db: &Db) -> Result<()> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "DELETE FROM main.\"Victim_Secrets\"",
        Dialect::Postgres => "DELETE FROM public.\"victim_secrets\"",
        Dialect::Mysql => "DELETE FROM `Victim_Secrets`",
    };
    db.execute(sql, params![])?;
    Ok(())
}

wasmig_guest::migration!(up);
