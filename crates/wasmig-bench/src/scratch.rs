//! Throw-away databases: a SQLite file, or a database of its own on a server.

use std::sync::atomic::{AtomicU32, Ordering};

use wasmig_engine::Database;

/// A database server (or SQLite) that scratch databases are made on.
pub struct Server {
    /// The URL of a database on it; `None` for SQLite.
    admin: Option<String>,
    /// `sqlite`, `postgres` or `mariadb`.
    pub name: &'static str,
}

/// A fresh, empty database, dropped by [`Scratch::drop_database`].
pub struct Scratch {
    /// Its URL.
    pub url: String,
    /// For SQLite, the directory of its file.
    _dir: Option<tempfile::TempDir>,
    admin: Option<(String, String)>,
}

impl Server {
    /// SQLite files in temporary directories.
    pub fn sqlite() -> Self {
        Server {
            admin: None,
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
            admin: Some(url.to_owned()),
            name,
        })
    }

    /// True for SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.admin.is_none()
    }

    /// A new empty database.
    pub async fn scratch(&self) -> anyhow::Result<Scratch> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Some(admin) = &self.admin else {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            return Ok(Scratch {
                url,
                _dir: Some(dir),
                admin: None,
            });
        };
        let name = format!(
            "wasmig_bench_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let db = Database::connect(admin).await?;
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        db.close().await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Ok(Scratch {
            url: format!("{base}/{name}"),
            _dir: None,
            admin: Some((admin.clone(), name)),
        })
    }
}

impl Scratch {
    /// Drops the database (a SQLite file goes with its directory).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = &self.admin {
            let db = Database::connect(admin).await?;
            let force = if admin.starts_with("postgres") {
                " WITH (FORCE)"
            } else {
                ""
            };
            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}{force}"))
                .await?;
            db.close().await;
        }
        Ok(())
    }
}
