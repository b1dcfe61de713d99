//! PostgreSQL: strictly typed, so values are read by the column's type.

use std::collections::BTreeMap;
use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgConnectOptions, PgPoolOptions, PgRow, PgTypeInfo, PgTypeKind,
};
use sqlx::{Column, Postgres, Row, TypeInfo, ValueRef};

use crate::Value;
use crate::backend::{Backend, unsupported};

pub(crate) fn options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    PgConnectOptions::from_str(url)
}

pub(crate) async fn connect(url: &str) -> Result<sqlx::PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options(url)?)
        .await
}

/// A NULL parameter with no declared type, so the server infers the column's own type
/// (a NULL typed `text` cannot be assigned to an integer column).
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(&self, _: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Ok(IsNull::Yes)
    }
}

impl Backend for Postgres {
    fn bind<'q>(
        query: sqlx::query::Query<'q, Self, Self::Arguments>,
        value: &Value,
    ) -> sqlx::query::Query<'q, Self, Self::Arguments> {
        match value {
            Value::Null => query.bind(UntypedNull),
            Value::Integer(v) => query.bind(*v),
            Value::Real(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
            Value::Blob(v) => query.bind(v.clone()),
        }
    }

    fn decode_row(row: &PgRow) -> Result<Vec<Value>, sqlx::Error> {
        (0..row.len()).map(|i| decode(row, i)).collect()
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

fn decode(row: &PgRow, i: usize) -> Result<Value, sqlx::Error> {
    if row.try_get_raw(i)?.is_null() {
        return Ok(Value::Null);
    }
    let type_info = row.column(i).type_info();
    let text = |s: String| Ok(Value::Text(s));
    match type_info.name() {
        "BOOL" => Ok(Value::Integer(row.try_get::<bool, _>(i)?.into())),
        "INT2" => Ok(Value::Integer(row.try_get::<i16, _>(i)?.into())),
        "INT4" => Ok(Value::Integer(row.try_get::<i32, _>(i)?.into())),
        "INT8" => Ok(Value::Integer(row.try_get(i)?)),
        "OID" => Ok(Value::Integer(row.try_get::<Oid, _>(i)?.0.into())),
        "FLOAT4" => Ok(Value::Real(row.try_get::<f32, _>(i)?.into())),
        "FLOAT8" => Ok(Value::Real(row.try_get(i)?)),
        "NUMERIC" => {
            let raw = row.try_get_raw(i)?;
            text(numeric_text(raw.as_bytes().map_err(sqlx::Error::Decode)?)?)
        }
        // "CHAR" is char(n) (bpchar); "\"CHAR\"" the internal one-byte type.
        "TEXT" | "VARCHAR" | "CHAR" | "NAME" => text(row.try_get(i)?),
        "\"CHAR\"" => text(char::from(row.try_get::<i8, _>(i)? as u8).to_string()),
        "BYTEA" => Ok(Value::Blob(row.try_get(i)?)),
        "DATE" => text(
            row.try_get::<sqlx::types::chrono::NaiveDate, _>(i)?
                .to_string(),
        ),
        "TIME" => text(
            row.try_get::<sqlx::types::chrono::NaiveTime, _>(i)?
                .to_string(),
        ),
        "TIMESTAMP" => text(
            row.try_get::<sqlx::types::chrono::NaiveDateTime, _>(i)?
                .to_string(),
        ),
        "TIMESTAMPTZ" => text(
            row.try_get::<sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>, _>(i)?
                .format("%Y-%m-%dT%H:%M:%S%.fZ")
                .to_string(),
        ),
        "JSON" | "JSONB" => text(row.try_get::<sqlx::types::JsonValue, _>(i)?.to_string()),
        "UUID" => text(row.try_get::<sqlx::types::Uuid, _>(i)?.to_string()),
        // Enums and domains over text arrive in text form.
        _ if matches!(type_info.kind(), PgTypeKind::Enum(_)) => text(row.try_get_unchecked(i)?),
        other => Err(unsupported(other, row.column(i).name())),
    }
}

/// A NUMERIC in PostgreSQL's binary format, as exact decimal text with its declared scale:
/// digit count, weight (of the first base-10000 digit), sign, display scale, then the digits.
fn numeric_text(bytes: &[u8]) -> Result<String, sqlx::Error> {
    let invalid = || sqlx::Error::Decode("malformed NUMERIC value".into());
    let word = |at: usize| -> Result<i16, sqlx::Error> {
        let pair = bytes.get(at..at + 2).ok_or_else(invalid)?;
        Ok(i16::from_be_bytes([pair[0], pair[1]]))
    };
    let count = usize::try_from(word(0)?).map_err(|_| invalid())?;
    let weight = i32::from(word(2)?);
    let sign = word(4)? as u16;
    let scale = usize::try_from(word(6)?).map_err(|_| invalid())?;
    let digits = (0..count)
        .map(|k| word(8 + 2 * k))
        .collect::<Result<Vec<i16>, _>>()?;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digit = |index: i32| -> i16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        text.push_str(&digit(0).to_string());
        for index in 1..=weight {
            text.push_str(&format!("{:04}", digit(index)));
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut index = weight + 1;
        while fraction.len() < scale {
            fraction.push_str(&format!("{:04}", digit(index)));
            index += 1;
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    Ok(text)
}

/// `name` as a quoted identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Sets up `role` for a module's guest statements (see `Transaction::confine_guest`).
pub(crate) async fn confine(
    tx: &mut crate::Transaction,
    db: &crate::Database,
    role: &str,
    owned: &[(String, String)],
    read: &[String],
    write: &[String],
) -> Result<bool, crate::Error> {
    let Some(superuser) = role_rights(tx).await? else {
        return Ok(false);
    };
    let quoted = quote(role);
    create_role(tx, db, &quoted, superuser).await?;
    let relations = hand_over(tx, role, owned).await?;
    grant(tx, &quoted, read, write, &relations).await?;
    Ok(true)
}

/// Whether wasmig's account may create roles: `Some(superuser)` when it may.
async fn role_rights(tx: &mut crate::Transaction) -> Result<Option<bool>, crate::Error> {
    let me = tx
        .query(
            "SELECT rolsuper::int4, rolcreaterole::int4 FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await?;
    let Some([superuser, createrole]) = me.rows.first().map(|r| [r[0].clone(), r[1].clone()])
    else {
        return Ok(None);
    };
    let (superuser, createrole) = (
        superuser == Value::Integer(1),
        createrole == Value::Integer(1),
    );
    Ok((superuser || createrole).then_some(superuser))
}

/// Creates the module's role (outside the step's transaction, tolerating a concurrent
/// creator), lets wasmig's account switch to it, and lets it use and create in the schema.
async fn create_role(
    tx: &mut crate::Transaction,
    db: &crate::Database,
    quoted: &str,
    superuser: bool,
) -> Result<(), crate::Error> {
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
    tx.execute(
        &format!(
            "GRANT USAGE, CREATE ON SCHEMA {} TO {quoted}",
            quote(&schema)
        ),
        &[],
    )
    .await?;
    Ok(())
}

/// The schema's relations by name (kind, owner), after handing the module's own over to its
/// role (objects created under the role already are its).
async fn hand_over(
    tx: &mut crate::Transaction,
    role: &str,
    owned: &[(String, String)],
) -> Result<BTreeMap<String, (String, String)>, crate::Error> {
    let quoted = quote(role);
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
    for (name, _) in owned {
        if let Some((kind, owner)) = relations.get(name)
            && owner != role
        {
            let what = match kind.as_str() {
                "v" => "VIEW",
                "m" => "MATERIALIZED VIEW",
                "S" => "SEQUENCE",
                _ => "TABLE",
            };
            tx.execute(
                &format!("ALTER {what} {} OWNER TO {quoted}", quote(name)),
                &[],
            )
            .await?;
        }
    }
    Ok(relations)
}

/// Grants the role what the module's manifest grants, on the relations that exist, and the
/// sequences behind the `serial` columns of what it may write.
async fn grant(
    tx: &mut crate::Transaction,
    quoted: &str,
    read: &[String],
    write: &[String],
    relations: &BTreeMap<String, (String, String)>,
) -> Result<(), crate::Error> {
    for (names, privileges) in [
        (read, "SELECT, REFERENCES"),
        (write, "SELECT, INSERT, UPDATE, DELETE, REFERENCES"),
    ] {
        for name in names.iter().filter(|n| relations.contains_key(*n)) {
            tx.execute(
                &format!("GRANT {privileges} ON {} TO {quoted}", quote(name)),
                &[],
            )
            .await?;
        }
    }
    // Writing rows may draw keys from the sequences behind `serial` columns.
    for name in write.iter().filter(|n| relations.contains_key(*n)) {
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

/// What a PostgreSQL session is like apart from its transaction: the settings set in it (not
/// by the server's configuration) and whether it has temporary objects. Guest code under the
/// module's role can change either; the host compares before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// `name=value` of every setting whose source is the session, in order.
    settings: String,
    /// Objects in the session's temporary schema.
    temporary: i64,
    /// The search path the host's statements run with: the session's, with its temporary
    /// schema named last (unnamed, it is searched first, even before the catalog, and a
    /// temporary table could shadow any table the host reads).
    search_path: String,
}

impl Session {
    pub(crate) async fn read(tx: &mut crate::Transaction) -> Result<Self, crate::Error> {
        let rows = tx
            .query(
                "SELECT COALESCE((SELECT string_agg(name || '=' || setting, ',' ORDER BY name) \
                 FROM pg_catalog.pg_settings WHERE source = 'session' \
                 AND name NOT IN ('search_path', 'role', 'session_authorization')), ''), \
                 (SELECT count(*) FROM pg_catalog.pg_class \
                  WHERE relnamespace = pg_catalog.pg_my_temp_schema())::int8, \
                 pg_catalog.current_setting('search_path') || ', pg_temp'",
                &[],
            )
            .await?;
        let row = rows.rows.first();
        let text = |i: usize| {
            row.and_then(|r| r[i].as_text())
                .unwrap_or_default()
                .to_owned()
        };
        Ok(Session {
            settings: text(0),
            temporary: row.and_then(|r| r[1].as_integer()).unwrap_or(0),
            search_path: text(2),
        })
    }

    /// The statement that makes the transaction's search path the host's.
    pub(crate) fn pin_search_path(&self) -> String {
        format!(
            "SELECT pg_catalog.set_config('search_path', '{}', true)",
            self.search_path.replace('\'', "''")
        )
    }
}
