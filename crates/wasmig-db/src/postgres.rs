//! PostgreSQL: strictly typed, so values are read by the column's type.

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
