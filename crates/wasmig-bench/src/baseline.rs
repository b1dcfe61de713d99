//! What the database costs on its own: the same work without wasmig.

use std::ffi::{CString, c_char, c_int};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use libsqlite3_sys as ffi;
use sqlx::{AssertSqlSafe, Connection as _};

/// Rows a data step inserts.
pub const ROWS: i64 = 10_000;

/// The table the baselines fill, as the bench components make theirs.
const CREATE: &str =
    "CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, name VARCHAR(100), n INTEGER)";

/// Native sqlx: one `execute` per row, in one transaction, on `url`'s backend.
pub async fn sqlx_rows(url: String) -> anyhow::Result<Duration> {
    let url = url.as_str();
    macro_rules! insert_rows {
        ($connect:expr, $insert:expr) => {{
            let mut conn = $connect.await?;
            let start = Instant::now();
            let mut tx = conn.begin().await?;
            sqlx::query(CREATE).execute(&mut *tx).await?;
            for i in 0..ROWS {
                sqlx::query($insert)
                    .bind(i)
                    .bind(format!("row {i}"))
                    .bind(i % 97)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            let elapsed = start.elapsed();
            conn.close().await?;
            elapsed
        }};
    }
    Ok(if url.starts_with("sqlite") {
        insert_rows!(
            sqlite_connect(url),
            "INSERT INTO bench_rows (id, name, n) VALUES (?, ?, ?)"
        )
    } else if url.starts_with("postgres") {
        insert_rows!(
            sqlx::PgConnection::connect(url),
            "INSERT INTO bench_rows (id, name, n) VALUES ($1, $2, $3)"
        )
    } else {
        insert_rows!(
            sqlx::MySqlConnection::connect(url),
            "INSERT INTO bench_rows (id, name, n) VALUES (?, ?, ?)"
        )
    })
}

/// SQLite's C API through a sqlx connection's own handle: one prepared statement, bound and
/// stepped once per row, in one transaction.
pub async fn sqlite_c_api_rows(url: String) -> anyhow::Result<Duration> {
    let url = url.as_str();
    let mut conn = sqlite_connect(url).await?;
    let elapsed = {
        let mut handle = conn.lock_handle().await?;
        let db = handle.as_raw_handle().as_ptr();
        let start = Instant::now();
        // SAFETY: `db` is the open connection's handle, held locked for this block.
        unsafe { insert_with_c_api(db) }?;
        start.elapsed()
    };
    conn.close().await?;
    Ok(elapsed)
}

/// A connection to the SQLite file of `url`, created if missing.
async fn sqlite_connect(url: &str) -> Result<sqlx::SqliteConnection, sqlx::Error> {
    use std::str::FromStr as _;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.create_if_missing(true);
    sqlx::SqliteConnection::connect_with(&options).await
}

/// # Safety
/// `db` must be an open connection no one else uses meanwhile.
unsafe fn insert_with_c_api(db: *mut ffi::sqlite3) -> anyhow::Result<()> {
    // SAFETY: the caller hands an open connection over for the call.
    unsafe {
        exec(db, "BEGIN")?;
        exec(db, CREATE)?;
        let sql = CString::new("INSERT INTO bench_rows (id, name, n) VALUES (?, ?, ?)")?;
        let mut stmt = std::ptr::null_mut();
        if ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut())
            != ffi::SQLITE_OK
        {
            bail!("prepare failed");
        }
        for i in 0..ROWS {
            let name = format!("row {i}");
            ffi::sqlite3_bind_int64(stmt, 1, i);
            ffi::sqlite3_bind_text(
                stmt,
                2,
                name.as_ptr().cast::<c_char>(),
                name.len() as c_int,
                ffi::SQLITE_TRANSIENT(),
            );
            ffi::sqlite3_bind_int64(stmt, 3, i % 97);
            if ffi::sqlite3_step(stmt) != ffi::SQLITE_DONE {
                ffi::sqlite3_finalize(stmt);
                bail!("insert {i} failed");
            }
            ffi::sqlite3_reset(stmt);
        }
        ffi::sqlite3_finalize(stmt);
        exec(db, "COMMIT")
    }
}

/// # Safety
/// `db` must be an open connection no one else uses meanwhile.
unsafe fn exec(db: *mut ffi::sqlite3, sql: &str) -> anyhow::Result<()> {
    let sql = CString::new(sql)?;
    // SAFETY: an open connection and a NUL-terminated statement.
    let rc = unsafe {
        ffi::sqlite3_exec(
            db,
            sql.as_ptr(),
            None,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if rc != ffi::SQLITE_OK {
        bail!("{} failed ({rc})", sql.to_string_lossy());
    }
    Ok(())
}

/// PostgreSQL's `COPY … FROM STDIN`: every row in one stream, in one transaction.
pub async fn postgres_copy_rows(url: String) -> anyhow::Result<Duration> {
    let url = url.as_str();
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let start = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::query(CREATE).execute(&mut *tx).await?;
    let mut data = String::new();
    for i in 0..ROWS {
        data.push_str(&format!("{i}\trow {i}\t{}\n", i % 97));
    }
    let mut copy = tx
        .copy_in_raw("COPY bench_rows (id, name, n) FROM STDIN")
        .await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    tx.commit().await?;
    let elapsed = start.elapsed();
    conn.close().await?;
    Ok(elapsed)
}

/// MariaDB/MySQL: every row in one multi-row `INSERT`, in one transaction.
pub async fn mysql_multirow_rows(url: String) -> anyhow::Result<Duration> {
    let url = url.as_str();
    let mut conn = sqlx::MySqlConnection::connect(url).await?;
    let start = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::query(CREATE).execute(&mut *tx).await?;
    let values: Vec<String> = (0..ROWS)
        .map(|i| format!("({i}, 'row {i}', {})", i % 97))
        .collect();
    let sql = format!(
        "INSERT INTO bench_rows (id, name, n) VALUES {}",
        values.join(", ")
    );
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
    tx.commit().await?;
    let elapsed = start.elapsed();
    conn.close().await?;
    Ok(elapsed)
}

/// The `sqlite3` client running `statements` (autocommit each) on the file of `url`;
/// `None` when there is no client.
pub fn sqlite3_client(url: &str, statements: &[String]) -> anyhow::Result<Option<Duration>> {
    use std::io::Write as _;
    let file = url.trim_start_matches("sqlite://");
    let script = statements.join(";\n") + ";\n";
    let start = Instant::now();
    let child = std::process::Command::new("sqlite3")
        .arg(file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return Ok(None);
    };
    child
        .stdin
        .take()
        .context("the client's stdin")?
        .write_all(script.as_bytes())?;
    let status = child.wait()?;
    let elapsed = start.elapsed();
    anyhow::ensure!(status.success(), "sqlite3 failed: {status}");
    Ok(Some(elapsed))
}

/// PostgreSQL: the statements wasmig's `execute_batch` sends, through native sqlx: multi-row
/// `INSERT`s of 1,000 rows of placeholders, bound, in one transaction (the floor of that way
/// of batching, beside `COPY`).
pub async fn postgres_chunked_rows(url: String) -> anyhow::Result<Duration> {
    const CHUNK: i64 = 1000;
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    let start = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::query(CREATE).execute(&mut *tx).await?;
    let tuples: Vec<String> = (0..CHUNK)
        .map(|r| format!("(${}, ${}, ${})", 3 * r + 1, 3 * r + 2, 3 * r + 3))
        .collect();
    let sql = format!(
        "INSERT INTO bench_rows (id, name, n) VALUES {}",
        tuples.join(", ")
    );
    for first in (0..ROWS).step_by(CHUNK as usize) {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for i in first..first + CHUNK {
            query = query.bind(i).bind(format!("row {i}")).bind(i % 97);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let elapsed = start.elapsed();
    conn.close().await?;
    Ok(elapsed)
}

/// MariaDB/MySQL: the statements wasmig sends for a module's account, through native sqlx:
/// the parameters into session variables, then the account's `SQL SECURITY DEFINER`
/// procedure (wasmig's own text) prepares and executes the statement — `rows` rows per call
/// (1 for `execute`, 1,000 for a batch, whose statement names its parameters as the session
/// variables instead of placeholders), in one transaction.
pub async fn mysql_procedure_rows(url: String, rows: i64) -> anyhow::Result<Duration> {
    let mut conn = sqlx::MySqlConnection::connect(&url).await?;
    let database: String = sqlx::query_scalar("SELECT CAST(DATABASE() AS CHAR)")
        .fetch_one(&mut conn)
        .await?;
    let name = format!("wasmig_bench_{}", std::process::id());
    let guest = wasmig_db::GuestAccount::new(&name, &database);
    let account = guest.account();
    for sql in [
        format!("CREATE USER IF NOT EXISTS {account} ACCOUNT LOCK"),
        format!("GRANT ALL PRIVILEGES ON `{database}`.* TO {account}"),
        guest.procedure_definition(),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
    }
    // The statement, the SET and the CALL for a chunk of `n` rows.
    let texts = |n: i64| {
        let params = 3 * n as usize;
        let named = wasmig_db::mysql_guest_names_variables(params);
        let placeholders: Vec<String> = (1..=params)
            .map(|i| match named {
                true => wasmig_db::mysql_guest_variable(i),
                false => "?".to_owned(),
            })
            .collect();
        let tuples: Vec<String> = placeholders
            .chunks(3)
            .map(|row| format!("({})", row.join(", ")))
            .collect();
        let variables: Vec<String> = (1..=params)
            .map(|i| format!("{} = ?", wasmig_db::mysql_guest_variable(i)))
            .collect();
        (
            format!(
                "INSERT INTO bench_rows (id, name, n) VALUES {}",
                tuples.join(", ")
            ),
            format!("SET {}", variables.join(", ")),
            format!(
                "CALL {}(?, {})",
                guest.procedure(),
                if named { 0 } else { params }
            ),
        )
    };
    let (full, last) = (texts(rows), texts(ROWS % rows));
    let start = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::query(CREATE).execute(&mut *tx).await?;
    for first in (0..ROWS).step_by(rows as usize) {
        let end = (first + rows).min(ROWS);
        let (statement, set, call) = if end - first == rows { &full } else { &last };
        let mut query = sqlx::query(AssertSqlSafe(set.as_str()));
        for i in first..end {
            query = query.bind(i).bind(format!("row {i}")).bind(i % 97);
        }
        query.execute(&mut *tx).await?;
        sqlx::query(AssertSqlSafe(call.as_str()))
            .bind(statement.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let elapsed = start.elapsed();
    sqlx::raw_sql(AssertSqlSafe(format!("DROP USER IF EXISTS {account}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(elapsed)
}
