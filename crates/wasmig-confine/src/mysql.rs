//! MariaDB/MySQL: a locked account per module, whose procedure runs the module's statements.
//!
//! The account holds every privilege on the module's tables and views (granted before a
//! statement creates or renames one: the server accepts a grant on a table that does not exist
//! yet), the manifest's grants, and `CREATE, CREATE VIEW` on the database. Grants go through
//! a connection of their own: each commits and flushes the privilege tables.

use wasmig_db::{Database, GuestAccount, Result, Value};

use crate::Grants;

/// Whether wasmig's account may create accounts, grant privileges and name another account
/// as a procedure's definer.
pub(crate) async fn may_create_accounts(db: &Database) -> Result<bool> {
    let rows = db
        .query(
            "SELECT CAST(privilege_type AS CHAR), CAST(is_grantable AS CHAR) \
             FROM information_schema.user_privileges \
             WHERE grantee = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
             SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
            &[],
        )
        .await?
        .rows;
    let text = |row: &Vec<Value>, i: usize| row[i].as_text().unwrap_or_default().to_owned();
    let has = |privilege: &str| {
        rows.iter()
            .any(|r| text(r, 0).eq_ignore_ascii_case(privilege))
    };
    let grantable = rows.iter().any(|r| text(r, 1).eq_ignore_ascii_case("YES"));
    Ok(grantable && has("CREATE USER") && (has("SET USER") || has("SUPER")))
}

/// Creates or updates `name`'s account and procedure, with privileges on what `grants` name;
/// `None` when wasmig's account may not.
pub(crate) async fn confine(
    db: &Database,
    name: &str,
    grants: Grants<'_>,
) -> Result<Option<GuestAccount>> {
    if !may_create_accounts(db).await? {
        return Ok(None);
    }
    let database = database_name(db).await?;
    let guest = GuestAccount::new(name, &database);
    let existing = texts(
        db,
        "SELECT CAST(LOWER(table_name) AS CHAR) FROM information_schema.tables \
         WHERE table_schema = DATABASE()",
        &[],
    )
    .await?;
    let held = Held::read(db, &guest, &database).await?;
    for sql in missing(&guest, &held, grants, &existing) {
        db.execute_unprepared(&sql).await?;
    }
    Ok(Some(guest))
}

/// The statements that give `guest` what `grants` name and it does not hold yet (only what is
/// missing: a grant commits and flushes the privilege tables).
fn missing(
    guest: &GuestAccount,
    held: &Held,
    grants: Grants<'_>,
    existing: &[String],
) -> Vec<String> {
    let (account, database) = (guest.account(), guest.database());
    let mut statements = Vec::new();
    if !held.account {
        statements.push(format!("CREATE USER IF NOT EXISTS {account} ACCOUNT LOCK"));
    }
    if held.on_database_as_wildcard {
        // Granted by an earlier version, unescaped: it matched other databases too.
        statements.push(format!(
            "REVOKE CREATE, CREATE VIEW ON {database}.* FROM {account}"
        ));
    }
    if !held.on_database {
        statements.push(format!(
            "GRANT CREATE, CREATE VIEW ON {}.* TO {account}",
            guest.database_pattern()
        ));
    }
    let exists = |name: &&String| existing.contains(&name.to_lowercase());
    for (names, privileges, telltale) in [
        (grants.owned, "ALL PRIVILEGES", "DROP"),
        (grants.read, "SELECT, REFERENCES", "SELECT"),
        (
            grants.write,
            "SELECT, INSERT, UPDATE, DELETE, REFERENCES",
            "DELETE",
        ),
    ] {
        for table in names.iter().filter(exists) {
            if !held
                .tables
                .contains(&(table.to_lowercase(), telltale.to_owned()))
            {
                statements.push(format!(
                    "GRANT {privileges} ON {database}.{} TO {account}",
                    wasmig_db::Dialect::MySql.quote(table)
                ));
            }
        }
    }
    if !held.procedure {
        statements.push(guest.procedure_definition());
        statements.push(format!(
            "GRANT EXECUTE ON PROCEDURE {} TO {account}",
            guest.procedure()
        ));
    }
    statements
}

/// Gives the account every privilege on `table` (`owned`), or only `CREATE, REFERENCES` (the
/// server accepts a grant on a missing table only with `CREATE` in it).
pub(crate) async fn grant_new(
    db: &Database,
    guest: &GuestAccount,
    table: &str,
    owned: bool,
) -> Result<()> {
    let privileges = if owned {
        "ALL PRIVILEGES"
    } else {
        "CREATE, REFERENCES"
    };
    let sql = format!(
        "GRANT {privileges} ON {}.{} TO {}",
        guest.database(),
        wasmig_db::Dialect::MySql.quote(table),
        guest.account()
    );
    db.execute_unprepared(&sql).await
}

/// The connection's database, unquoted.
async fn database_name(db: &Database) -> Result<String> {
    let database = texts(db, "SELECT CAST(DATABASE() AS CHAR)", &[]).await?;
    Ok(database.into_iter().next().unwrap_or_default())
}

/// The first column of every row of a query, as text.
async fn texts(db: &Database, sql: &str, params: &[Value]) -> Result<Vec<String>> {
    let rows = db.query(sql, params).await?.rows;
    Ok(rows
        .iter()
        .filter_map(|r| r.first().and_then(Value::as_text).map(str::to_owned))
        .collect())
}

/// What the account already has.
struct Held {
    account: bool,
    /// `CREATE VIEW` on the database, escaped (see [`GuestAccount::database_pattern`]).
    on_database: bool,
    /// The same grant with the database's `_` or `%` unescaped (wildcards).
    on_database_as_wildcard: bool,
    procedure: bool,
    /// (table, privilege), lower-cased.
    tables: Vec<(String, String)>,
}

impl Held {
    /// What `guest` holds in `database` (unquoted).
    async fn read(db: &Database, guest: &GuestAccount, database: &str) -> Result<Held> {
        let grantee = Value::Text(guest.grantee());
        let count = |sql: &'static str, param: Value| async move {
            let rows = db.query(sql, &[param]).await?.rows;
            Ok::<_, wasmig_db::Error>(rows.first().and_then(|r| r[0].as_integer()) > Some(0))
        };
        let account = count(
            "SELECT COUNT(*) FROM information_schema.user_privileges WHERE grantee = ?",
            grantee.clone(),
        )
        .await?;
        // Both spellings in one read: the grant as made now (escaped), and an unescaped one
        // an earlier version left.
        let pattern = guest.database_pattern_unquoted();
        let schemas = texts(
            db,
            "SELECT CAST(table_schema AS CHAR) FROM information_schema.schema_privileges \
             WHERE grantee = ? AND privilege_type = 'CREATE VIEW' AND table_schema IN (?, ?)",
            &[grantee.clone(), pattern.into(), database.into()],
        )
        .await?;
        let on_database = schemas.iter().any(|s| s == pattern);
        let on_database_as_wildcard = database != pattern && schemas.iter().any(|s| s == database);
        // One made in a mode that reads statements otherwise is made again.
        let procedure = count(
            "SELECT COUNT(*) FROM information_schema.routines \
             WHERE routine_schema = DATABASE() AND routine_name = ? \
             AND FIND_IN_SET('NO_BACKSLASH_ESCAPES', sql_mode) = 0 \
             AND FIND_IN_SET('ANSI_QUOTES', sql_mode) = 0",
            Value::Text(guest.procedure_name().to_owned()),
        )
        .await?;
        let tables = db
            .query(
                "SELECT CAST(LOWER(table_name) AS CHAR), CAST(privilege_type AS CHAR) \
                 FROM information_schema.table_privileges \
                 WHERE grantee = ? AND table_schema = DATABASE()",
                &[grantee],
            )
            .await?
            .rows
            .iter()
            .filter_map(|r| Some((r[0].as_text()?.to_owned(), r[1].as_text()?.to_owned())))
            .collect();
        Ok(Held {
            account,
            on_database,
            on_database_as_wildcard,
            procedure,
            tables,
        })
    }
}
