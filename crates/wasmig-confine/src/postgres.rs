//! PostgreSQL: a `NOLOGIN` role per module that owns the module's relations.

use std::collections::BTreeMap;

use wasmig_db::{Database, Dialect, Result, Transaction, Value};

use crate::Grants;

/// Whether wasmig's account is a superuser and whether it may create roles.
const RIGHTS: &str = "SELECT rolsuper::int4, rolcreaterole::int4 FROM pg_catalog.pg_roles \
                      WHERE rolname = current_user";

/// Whether wasmig's account may create roles (superuser or `CREATEROLE`).
pub(crate) async fn may_create_roles(db: &Database) -> Result<bool> {
    Ok(rights(&db.query(RIGHTS, &[]).await?.rows).is_some())
}

/// `Some(superuser)` when the account described by `rows` (of [`RIGHTS`]) may create roles.
fn rights(rows: &[Vec<Value>]) -> Option<bool> {
    let row = rows.first()?;
    let yes = |i: usize| row.get(i) == Some(&Value::Integer(1));
    (yes(0) || yes(1)).then_some(yes(0))
}

/// Sets up `role` for a module's guest statements: creates it, hands the module's relations
/// over to it and grants it the manifest's grants. False when wasmig's account may not.
pub(crate) async fn confine(
    tx: &mut Transaction,
    db: &Database,
    role: &str,
    grants: Grants<'_>,
) -> Result<bool> {
    let Some(superuser) = rights(&tx.query(RIGHTS, &[]).await?.rows) else {
        return Ok(false);
    };
    let quoted = Dialect::Postgres.quote(role);
    create_role(tx, db, &quoted, superuser).await?;
    let relations = hand_over(tx, role, grants.owned).await?;
    grant(tx, &quoted, grants, &relations).await?;
    Ok(true)
}

/// Creates the module's role (outside the step's transaction, tolerating a concurrent
/// creator), lets wasmig's account switch to it, and lets it use and create in the schema.
async fn create_role(
    tx: &mut Transaction,
    db: &Database,
    quoted: &str,
    superuser: bool,
) -> Result<()> {
    db.execute(
        &format!(
            "DO $$ BEGIN CREATE ROLE {quoted} NOLOGIN; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ),
        &[],
    )
    .await?;
    if !superuser {
        tx.execute(&format!("GRANT {quoted} TO current_user"), &[])
            .await?;
    }
    let schema = tx
        .query("SELECT current_schema()::text", &[])
        .await?
        .rows
        .first()
        .and_then(|r| r[0].as_text().map(str::to_owned))
        .unwrap_or_else(|| "public".to_owned());
    let schema = Dialect::Postgres.quote(&schema);
    tx.execute(
        &format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {quoted}"),
        &[],
    )
    .await?;
    Ok(())
}

/// The schema's relations by name (kind, owner), after handing the module's own over to its
/// role (objects created under the role already are its).
async fn hand_over(
    tx: &mut Transaction,
    role: &str,
    owned: &[String],
) -> Result<BTreeMap<String, (String, String)>> {
    let existing = tx
        .query(
            "SELECT c.relname::text, c.relkind::text, pg_get_userbyid(c.relowner)::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'p', 'm', 'S')",
            &[],
        )
        .await?;
    let mut relations = BTreeMap::new();
    for row in &existing.rows {
        if let (Some(name), Some(kind), Some(owner)) =
            (row[0].as_text(), row[1].as_text(), row[2].as_text())
        {
            relations.insert(name.to_owned(), (kind.to_owned(), owner.to_owned()));
        }
    }
    for name in owned {
        if let Some((kind, owner)) = relations.get(name)
            && owner != role
        {
            let what = match kind.as_str() {
                "v" => "VIEW",
                "m" => "MATERIALIZED VIEW",
                "S" => "SEQUENCE",
                _ => "TABLE",
            };
            let (name, role) = (Dialect::Postgres.quote(name), Dialect::Postgres.quote(role));
            tx.execute(&format!("ALTER {what} {name} OWNER TO {role}"), &[])
                .await?;
        }
    }
    Ok(relations)
}

/// Grants the role what the module's manifest grants, on the relations that exist, and the
/// sequences behind the `serial` columns of what it may write.
async fn grant(
    tx: &mut Transaction,
    quoted: &str,
    grants: Grants<'_>,
    relations: &BTreeMap<String, (String, String)>,
) -> Result<()> {
    for (names, privileges) in [
        (grants.read, "SELECT, REFERENCES"),
        (grants.write, "SELECT, INSERT, UPDATE, DELETE, REFERENCES"),
    ] {
        for name in names.iter().filter(|n| relations.contains_key(*n)) {
            let name = Dialect::Postgres.quote(name);
            tx.execute(&format!("GRANT {privileges} ON {name} TO {quoted}"), &[])
                .await?;
        }
    }
    // Writing rows may draw keys from the sequences behind `serial` columns.
    for name in grants.write.iter().filter(|n| relations.contains_key(*n)) {
        let sequences = tx
            .query(
                "SELECT pg_get_serial_sequence(quote_ident($1), a.attname)::text \
                 FROM pg_attribute a \
                 WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0 \
                 AND NOT a.attisdropped",
                &[Value::Text(name.clone())],
            )
            .await?;
        // `pg_get_serial_sequence` returns the name already quoted and qualified.
        for sequence in sequences.rows.iter().filter_map(|r| r[0].as_text()) {
            tx.execute(
                &format!("GRANT USAGE ON SEQUENCE {sequence} TO {quoted}"),
                &[],
            )
            .await?;
        }
    }
    Ok(())
}
