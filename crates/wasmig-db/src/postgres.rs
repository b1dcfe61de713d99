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
        "NUMERIC" => text(
            row.try_get::<sqlx::types::BigDecimal, _>(i)?
                .to_plain_string(),
        ),
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
