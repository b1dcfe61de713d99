//! Throw-away databases: a SQLite file, or a database of its own on a server (the engine's
//! [`ScratchDatabase`]).

use std::sync::atomic::{AtomicU32, Ordering};

use wasmig_engine::{Database, ScratchDatabase, ScratchServer};

/// A database server (or SQLite) that scratch databases are made on.
pub struct Server {
    server: ScratchServer,
    /// `sqlite`, `postgres` or `mariadb`.
    pub name: &'static str,
}

/// A fresh, empty database, dropped by [`Scratch::drop_database`].
pub struct Scratch {
    /// Its URL.
    pub url: String,
    database: ScratchDatabase,
    /// The directory of a SQLite file (removed with it).
    _dir: tempfile::TempDir,
}

impl Server {
    /// SQLite files in temporary directories.
    pub fn sqlite() -> Self {
        Server {
            server: ScratchServer::Sqlite,
            name: "sqlite",
        }
    }

    /// The server of `url`, when it answers.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let db = Database::connect(url).await?;
        db.query("SELECT 1", &[]).await?;
        db.close().await;
        let name = if url.starts_with("postgres") {
            "postgres"
        } else {
            "mariadb"
        };
        Ok(Server {
            server: ScratchServer::Server(url.to_owned()),
            name,
        })
    }

    /// True for SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.server == ScratchServer::Sqlite
    }

    /// A new empty database.
    pub async fn scratch(&self) -> anyhow::Result<Scratch> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "wasmig_bench_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::tempdir()?;
        let database = ScratchDatabase::create(&self.server, dir.path(), &name, &[]).await?;
        Ok(Scratch {
            url: database.url.clone(),
            database,
            _dir: dir,
        })
    }
}

impl Scratch {
    /// Drops the database (a SQLite file goes with its directory).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        self.database.drop_database().await?;
        Ok(())
    }
}
