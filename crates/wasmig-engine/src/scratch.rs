//! Throw-away databases: a SQLite file, or a database of its own on a server, for checks
//! that must not touch the database being upgraded (`verify --paths`, the bench).

use std::path::Path;

use wasmig_db::{Database, Dialect};

use crate::Result;

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
    /// The server's URL and the database's name, for one made on a server.
    made: Option<(String, String)>,
}

impl ScratchDatabase {
    /// Creates database `name`: the SQLite file `dir/name.db`, or a database of that name on
    /// the server (one left over by an earlier run is dropped first).
    pub async fn create(server: &ScratchServer, dir: &Path, name: &str) -> Result<Self> {
        let ScratchServer::Server(admin) = server else {
            let file = dir.join(format!("{name}.db"));
            return Ok(ScratchDatabase {
                url: format!("sqlite://{}", file.display()),
                made: None,
            });
        };
        let db = Database::connect(admin).await?;
        db.execute(&format!("DROP DATABASE IF EXISTS {name}"), &[])
            .await?;
        db.execute(&format!("CREATE DATABASE {name}"), &[]).await?;
        db.close().await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Ok(ScratchDatabase {
            url: format!("{base}/{name}"),
            made: Some((admin.clone(), name.to_owned())),
        })
    }

    /// Drops the database (a SQLite file is left to its directory's owner).
    pub async fn drop_database(self) -> Result<()> {
        if let Some((admin, name)) = self.made {
            let db = Database::connect(&admin).await?;
            let force = if db.dialect() == Dialect::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            };
            db.execute(&format!("DROP DATABASE IF EXISTS {name}{force}"), &[])
                .await?;
            db.close().await;
        }
        Ok(())
    }
}
