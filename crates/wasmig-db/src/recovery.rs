//! What a step that commits statement by statement needs to survive a crash: a lock its
//! connection holds for as long as the server may still be running one of its statements,
//! and a fingerprint of the objects a statement touches, read from the catalog, to tell
//! afterwards whether a statement cut short took effect.
//!
//! DDL is atomic on MariaDB ≥ 10.6, MySQL 8 and PostgreSQL: a statement either took effect or
//! did not. When the client dies, the server finishes the statement it was running; the lock
//! is released only then, so whoever resumes first waits for it and then reads the outcome.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Dialect, Error, Result, Transaction, Value};

/// What a journal keeps about a statement about to commit by itself: the objects it touches
/// and their fingerprint before it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The objects it creates, drops, renames or alters (normalised names).
    pub touched: Vec<String>,
    /// Their [`fingerprint`](Transaction::fingerprint) before it ran.
    pub fingerprint: String,
}

/// The PostgreSQL advisory lock key of the statement in flight: "wasm" and "st".
const PG_STEP_KEY: (i32, i32) = (0x7761_736d, 0x7374);

/// How often a busy step lock is tried again.
const RETRY: Duration = Duration::from_millis(100);

/// The name of MySQL's step lock (lock names are server-wide: scoped to the database).
const MYSQL_STEP_LOCK: &str = "CONCAT('wasmig.step.', DATABASE())";

impl Transaction {
    /// Holds the database's step lock on this connection until it is released (at
    /// [`commit`](Transaction::commit) or [`rollback`](Transaction::rollback)) or the session
    /// ends on the server — after the statement it was running, if the process died. Waits up
    /// to `wait` for a session that still holds it. A no-op on SQLite, whose statements die
    /// with the process.
    pub async fn hold_step_lock(&mut self, wait: Duration) -> Result<()> {
        let got = match self.dialect() {
            Dialect::Sqlite => return Ok(()),
            Dialect::MySql => {
                let seconds = i64::try_from(wait.as_secs()).unwrap_or(i64::MAX);
                let rows = self
                    .query(
                        &format!("SELECT GET_LOCK({MYSQL_STEP_LOCK}, ?)"),
                        &[Value::Integer(seconds)],
                    )
                    .await?;
                rows.rows.first().map(|r| r[0].clone()) == Some(Value::Integer(1))
            }
            Dialect::Postgres => self.pg_step_lock(wait).await?,
        };
        if !got {
            return Err(Error::Locked {
                holder: Some(
                    "a statement of an earlier upgrader is still running on the server".into(),
                ),
            });
        }
        self.changed_step_lock(true);
        Ok(())
    }

    async fn pg_step_lock(&mut self, wait: Duration) -> Result<bool> {
        let deadline = Instant::now() + wait;
        let key = [
            Value::Integer(PG_STEP_KEY.0.into()),
            Value::Integer(PG_STEP_KEY.1.into()),
        ];
        loop {
            let rows = self
                .query(
                    "SELECT pg_try_advisory_lock($1::int4, $2::int4)::int4",
                    &key,
                )
                .await?;
            if rows.rows.first().map(|r| r[0].clone()) == Some(Value::Integer(1)) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// The statement that releases the step lock, when this connection holds it.
    pub(crate) fn step_lock_release(dialect: Dialect) -> Option<String> {
        match dialect {
            Dialect::Sqlite => None,
            Dialect::MySql => Some(format!("DO RELEASE_LOCK({MYSQL_STEP_LOCK})")),
            Dialect::Postgres => Some(format!(
                "SELECT pg_advisory_unlock({}, {})",
                PG_STEP_KEY.0, PG_STEP_KEY.1
            )),
        }
    }

    /// What the catalog says about the objects named `names` (tables, views, indexes,
    /// triggers, types, sequences, functions of the home schema; lower-cased names), as one
    /// text: two fingerprints differ when one of those objects was created, dropped or
    /// changed in between. Table rows and counters are left out.
    pub async fn fingerprint(&mut self, names: &[String]) -> Result<String> {
        if names.is_empty() {
            return Ok(String::new());
        }
        let (sql, params) = fingerprint_query(self.dialect(), names);
        let rows = self.query(&sql, &params).await?;
        let mut lines: Vec<String> = rows
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|v| v.as_text().map_or_else(|| format!("{v:?}"), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        lines.sort();
        Ok(lines.join("\n"))
    }

    /// The intent of a statement that touches `touched`, as the catalog is now.
    pub async fn intent(&mut self, touched: Vec<String>) -> Result<Intent> {
        let fingerprint = self.fingerprint(&touched).await?;
        Ok(Intent {
            touched,
            fingerprint,
        })
    }

    /// PostgreSQL: drops the indexes among `names` that a `CREATE INDEX CONCURRENTLY` cut
    /// short left invalid (so that the statement can run again); returns their names.
    pub async fn drop_invalid_indexes(&mut self, names: &[String]) -> Result<Vec<String>> {
        if self.dialect() != Dialect::Postgres || names.is_empty() {
            return Ok(Vec::new());
        }
        let invalid = self
            .query(
                "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE NOT i.indisvalid AND c.relnamespace = current_schema()::regnamespace \
                 AND lower(c.relname) = ANY(string_to_array($1, E'\\x1f'))",
                &[Value::Text(names.join("\u{1f}"))],
            )
            .await?;
        let invalid: Vec<String> = invalid
            .rows
            .iter()
            .filter_map(|r| r[0].as_text().map(str::to_owned))
            .collect();
        for index in &invalid {
            self.execute(
                &format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {}",
                    Dialect::Postgres.quote(index)
                ),
                &[],
            )
            .await?;
        }
        Ok(invalid)
    }
}

/// The catalog query of [`Transaction::fingerprint`] for `names`, with its parameters.
fn fingerprint_query(dialect: Dialect, names: &[String]) -> (String, Vec<Value>) {
    let lowered: Vec<Value> = names
        .iter()
        .map(|n| Value::Text(n.to_lowercase()))
        .collect();
    match dialect {
        Dialect::Sqlite => {
            let list = vec!["?"; names.len()].join(", ");
            let sql = format!(
                "SELECT type, name, tbl_name, sql FROM sqlite_master \
                 WHERE lower(name) IN ({list}) OR lower(tbl_name) IN ({list})"
            );
            (sql, [lowered.clone(), lowered].concat())
        }
        Dialect::Postgres => (
            POSTGRES_FINGERPRINT.to_owned(),
            vec![Value::Text(names.join("\u{1f}").to_lowercase())],
        ),
        Dialect::MySql => {
            let list = vec!["?"; names.len()].join(", ");
            let sql = MYSQL_FINGERPRINT.replace("{list}", &list);
            let repeats = MYSQL_FINGERPRINT.matches("{list}").count();
            (
                sql,
                (0..repeats).flat_map(|_| lowered.iter().cloned()).collect(),
            )
        }
    }
}

/// PostgreSQL's catalog for a fingerprint; `$1` holds the names separated by U+001F.
const POSTGRES_FINGERPRINT: &str = "\
    WITH wanted AS (SELECT unnest(string_to_array($1, E'\\x1f')) AS name), \
    rels AS (SELECT c.oid, c.relname, c.relkind FROM pg_class c \
      WHERE c.relnamespace = current_schema()::regnamespace AND lower(c.relname) IN (SELECT name FROM wanted)) \
    SELECT 'relation ' || relname || ' ' || relkind::text FROM rels \
    UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ' ' \
      || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' ' \
      || COALESCE(pg_get_expr(d.adbin, d.adrelid), '') \
      FROM pg_attribute a JOIN rels c ON c.oid = a.attrelid \
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
      WHERE a.attnum > 0 AND NOT a.attisdropped \
    UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid::text \
      FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid \
      WHERE i.indrelid IN (SELECT oid FROM rels) OR i.indexrelid IN (SELECT oid FROM rels) \
    UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated::text \
      FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rels) \
    UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t \
      WHERE NOT t.tgisinternal AND (t.tgrelid IN (SELECT oid FROM rels) \
      OR lower(t.tgname) IN (SELECT name FROM wanted)) \
    UNION ALL SELECT 'view ' || c.relname || ' ' || pg_get_viewdef(c.oid) FROM rels c \
      WHERE c.relkind IN ('v', 'm') \
    UNION ALL SELECT 'comment ' || c.relname || ' ' || COALESCE(obj_description(c.oid, 'pg_class'), '') \
      FROM rels c \
    UNION ALL SELECT 'type ' || t.typname || ' ' || COALESCE((SELECT string_agg(e.enumlabel, ',' \
      ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '') FROM pg_type t \
      WHERE t.typnamespace = current_schema()::regnamespace AND lower(t.typname) IN (SELECT name FROM wanted) \
    UNION ALL SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) FROM pg_proc p \
      WHERE p.pronamespace = current_schema()::regnamespace AND lower(p.proname) IN (SELECT name FROM wanted)";

/// MySQL's catalog for a fingerprint; `{list}` stands for the names' placeholders.
const MYSQL_FINGERPRINT: &str = "\
    SELECT CAST(CONCAT_WS(' ', 'table', table_name, table_type, engine, table_collation, \
      create_options, table_comment) AS CHAR) FROM information_schema.tables \
      WHERE table_schema = DATABASE() AND LOWER(table_name) IN ({list}) \
    UNION ALL SELECT CAST(CONCAT_WS(' ', 'column', table_name, column_name, ordinal_position, \
      column_type, is_nullable, COALESCE(column_default, '-'), extra, COALESCE(collation_name, '-'), \
      column_comment) AS CHAR) FROM information_schema.columns \
      WHERE table_schema = DATABASE() AND LOWER(table_name) IN ({list}) \
    UNION ALL SELECT CAST(CONCAT_WS(' ', 'index', table_name, index_name, seq_in_index, column_name, \
      non_unique, COALESCE(sub_part, '-')) AS CHAR) FROM information_schema.statistics \
      WHERE table_schema = DATABASE() AND (LOWER(table_name) IN ({list}) OR LOWER(index_name) IN ({list})) \
    UNION ALL SELECT CAST(CONCAT_WS(' ', 'constraint', table_name, constraint_name, constraint_type) \
      AS CHAR) FROM information_schema.table_constraints \
      WHERE table_schema = DATABASE() AND LOWER(table_name) IN ({list}) \
    UNION ALL SELECT CAST(CONCAT_WS(' ', 'reference', table_name, constraint_name, \
      referenced_table_name, update_rule, delete_rule) AS CHAR) \
      FROM information_schema.referential_constraints \
      WHERE constraint_schema = DATABASE() AND LOWER(table_name) IN ({list}) \
    UNION ALL SELECT CAST(CONCAT_WS(' ', 'trigger', trigger_name, event_object_table, action_timing, \
      event_manipulation, action_statement) AS CHAR) FROM information_schema.triggers \
      WHERE trigger_schema = DATABASE() \
      AND (LOWER(trigger_name) IN ({list}) OR LOWER(event_object_table) IN ({list})) \
    UNION ALL SELECT CAST(CONCAT_WS(' ', 'view', table_name, view_definition) AS CHAR) \
      FROM information_schema.views WHERE table_schema = DATABASE() AND LOWER(table_name) IN ({list})";

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_fingerprint_changes_with_the_objects_it_names_and_only_with_them() {
        let db = crate::Database::connect("sqlite::memory:").await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute("CREATE TABLE a (x INT)", &[]).await.unwrap();
        tx.execute("CREATE TABLE b (x INT)", &[]).await.unwrap();
        let names = ["a".to_owned()];
        let before = tx.fingerprint(&names).await.unwrap();
        tx.execute("ALTER TABLE b ADD COLUMN y INT", &[])
            .await
            .unwrap();
        tx.execute("INSERT INTO a VALUES (1)", &[]).await.unwrap();
        assert_eq!(tx.fingerprint(&names).await.unwrap(), before);
        tx.execute("CREATE INDEX a_x ON a (x)", &[]).await.unwrap();
        assert_ne!(tx.fingerprint(&names).await.unwrap(), before);
        tx.rollback().await.unwrap();
    }
}
