//! The functions a step may call, per dialect: an allow-list of what real migrations use —
//! string, date and time, math, JSON, UUID, aggregate and window functions. Anything else
//! (functions that run SQL given as a string, read files or the server's state, XML helpers,
//! admin functions) is denied with its name.

use sqlparser::ast::{
    AlterTableOperation, Expr, FunctionArguments, IndexColumn, Statement, TableConstraint,
};
use wasmig_db::Dialect;

/// MySQL's index prefix lengths (`KEY k (url(191))`), which sqlparser reads as calls: the
/// expressions of the statement's index columns that look like `column(length)`. Only these
/// exact expressions are not calls; a `SLEEP(10)` anywhere else still is one.
pub fn index_prefixes(statement: &Statement) -> Vec<&Expr> {
    let columns: Vec<&IndexColumn> = match statement {
        Statement::CreateTable(create) => create
            .constraints
            .iter()
            .flat_map(constraint_columns)
            .collect(),
        Statement::CreateIndex(index) => index.columns.iter().collect(),
        Statement::AlterTable(alter) => alter
            .operations
            .iter()
            .flat_map(|operation| match operation {
                AlterTableOperation::AddConstraint { constraint, .. } => {
                    constraint_columns(constraint)
                }
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    columns
        .into_iter()
        .map(|column| &column.column.expr)
        .filter(|expr| is_prefix_length(expr))
        .collect()
}

/// The index columns of a table constraint.
fn constraint_columns(constraint: &TableConstraint) -> Vec<&IndexColumn> {
    match constraint {
        TableConstraint::Unique(c) => c.columns.iter().collect(),
        TableConstraint::PrimaryKey(c) => c.columns.iter().collect(),
        TableConstraint::Index(c) => c.columns.iter().collect(),
        TableConstraint::FulltextOrSpatial(c) => c.columns.iter().collect(),
        _ => Vec::new(),
    }
}

/// `name(<integer>)` with a bare one-part name.
fn is_prefix_length(expr: &Expr) -> bool {
    let Expr::Function(function) = expr else {
        return false;
    };
    let FunctionArguments::List(list) = &function.args else {
        return false;
    };
    function.name.0.len() == 1
        && list.args.len() == 1
        && list.args[0].to_string().chars().all(|c| c.is_ascii_digit())
}

/// Functions of every dialect (SQL-standard names sqlparser reads as calls).
const COMMON: &[&str] = &[
    // aggregates and windows
    "avg",
    "count",
    "max",
    "min",
    "sum",
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // conditionals
    "coalesce",
    "nullif",
    // strings
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "replace",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "concat",
    "concat_ws",
    "instr",
    "hex",
    "format",
    "left",
    "right",
    "lpad",
    "rpad",
    "reverse",
    "repeat",
    "ascii",
    "char",
    "regexp_replace",
    // math
    "abs",
    "round",
    "ceil",
    "ceiling",
    "floor",
    "mod",
    "power",
    "pow",
    "sqrt",
    "exp",
    "ln",
    "log",
    "log10",
    "log2",
    "sign",
    "pi",
    "trunc",
    "truncate",
    "degrees",
    "radians",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "random",
    "greatest",
    "least",
    // date and time (SQL keywords sqlparser reads as calls)
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "date",
    "time",
    "now",
];

const SQLITE: &[&str] = &[
    "changes",
    "char",
    "glob",
    "ifnull",
    "iif",
    "if",
    "last_insert_rowid",
    "like",
    "likelihood",
    "likely",
    "unlikely",
    "printf",
    "quote",
    "randomblob",
    "soundex",
    "total",
    "total_changes",
    "typeof",
    "subtype",
    "unhex",
    "unicode",
    "zeroblob",
    "group_concat",
    "string_agg",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
    "json",
    "jsonb",
    "json_array",
    "jsonb_array",
    "json_array_length",
    "json_error_position",
    "json_extract",
    "jsonb_extract",
    "json_insert",
    "jsonb_insert",
    "json_object",
    "jsonb_object",
    "json_patch",
    "jsonb_patch",
    "json_pretty",
    "json_remove",
    "jsonb_remove",
    "json_replace",
    "jsonb_replace",
    "json_set",
    "jsonb_set",
    "json_type",
    "json_valid",
    "json_quote",
    "json_group_array",
    "jsonb_group_array",
    "json_group_object",
    "jsonb_group_object",
    "json_each",
    "json_tree",
    "cot",
    "acosh",
    "asinh",
    "atanh",
    "cosh",
    "sinh",
    "tanh",
];

const POSTGRES: &[&str] = &[
    // strings
    "btrim",
    "bit_length",
    "initcap",
    "md5",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "encode",
    "decode",
    "position",
    "strpos",
    "split_part",
    "starts_with",
    "string_to_array",
    "array_to_string",
    "regexp_match",
    "regexp_matches",
    "regexp_split_to_array",
    "regexp_split_to_table",
    "regexp_count",
    "regexp_like",
    "translate",
    "to_hex",
    "chr",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "overlay",
    "normalize",
    "unaccent",
    // conversions, dates and times
    "to_char",
    "to_date",
    "to_number",
    "to_timestamp",
    "date_trunc",
    "date_part",
    "date_bin",
    "extract",
    "age",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timezone",
    "isfinite",
    "justify_days",
    "justify_hours",
    "justify_interval",
    // math
    "cbrt",
    "div",
    "factorial",
    "gcd",
    "lcm",
    "scale",
    "width_bucket",
    "setseed",
    // UUIDs and keys (pgcrypto and uuid-ossp too, where the operator allowed them)
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "gen_random_bytes",
    "digest",
    "hmac",
    "crypt",
    "gen_salt",
    // sequences (only the module's own: see `Policy::sequence_function`)
    "nextval",
    "currval",
    "setval",
    // arrays
    "array_agg",
    "array_append",
    "array_prepend",
    "array_cat",
    "array_length",
    "array_lower",
    "array_upper",
    "array_position",
    "array_positions",
    "array_remove",
    "array_replace",
    "cardinality",
    "unnest",
    "generate_series",
    "generate_subscripts",
    // aggregates
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "bit_and",
    "bit_or",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "percentile_cont",
    "percentile_disc",
    "mode",
    // JSON
    "to_json",
    "to_jsonb",
    "row_to_json",
    "array_to_json",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "json_object",
    "jsonb_object",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "json_array_length",
    "jsonb_array_length",
    "json_each",
    "json_each_text",
    "jsonb_each",
    "jsonb_each_text",
    "json_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "json_extract_path",
    "json_extract_path_text",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "json_object_keys",
    "jsonb_object_keys",
    "json_populate_record",
    "jsonb_populate_record",
    "json_populate_recordset",
    "jsonb_populate_recordset",
    "json_to_record",
    "jsonb_to_record",
    "json_to_recordset",
    "jsonb_to_recordset",
    "json_strip_nulls",
    "jsonb_strip_nulls",
    "json_typeof",
    "jsonb_typeof",
    "jsonb_set",
    "jsonb_set_lax",
    "jsonb_insert",
    "jsonb_pretty",
    "jsonb_path_exists",
    "jsonb_path_match",
    "jsonb_path_query",
    "jsonb_path_query_array",
    "jsonb_path_query_first",
    // full-text search over the row's own values (not `ts_stat`, which runs a query)
    "to_tsvector",
    "to_tsquery",
    "plainto_tsquery",
    "phraseto_tsquery",
    "websearch_to_tsquery",
    "setweight",
    "ts_rank",
    "ts_rank_cd",
    "ts_headline",
    "strip",
    "string_to_table",
    // the schema the step works in, to scope its catalog queries to it
    "current_schema",
    // enums
    "enum_range",
    "enum_first",
    "enum_last",
];

const MYSQL: &[&str] = &[
    // the database the step works in, to scope its catalog queries to it
    "database",
    "schema",
    "if",
    "ifnull",
    "isnull",
    "lcase",
    "ucase",
    "locate",
    "position",
    "substring_index",
    "field",
    "find_in_set",
    "elt",
    "space",
    "strcmp",
    "ord",
    "bin",
    "oct",
    "conv",
    "unhex",
    "to_base64",
    "from_base64",
    "md5",
    "sha1",
    "sha2",
    "crc32",
    "regexp_substr",
    "regexp_instr",
    "regexp_like",
    "insert",
    "quote",
    "soundex",
    "char_length",
    "inet_aton",
    "inet_ntoa",
    "inet6_aton",
    "inet6_ntoa",
    "uuid",
    "uuid_short",
    "uuid_to_bin",
    "bin_to_uuid",
    "sys_guid",
    "last_insert_id",
    "row_count",
    "values",
    "rand",
    "crc32c",
    "curdate",
    "curtime",
    "utc_date",
    "utc_time",
    "utc_timestamp",
    "sysdate",
    "date_format",
    "date_add",
    "date_sub",
    "adddate",
    "subdate",
    "addtime",
    "subtime",
    "datediff",
    "timediff",
    "timestampdiff",
    "timestampadd",
    "timestamp",
    "unix_timestamp",
    "from_unixtime",
    "from_days",
    "to_days",
    "to_seconds",
    "str_to_date",
    "makedate",
    "maketime",
    "sec_to_time",
    "time_to_sec",
    "time_format",
    "convert_tz",
    "last_day",
    "period_add",
    "period_diff",
    "year",
    "yearweek",
    "quarter",
    "month",
    "monthname",
    "week",
    "weekday",
    "weekofyear",
    "day",
    "dayname",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "hour",
    "minute",
    "second",
    "microsecond",
    "extract",
    "group_concat",
    "bit_and",
    "bit_or",
    "bit_xor",
    "bit_count",
    "std",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "json_array",
    "json_object",
    "json_quote",
    "json_contains",
    "json_contains_path",
    "json_extract",
    "json_value",
    "json_unquote",
    "json_keys",
    "json_search",
    "json_overlaps",
    "json_set",
    "json_insert",
    "json_replace",
    "json_remove",
    "json_merge",
    "json_merge_patch",
    "json_merge_preserve",
    "json_array_append",
    "json_array_insert",
    "json_depth",
    "json_length",
    "json_type",
    "json_valid",
    "json_pretty",
    "json_compact",
    "json_arrayagg",
    "json_objectagg",
    "json_table",
    "column_json",
    "column_get",
    "column_create",
    "column_add",
    "column_delete",
    "column_exists",
    "column_list",
    "cot",
];

fn allowed(dialect: Dialect) -> [&'static [&'static str]; 2] {
    let own = match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
    };
    [COMMON, own]
}

/// True when `name` (lower case, unqualified) is a built-in function a step may call.
pub fn is_allowed(dialect: Dialect, name: &str) -> bool {
    allowed(dialect).iter().any(|list| list.contains(&name))
}

/// SQLite's own functions for rewriting the schema during `ALTER TABLE … RENAME/DROP
/// COLUMN`: internal (no SQL text can call them), but its authorizer still asks about them.
pub fn is_sqlite_internal(name: &str) -> bool {
    matches!(
        name,
        "sqlite_rename_column"
            | "sqlite_rename_table"
            | "sqlite_rename_test"
            | "sqlite_drop_column"
            | "sqlite_rename_quotefix"
    )
}

/// Why a step may not call `name`.
pub(crate) fn refusal(name: &str) -> crate::Refusal {
    let reason = format!(
        "the function `{name}` is not one a step may call: steps may use the string, date and \
         time, math, JSON, UUID, aggregate and window functions migrations need, not functions \
         that run SQL given as text, read files, the server's state or other objects' \
         definitions"
    );
    crate::Refusal::new(crate::Rule::Function, reason).about(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_is_lower_case_and_never_names_a_dangerous_function() {
        let dangerous = [
            "load_extension",
            "readfile",
            "writefile",
            "pg_read_file",
            "pg_ls_dir",
            "lo_import",
            "dblink",
            "pg_sleep",
            "set_config",
            "current_setting",
            "query_to_xml",
            "ts_stat",
            "ts_rewrite",
            "xpath",
            "pg_get_viewdef",
            "col_description",
            "version",
            "current_user",
            "load_file",
            "sleep",
            "benchmark",
            "get_lock",
            "extractvalue",
            "updatexml",
            "user",
            "sys_exec",
        ];
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            for list in allowed(dialect) {
                for name in list {
                    assert_eq!(*name, name.to_lowercase(), "{name}");
                }
            }
            for name in dangerous {
                assert!(!is_allowed(dialect, name), "{name} on {dialect}");
            }
        }
    }
}
