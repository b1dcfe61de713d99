//! The policy never panics, whatever it is given: random bytes, and random sequences of SQL
//! tokens that reach deep into the parser. Bounded (a few thousand cases) to fit CI.

use std::collections::BTreeMap;

use proptest::prelude::*;
use wasmig_db::Dialect;
use wasmig_guard::{Catalog, Grants, Policy};

const TOKENS: &[&str] = &[
    "SELECT",
    "INSERT",
    "INTO",
    "UPDATE",
    "DELETE",
    "FROM",
    "WHERE",
    "CREATE",
    "TABLE",
    "VIEW",
    "INDEX",
    "TRIGGER",
    "DROP",
    "ALTER",
    "RENAME",
    "TO",
    "AS",
    "WITH",
    "RECURSIVE",
    "UNION",
    "ALL",
    "JOIN",
    "ON",
    "VALUES",
    "SET",
    "BEGIN",
    "END",
    "COMMIT",
    "ROLLBACK",
    "ATTACH",
    "PRAGMA",
    "COPY",
    "GRANT",
    "REFERENCES",
    "FOREIGN",
    "KEY",
    "PRIMARY",
    "IF",
    "NOT",
    "EXISTS",
    "(",
    ")",
    ",",
    ";",
    "*",
    "=",
    ".",
    "'x'",
    "\"q\"",
    "`b`",
    "1",
    "$1",
    "?",
    "--",
    "/*",
    "*/",
    "blog_posts",
    "victim_secrets",
    "wasmig_modules",
    "main",
    "public",
    "load_extension",
    "pg_read_file",
    "LOAD_FILE",
    "OUTFILE",
    "temp",
    "AFTER",
    "FOR",
    "EACH",
    "ROW",
    "NEW.id",
];

fn policy(dialect: Dialect) -> Policy {
    let objects: BTreeMap<String, Option<String>> = [
        ("blog_posts".to_owned(), Some("blog".to_owned())),
        ("victim_secrets".to_owned(), Some("victim".to_owned())),
        ("wasmig_modules".to_owned(), None),
    ]
    .into();
    Policy::new(
        dialect,
        "blog",
        Some("public"),
        Catalog { objects },
        Grants::default(),
    )
}

fn dialects() -> impl Strategy<Value = Dialect> {
    prop_oneof![
        Just(Dialect::Sqlite),
        Just(Dialect::Postgres),
        Just(Dialect::MySql)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(dialect in dialects(), tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..40)) {
        let sql = tokens.join(" ");
        let _ = policy(dialect).check(&sql);
    }

    #[test]
    fn arbitrary_text_never_panics(dialect in dialects(), sql in ".{0,200}") {
        let _ = policy(dialect).check(&sql);
    }
}
