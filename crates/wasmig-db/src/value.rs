/// One SQL value: the five storage classes every backend can represent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit signed integer (also booleans, as 0 and 1).
    Integer(i64),
    /// A double-precision float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// The integer inside, if this is one.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(v) => Some(*v),
            _ => None,
        }
    }

    /// The text inside, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(v) => Some(v),
            _ => None,
        }
    }
}

/// Writes the value as a SQL literal: `NULL`, `42`, `1.5`, `'it''s'`, `x'00ff'`.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(v) => write!(f, "{v}"),
            Value::Real(v) => write!(f, "{v:?}"),
            Value::Text(v) => write!(f, "'{}'", v.replace('\'', "''")),
            Value::Blob(v) => {
                f.write_str("x'")?;
                v.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
                f.write_str("'")
            }
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
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

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The rows a query returned, with its column names.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RowSet {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
}

#[cfg(test)]
mod tests {
    use super::Value;

    #[test]
    fn values_display_as_sql_literals() {
        let shown: Vec<String> = [
            Value::Null,
            Value::Integer(-7),
            Value::Real(1.0),
            Value::Text("it's".into()),
            Value::Blob(vec![0, 0xff]),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(shown, ["NULL", "-7", "1.0", "'it''s'", "x'00ff'"]);
    }
}
