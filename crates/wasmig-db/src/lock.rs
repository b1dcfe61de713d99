//! One upgrader at a time, with locks the server (or the OS) releases when the holder dies:
//! a session-level advisory lock on PostgreSQL, `GET_LOCK` on MySQL, an exclusive file lock on
//! the SQLite database file. No lock row, so nothing goes stale after a crash.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::{Connection, MySqlConnection, PgConnection};

use crate::{Dialect, Error, Result, Value, backend, mysql, postgres, sqlite};

/// The PostgreSQL advisory lock key, as two 32-bit halves: "wasm" and "ig".
const PG_KEY: (i32, i32) = (0x7761_736d, 0x6967);

/// How often a busy lock is tried again while waiting.
const RETRY: Duration = Duration::from_millis(100);

/// Held while an upgrade runs. [`UpgradeLock::release`] lets go and waits until the server
/// has; dropping it instead (a cancelled future) closes the connection, which the server
/// notices a moment later.
#[derive(Debug)]
pub struct UpgradeLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// An in-memory SQLite database: no other process can reach it.
    Nothing,
    SqliteFile(#[allow(dead_code)] File),
    Postgres(PgConnection),
    MySql(MySqlConnection),
}

/// The MySQL lock name: lock names are server-wide, so it is scoped to this database.
const MYSQL_LOCK_NAME: &str = "CONCAT('wasmig.', DATABASE())";

impl UpgradeLock {
    pub(crate) async fn acquire(url: &str, dialect: Dialect, wait: Duration) -> Result<Self> {
        let held = match dialect {
            Dialect::Sqlite => lock_sqlite(url, wait).await?,
            Dialect::Postgres => lock_postgres(url, wait).await?,
            Dialect::MySql => lock_mysql(url, wait).await?,
        };
        Ok(UpgradeLock { held })
    }

    /// Releases the lock and returns once the server has let go of it, so that the next
    /// command (of this process or another) finds it free.
    pub async fn release(self) {
        let released = match self.held {
            Held::Nothing | Held::SqliteFile(_) => Ok(()),
            Held::Postgres(mut conn) => {
                let key = pg_key();
                let unlock = "SELECT pg_advisory_unlock($1::int4, $2::int4)";
                let sent =
                    backend::execute::<sqlx::Postgres>(&mut conn, unlock, &key, Default::default())
                        .await;
                let closed = conn.close().await.map_err(Error::from);
                sent.and(closed)
            }
            Held::MySql(mut conn) => {
                let unlock = format!("DO RELEASE_LOCK({MYSQL_LOCK_NAME})");
                let sent =
                    backend::execute::<sqlx::MySql>(&mut conn, &unlock, &[], Default::default())
                        .await;
                let closed = conn.close().await.map_err(Error::from);
                sent.and(closed)
            }
        };
        if let Err(error) = released {
            tracing::warn!("the upgrade lock is released when its connection closes: {error}");
        }
    }
}

/// [`PG_KEY`] as query parameters.
fn pg_key() -> [Value; 2] {
    [
        Value::Integer(PG_KEY.0.into()),
        Value::Integer(PG_KEY.1.into()),
    ]
}

/// Who we are, for the holder description other processes see.
fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown host".into());
    format!("wasmig upgrade, host {host}, pid {}", std::process::id())
}

async fn lock_sqlite(url: &str, wait: Duration) -> Result<Held> {
    if sqlite::is_in_memory(url) {
        return Ok(Held::Nothing);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename().to_owned();
    let file = File::open(&path).map_err(|e| Error::Sql(sqlx::Error::Io(e)))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Held::SqliteFile(file)),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(RETRY).await
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    holder: flock_holder(&path),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::Sql(sqlx::Error::Io(e))),
        }
    }
}

/// The pid holding a `flock` on `path`, read from `/proc/locks` (Linux): the lock on the same
/// device and inode, or, where the file system reports another device than the lock table
/// (overlayfs, btrfs subvolumes), the only `flock` on that inode.
fn flock_holder(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    let (dev, inode) = (metadata.dev(), metadata.ino().to_string());
    // As the lock table writes it: "major:minor:inode", the device numbers in hex.
    let device = format!("{:02x}:{:02x}", libc::major(dev), libc::minor(dev));
    // The kernel writes the table in pieces, and a lock taken or let go elsewhere between two
    // pieces can hide a line of the next one: read it again before giving up.
    let pid = (0..3).find_map(|_| {
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        flock_pid(&locks, &device, &inode).map(str::to_owned)
    })?;
    Some(format!(
        "pid {pid} on this host holds a lock on {}",
        path.display()
    ))
}

/// The pid of the `flock` in the lock table `locks` on `device` ("major:minor", hex) and
/// `inode`, or, when none is on that device, of the only one on that inode.
fn flock_pid<'l>(locks: &'l str, device: &str, inode: &str) -> Option<&'l str> {
    let on_inode: Vec<(&str, &str)> = locks
        .lines()
        .filter_map(flock_line)
        .filter(|(_, id)| id.rsplit(':').next() == Some(inode))
        .collect();
    let same_device = on_inode
        .iter()
        .find(|(_, id)| id.rsplit_once(':').is_some_and(|(d, _)| d == device));
    match (same_device, on_inode.as_slice()) {
        (Some((pid, _)), _) | (None, [(pid, _)]) => Some(pid),
        _ => None,
    }
}

/// The pid and "major:minor:inode" of a line of `/proc/locks` that is a held `flock`
/// ("1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF"; a waiter's line has "->" first).
fn flock_line(line: &str) -> Option<(&str, &str)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [_, "FLOCK", _, _, pid, id, ..] => Some((pid, id)),
        _ => None,
    }
}

async fn lock_postgres(url: &str, wait: Duration) -> Result<Held> {
    let options = postgres::options(url)?.application_name(&identity());
    let mut conn = PgConnection::connect_with(&options).await?;
    let deadline = Instant::now() + wait;
    let key = pg_key();
    loop {
        let got = backend::query::<sqlx::Postgres>(
            &mut conn,
            "SELECT pg_try_advisory_lock($1::int4, $2::int4)::int4",
            &key,
            Default::default(),
        )
        .await?;
        if got.rows[0][0] == Value::Integer(1) {
            return Ok(Held::Postgres(conn));
        }
        if Instant::now() >= deadline {
            let holder = backend::query::<sqlx::Postgres>(
                &mut conn,
                "SELECT a.application_name || ' (session pid ' || a.pid || ', since ' \
                 || date_trunc('second', a.backend_start) || ')' \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
                 AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid \
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &key,
                Default::default(),
            )
            .await?;
            return Err(Error::Locked {
                holder: first_text(&holder),
            });
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn lock_mysql(url: &str, wait: Duration) -> Result<Held> {
    let mut conn = MySqlConnection::connect_with(&mysql::options(url)?).await?;
    let name = MYSQL_LOCK_NAME;
    let got = backend::query::<sqlx::MySql>(
        &mut conn,
        &format!("SELECT GET_LOCK({name}, ?)"),
        &[Value::Integer(
            wait.as_secs().try_into().unwrap_or(i64::MAX),
        )],
        Default::default(),
    )
    .await?;
    if got.rows[0][0] == Value::Integer(1) {
        return Ok(Held::MySql(conn));
    }
    let holder = backend::query::<sqlx::MySql>(
        &mut conn,
        &format!(
            "SELECT CONCAT('connection ', ID, ' from ', HOST, ', for ', TIME, ' s') \
             FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK({name})"
        ),
        &[],
        Default::default(),
    )
    .await?;
    Err(Error::Locked {
        holder: first_text(&holder),
    })
}

fn first_text(rows: &crate::RowSet) -> Option<String> {
    rows.rows
        .first()
        .and_then(|row| row.first())
        .and_then(|v| v.as_text().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_sqlite_lock_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let db = crate::Database::connect(&url).await.unwrap();
        let held = db.lock(Duration::ZERO).await.unwrap();
        let error = db.lock(Duration::from_millis(250)).await.unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("another upgrade holds the lock"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(held);
        db.lock(Duration::ZERO).await.expect("released on drop");
    }

    #[test]
    fn a_lock_tables_line_is_a_held_flock_only() {
        let held = "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF";
        assert_eq!(flock_line(held), Some(("4242", "fd:01:1234567")));
        let waiter = "1: -> FLOCK  ADVISORY  WRITE 4343 fd:01:1234567 0 EOF";
        assert_eq!(flock_line(waiter), None);
        let posix = "2: POSIX  ADVISORY  WRITE 3805 fe:00:770191 0 EOF";
        assert_eq!(flock_line(posix), None);
    }

    #[test]
    fn the_lock_on_the_same_device_wins_and_a_lone_lock_on_the_inode_stands() {
        let table = "1: FLOCK  ADVISORY  WRITE 11 00:2f:77 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 22 fe:00:77 0 EOF\n\
                     3: POSIX  ADVISORY  WRITE 33 fe:00:88 0 EOF\n";
        assert_eq!(flock_pid(table, "fe:00", "77"), Some("22"));
        assert_eq!(flock_pid(table, "00:2f", "77"), Some("11"));
        // Another device than the table's (overlayfs): only a lone lock on the inode counts.
        assert_eq!(flock_pid(table, "00:99", "77"), None, "two candidates");
        let lone = "1: FLOCK  ADVISORY  WRITE 11 00:2f:77 0 EOF\n";
        assert_eq!(flock_pid(lone, "00:99", "77"), Some("11"));
        assert_eq!(
            flock_pid(table, "fe:00", "88"),
            None,
            "a POSIX lock is not ours"
        );
    }

    #[test]
    fn the_holder_is_found_among_many_locks() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<File> = (0..20)
            .map(|i| {
                let file = File::create(dir.path().join(format!("{i}"))).unwrap();
                file.try_lock().unwrap();
                file
            })
            .collect();
        let path = dir.path().join("7");
        let holder = flock_holder(&path).expect("found");
        assert_eq!(
            holder,
            format!(
                "pid {} on this host holds a lock on {}",
                std::process::id(),
                path.display()
            )
        );
        drop(files);
        assert_eq!(flock_holder(&path), None, "no lock, no holder");
    }
}
