//! Throw-away databases: a SQLite file, or a database of its own on a server, for checks
//! that must not touch the database being upgraded (`verify --paths`, the bench).
//!
//! On a server, a module's identity (a PostgreSQL role, a MariaDB/MySQL account) is the
//! server's, not the database's: dropping the scratch database also takes away what was
//! granted on it, and drops the identities of the checked modules that did not exist before.

use std::path::Path;

use wasmig_db::{Database, Dialect, Value};

use crate::Result;
use crate::gate::{module_account, module_role};

/// Where scratch databases are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScratchServer {
    /// SQLite files.
    Sqlite,
    /// Databases created (and dropped) on the server of this PostgreSQL or MariaDB/MySQL URL.
    Server(String),
}

/// A new, empty database, dropped by [`ScratchDatabase::drop_database`].
#[derive(Debug)]
pub struct ScratchDatabase {
    /// Its URL.
    pub url: String,
    /// For one made on a server: what to drop.
    made: Option<Made>,
}

/// A database made on a server, and the module identities that did not exist before it.
#[derive(Debug)]
struct Made {
    admin: String,
    name: String,
    new_identities: Vec<String>,
}

impl ScratchDatabase {
    /// Creates database `name` for running `modules`: the SQLite file `dir/name.db`, or a
    /// database of that name on the server (one left over by an earlier run is dropped first).
    pub async fn create(
        server: &ScratchServer,
        dir: &Path,
        name: &str,
        modules: &[&str],
    ) -> Result<Self> {
        let ScratchServer::Server(admin) = server else {
            let file = dir.join(format!("{name}.db"));
            return Ok(ScratchDatabase {
                url: format!("sqlite://{}", file.display()),
                made: None,
            });
        };
        let db = Database::connect(admin).await?;
        revoke_grants_on(&db, name).await?;
        db.execute(&format!("DROP DATABASE IF EXISTS {name}"), &[])
            .await?;
        db.execute(&format!("CREATE DATABASE {name}"), &[]).await?;
        let mut new_identities = Vec::new();
        for module in modules {
            let identity = identity(db.dialect(), module);
            if !identity_exists(&db, &identity).await? {
                new_identities.push(identity);
            }
        }
        db.close().await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Ok(ScratchDatabase {
            url: format!("{base}/{name}"),
            made: Some(Made {
                admin: admin.clone(),
                name: name.to_owned(),
                new_identities,
            }),
        })
    }

    /// Drops the database, what was granted on it, and the identities it brought into being
    /// (a SQLite file is left to its directory's owner). An identity that meanwhile holds
    /// something elsewhere (another run made it too) is kept.
    pub async fn drop_database(self) -> Result<()> {
        let Some(made) = self.made else {
            return Ok(());
        };
        let db = Database::connect(&made.admin).await?;
        revoke_grants_on(&db, &made.name).await?;
        let force = if db.dialect() == Dialect::Postgres {
            " WITH (FORCE)"
        } else {
            ""
        };
        db.execute(
            &format!("DROP DATABASE IF EXISTS {}{force}", made.name),
            &[],
        )
        .await?;
        for identity in &made.new_identities {
            drop_identity(&db, identity).await?;
        }
        db.close().await;
        Ok(())
    }
}

/// A module's role or account name on a server of `dialect`.
fn identity(dialect: Dialect, module: &str) -> String {
    match dialect {
        Dialect::MySql => module_account(module),
        _ => module_role(module),
    }
}

async fn identity_exists(db: &Database, identity: &str) -> Result<bool> {
    let sql = match db.dialect() {
        Dialect::MySql => "SELECT 1 FROM mysql.user WHERE User = ? AND Host = 'localhost'",
        _ => "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
    };
    let rows = db.query(sql, &[identity.into()]).await?;
    Ok(!rows.rows.is_empty())
}

/// Drops `identity` unless something still depends on it: PostgreSQL refuses to drop a role
/// that owns objects or holds privileges in any database; a MariaDB/MySQL account is kept
/// while it holds a privilege on a database, table or routine.
async fn drop_identity(db: &Database, identity: &str) -> Result<()> {
    if db.dialect() != Dialect::MySql {
        let role = Dialect::Postgres.quote(identity);
        if let Err(error) = db
            .execute(&format!("DROP ROLE IF EXISTS {role}"), &[])
            .await
        {
            tracing::info!("kept role {identity}: {error}");
        }
        return Ok(());
    }
    let held = db
        .query(
            "SELECT 1 FROM mysql.db WHERE User = ? UNION ALL \
             SELECT 1 FROM mysql.tables_priv WHERE User = ? UNION ALL \
             SELECT 1 FROM mysql.procs_priv WHERE User = ?",
            &[identity.into(), identity.into(), identity.into()],
        )
        .await?;
    if held.rows.is_empty() {
        let account = format!("'{}'@'localhost'", identity.replace('\'', "''"));
        db.execute(&format!("DROP USER IF EXISTS {account}"), &[])
            .await?;
    }
    Ok(())
}

/// MariaDB/MySQL keep privileges on a database after it is dropped (and give them to the next
/// database of that name): takes back every privilege on database `name`, its tables and its
/// routines. A database-level grant names the database as a pattern (`_` and `%` escaped, or,
/// granted by an earlier version, not): both are taken back, by the name the grant has.
/// PostgreSQL keeps privileges with the objects, which go with the database.
async fn revoke_grants_on(db: &Database, name: &str) -> Result<()> {
    if db.dialect() != Dialect::MySql {
        return Ok(());
    }
    let pattern = wasmig_db::mysql_database_pattern(name);
    let held = db
        .query(
            "SELECT CAST(User AS CHAR), CAST(Host AS CHAR), '', CAST(Db AS CHAR) \
             FROM mysql.db WHERE Db = ? OR Db = ? \
             UNION ALL SELECT CAST(User AS CHAR), CAST(Host AS CHAR), \
             CAST(CONCAT('TABLE ', Table_name) AS CHAR), '' FROM mysql.tables_priv WHERE Db = ? \
             UNION ALL SELECT CAST(User AS CHAR), CAST(Host AS CHAR), \
             CAST(CONCAT(Routine_type, ' ', Routine_name) AS CHAR), '' \
             FROM mysql.procs_priv WHERE Db = ?",
            &[name.into(), pattern.into(), name.into(), name.into()],
        )
        .await?;
    let text = |value: &Value| match value {
        Value::Text(text) => text.clone(),
        other => format!("{other:?}"),
    };
    let database = Dialect::MySql.quote(name);
    for row in &held.rows {
        let account = format!(
            "'{}'@'{}'",
            text(&row[0]).replace('\'', "''"),
            text(&row[1]).replace('\'', "''")
        );
        let on = match text(&row[2]) {
            object if !object.is_empty() => {
                let (kind, object) = object.split_once(' ').unwrap_or(("TABLE", &object));
                let kind = if kind == "TABLE" { "" } else { kind };
                format!("{kind} {database}.{}", Dialect::MySql.quote(object))
            }
            _ => format!("{}.*", Dialect::MySql.quote(&text(&row[3]))),
        };
        db.execute(
            &format!("REVOKE ALL PRIVILEGES ON {on} FROM {account}"),
            &[],
        )
        .await?;
    }
    Ok(())
}
