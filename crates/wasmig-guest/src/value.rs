use crate::error::{Error, Result};

/// One SQL value, as the host exchanges it (`null`, `integer`, `real`, `text`, `blob`).
pub use crate::bindings::wasmig::migration::types::SqlValue as Value;

macro_rules! integer_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Integer(i64::from(v))
            }
        }
    )*};
}
integer_from!(i8, i16, i32, i64, u8, u16, u32, bool);

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Real(f64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<&Value> for Value {
    fn from(v: &Value) -> Self {
        v.clone()
    }
}

/// A Rust type a column value can be read as (see [`Row::get`](crate::Row::get)).
pub trait FromValue: Sized {
    /// Converts `value`, or says why it cannot.
    fn from_value(value: &Value) -> Result<Self>;
}

fn mismatch<T>(expected: &str, value: &Value) -> Result<T> {
    Err(Error::Value(format!(
        "expected {expected}, found {value:?}"
    )))
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self> {
        Ok(value.clone())
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Integer(v) => Ok(*v),
            other => mismatch("an integer", other),
        }
    }
}

macro_rules! narrow_integer {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self> {
                let wide = i64::from_value(value)?;
                <$t>::try_from(wide).map_err(|_| {
                    Error::Value(format!("{wide} does not fit in {}", stringify!($t)))
                })
            }
        }
    )*};
}
narrow_integer!(i32, u32, u64, usize);

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Integer(v) => Ok(*v != 0),
            other => mismatch("a boolean (integer 0 or 1)", other),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Real(v) => Ok(*v),
            // SQLite stores whole reals as integers when the column has no REAL affinity.
            Value::Integer(v) => Ok(*v as f64),
            // NUMERIC/DECIMAL arrive as their exact digits on PostgreSQL and MySQL (SQLite
            // stores them as integers or reals): read as a number on every backend.
            Value::Text(digits) => digits
                .trim()
                .parse()
                .or_else(|_| mismatch("a real (or the digits of a decimal)", value)),
            other => mismatch("a real", other),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Text(v) => Ok(v.clone()),
            other => mismatch("text", other),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Blob(v) => Ok(v.clone()),
            other => mismatch("a blob", other),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_rust_types() {
        assert_eq!(i64::from_value(&Value::from(7_i32)).unwrap(), 7);
        assert!(bool::from_value(&Value::from(true)).unwrap());
        assert_eq!(String::from_value(&Value::from("x")).unwrap(), "x");
        assert_eq!(
            Option::<i64>::from_value(&Value::from(None::<i64>)).unwrap(),
            None
        );
        assert_eq!(f64::from_value(&Value::Integer(2)).unwrap(), 2.0);
        assert_eq!(
            Vec::<u8>::from_value(&Value::from(&b"ab"[..])).unwrap(),
            b"ab"
        );
    }

    #[test]
    fn decimals_read_as_numbers_whatever_the_backend_sends() {
        // PostgreSQL and MySQL send a DECIMAL's exact digits; SQLite an integer or a real.
        for value in [
            Value::Text("12.50".into()),
            Value::Real(12.5),
            Value::Text(" 12.5".into()),
        ] {
            assert_eq!(f64::from_value(&value).unwrap(), 12.5, "{value:?}");
        }
        assert_eq!(f64::from_value(&Value::Integer(12)).unwrap(), 12.0);
        let err = f64::from_value(&Value::Text("twelve".into())).unwrap_err();
        assert!(err.to_string().contains("digits of a decimal"), "{err}");
    }

    #[test]
    fn mismatches_and_overflow_are_errors() {
        let err = i64::from_value(&Value::Text("7".into())).unwrap_err();
        assert!(err.to_string().contains("expected an integer"), "{err}");
        let err = u32::from_value(&Value::Integer(-1)).unwrap_err();
        assert!(err.to_string().contains("does not fit in u32"), "{err}");
        assert!(String::from_value(&Value::Null).is_err());
    }
}
