//! MariaDB/MySQL: a module's statements run with the rights of an account of its own, so that
//! the server refuses what the SQL policy might miss.
//!
//! The account (`wasmig_m_<module>`@`localhost`) is locked: nobody logs in with it, so there is
//! no password to make or keep. It holds every privilege on the module's tables and views
//! (granted before a statement creates or renames one: the server accepts a grant on a table
//! that does not exist yet), the manifest's grants, and `CREATE, CREATE VIEW` on the database.
//! Each guest statement is handed to a `SQL SECURITY DEFINER` procedure of that account, which
//! prepares and executes it: it runs with the account's rights, inside the step's transaction
//! on the host's own connection (so that the journal stays atomic with what the step writes).
//! Views and triggers a step creates get the account as their definer, so their bodies run
//! with its rights later too.

use sqlx::{AssertSqlSafe, MySqlPool};

use crate::{Result, Value};

/// The most parameters a guest statement may bind here (the procedure's `USING` lists).
pub(crate) const MAX_PARAMS: usize = 64;

/// A module's account and the procedure that runs its statements.
#[derive(Debug, Clone)]
pub(crate) struct GuestAccount {
    /// `'name'@'localhost'`.
    account: String,
    /// `` `database`.`procedure` ``.
    procedure: String,
    /// `` `database` ``.
    database: String,
}

/// True when wasmig's account may create accounts, grant privileges and name another account
/// as a procedure's definer.
pub(crate) async fn may_confine(pool: &MySqlPool) -> Result<bool> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(privilege_type AS CHAR), CAST(is_grantable AS CHAR) \
         FROM information_schema.user_privileges \
         WHERE grantee = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
         SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
    )
    .fetch_all(pool)
    .await?;
    let has = |privilege: &str| rows.iter().any(|(p, _)| p.eq_ignore_ascii_case(privilege));
    let grantable = rows.iter().any(|(_, g)| g.eq_ignore_ascii_case("YES"));
    Ok(grantable && has("CREATE USER") && (has("SET USER") || has("SUPER")))
}

/// Creates or updates `name`'s account and procedure, with privileges on `owned` (tables and
/// views), `read` and `write`; `None` when wasmig's account may not.
pub(crate) async fn confine(
    pool: &MySqlPool,
    name: &str,
    owned: &[String],
    read: &[String],
    write: &[String],
) -> Result<Option<GuestAccount>> {
    if !may_confine(pool).await? {
        return Ok(None);
    }
    let database: String = sqlx::query_scalar("SELECT CAST(DATABASE() AS CHAR)")
        .fetch_one(pool)
        .await?;
    let database = quote(&database);
    let account = format!("'{}'@'localhost'", name.replace('\'', "''"));
    let procedure = format!("{database}.{}", quote(&procedure_name(name)));
    let guest = GuestAccount {
        account,
        procedure,
        database,
    };
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(LOWER(table_name) AS CHAR) FROM information_schema.tables \
         WHERE table_schema = DATABASE()",
    )
    .fetch_all(pool)
    .await?;
    let held = Held::read(pool, &guest).await?;
    let exists = |name: &&String| existing.contains(&name.to_lowercase());
    let (account, database) = (&guest.account, &guest.database);
    // Only what is missing: a grant commits and flushes the privilege tables.
    let mut statements = Vec::new();
    if !held.account {
        statements.push(format!("CREATE USER IF NOT EXISTS {account} ACCOUNT LOCK"));
    }
    if !held.on_database {
        statements.push(format!(
            "GRANT CREATE, CREATE VIEW ON {database}.* TO {account}"
        ));
    }
    for (names, privileges, telltale) in [
        (owned, "ALL PRIVILEGES", "DROP"),
        (read, "SELECT, REFERENCES", "SELECT"),
        (
            write,
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
                    quote(table)
                ));
            }
        }
    }
    if !held.procedure {
        statements.push(procedure_text(&guest));
        statements.push(format!(
            "GRANT EXECUTE ON PROCEDURE {} TO {account}",
            guest.procedure
        ));
    }
    for sql in statements {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await?;
    }
    Ok(Some(guest))
}

/// Gives the account every privilege on `table` before a statement creates it (or renames
/// something to it), or (`owned` false) lets it refer to a table that does not exist yet (the
/// server accepts a grant on a missing table only with `CREATE` in it).
pub(crate) async fn grant_new(
    pool: &MySqlPool,
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
        guest.database,
        quote(table),
        guest.account
    );
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await?;
    Ok(())
}

/// The statements that run `sql` with `params` as the account: the parameters into session
/// variables, then the procedure.
pub(crate) fn calls(guest: &GuestAccount, sql: &str, params: &[Value]) -> Result<Vec<Call>> {
    if params.len() > MAX_PARAMS {
        return Err(crate::Error::Quota(format!(
            "a statement may bind at most {MAX_PARAMS} parameters here"
        )));
    }
    let mut calls = Vec::new();
    if !params.is_empty() {
        let variables: Vec<String> = (1..=params.len())
            .map(|i| format!("@wasmig_p{i} = ?"))
            .collect();
        calls.push(Call {
            sql: format!("SET {}", variables.join(", ")),
            params: params.to_vec(),
        });
    }
    calls.push(Call {
        sql: format!("CALL {}(?, {})", guest.procedure, params.len()),
        params: vec![Value::Text(sql.to_owned())],
    });
    Ok(calls)
}

/// One statement sent for the guest.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

/// The procedure of account `name`; the version changes with its text, so that a host with
/// another text makes its own.
fn procedure_name(name: &str) -> String {
    format!("wasmig_guest_v1_{name}")
}

/// What the account already has.
struct Held {
    account: bool,
    on_database: bool,
    procedure: bool,
    /// (table, privilege), lower-cased.
    tables: Vec<(String, String)>,
}

impl Held {
    async fn read(pool: &MySqlPool, guest: &GuestAccount) -> Result<Held> {
        let grantee = guest.account.replace("''", "'");
        let account: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.user_privileges WHERE grantee = ?",
        )
        .bind(&grantee)
        .fetch_one(pool)
        .await?;
        let on_database: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.schema_privileges \
             WHERE grantee = ? AND table_schema = DATABASE() AND privilege_type = 'CREATE VIEW'",
        )
        .bind(&grantee)
        .fetch_one(pool)
        .await?;
        let procedure_name = guest.procedure.rsplit('.').next().unwrap_or_default();
        let procedure: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.routines \
             WHERE routine_schema = DATABASE() AND routine_name = ?",
        )
        .bind(procedure_name.trim_matches('`'))
        .fetch_one(pool)
        .await?;
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT CAST(LOWER(table_name) AS CHAR), CAST(privilege_type AS CHAR) \
             FROM information_schema.table_privileges \
             WHERE grantee = ? AND table_schema = DATABASE()",
        )
        .bind(&grantee)
        .fetch_all(pool)
        .await?;
        Ok(Held {
            account: account > 0,
            on_database: on_database > 0,
            procedure: procedure > 0,
            tables,
        })
    }
}

/// The procedure: prepares the statement it is given and executes it with the session
/// variables `@wasmig_p1…` as its parameters.
fn procedure_text(guest: &GuestAccount) -> String {
    let mut cases = String::from("WHEN 0 THEN EXECUTE wasmig_guest;\n");
    for n in 1..=MAX_PARAMS {
        let using: Vec<String> = (1..=n).map(|i| format!("@wasmig_p{i}")).collect();
        cases.push_str(&format!(
            "WHEN {n} THEN EXECUTE wasmig_guest USING {};\n",
            using.join(", ")
        ));
    }
    format!(
        "CREATE OR REPLACE DEFINER = {} PROCEDURE {}(IN wasmig_statement LONGTEXT, \
         IN wasmig_params INT) SQL SECURITY DEFINER\nBEGIN\n\
         SET @wasmig_statement = wasmig_statement;\n\
         PREPARE wasmig_guest FROM @wasmig_statement;\n\
         CASE wasmig_params\n{cases}END CASE;\nEND",
        guest.account, guest.procedure
    )
}

/// `name` as a MySQL identifier.
fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}
