//! The fixed rules: what is never allowed, per dialect, and why.

use sqlparser::ast::{ContextModifier, Expr, ObjectName, Set, Statement, Value, ValueWithSpan};
use wasmig_db::Dialect;

use crate::{Refusal, Rule};

use crate::Effect;

/// Names the host keeps for itself (the ledger).
pub const HOST_PREFIX: &str = "wasmig_";

/// Pragmas a SQLite step may use: the foreign-key switches real table rebuilds need, and
/// read-only schema introspection.
const SAFE_PRAGMAS: &[&str] = &[
    "foreign_keys",
    "defer_foreign_keys",
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "foreign_key_list",
];

/// Catalog relations a step may read: schema metadata, never data.
fn catalog_relations(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Sqlite => &[
            "sqlite_master",
            "sqlite_schema",
            "pragma_table_info",
            "pragma_table_xinfo",
            "pragma_index_list",
            "pragma_index_info",
            "pragma_foreign_key_list",
        ],
        Dialect::Postgres => &[
            "information_schema.tables",
            "information_schema.columns",
            "information_schema.table_constraints",
            "information_schema.key_column_usage",
            "information_schema.views",
            "pg_indexes",
            "pg_catalog.pg_indexes",
        ],
        Dialect::MySql => &[
            "information_schema.tables",
            "information_schema.columns",
            "information_schema.statistics",
            "information_schema.table_constraints",
            "information_schema.key_column_usage",
            "information_schema.views",
        ],
    }
}

/// The parts of a name as written, unquoted and lower-cased.
pub fn lowered_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| {
            part.as_ident()
                .map_or_else(|| part.to_string(), |i| i.value.clone())
                .to_lowercase()
        })
        .collect()
}

/// True when `relation` is a catalog relation a step may read.
pub fn is_catalog(dialect: Dialect, relation: &ObjectName) -> bool {
    let written = lowered_parts(relation).join(".");
    catalog_relations(dialect).contains(&written.as_str())
}

/// Set-returning functions a step may call in `FROM`: they make rows out of their arguments
/// (series, arrays, JSON, text) and read no table.
fn table_functions(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Postgres => &[
            "generate_series",
            "generate_subscripts",
            "unnest",
            "json_each",
            "json_each_text",
            "jsonb_each",
            "jsonb_each_text",
            "json_array_elements",
            "json_array_elements_text",
            "jsonb_array_elements",
            "jsonb_array_elements_text",
            "json_to_recordset",
            "jsonb_to_recordset",
            "json_populate_recordset",
            "jsonb_populate_recordset",
            "jsonb_path_query",
            "regexp_matches",
            "regexp_split_to_table",
            "string_to_table",
        ],
        Dialect::Sqlite => &["json_each", "json_tree"],
        Dialect::MySql => &[],
    }
}

/// Checks a set-returning function called in `FROM` against [`table_functions`].
pub fn check_table_function(dialect: Dialect, name: &ObjectName) -> Result<(), Refusal> {
    let parts = lowered_parts(name);
    let function = match parts.as_slice() {
        [function] => function.as_str(),
        [schema, function] if schema == "pg_catalog" => function.as_str(),
        _ => {
            return Err(Refusal::new(
                Rule::Function,
                format!("the function `{name}` is not one a step may call in FROM"),
            ));
        }
    };
    if table_functions(dialect).contains(&function) {
        Ok(())
    } else {
        Err(Refusal::new(
            Rule::Function,
            format!(
                "the function `{function}` in FROM is not one a step may call there; a step may \
             call {}",
                table_functions(dialect).join(", ")
            ),
        ))
    }
}

/// Checks a PRAGMA against the safe list.
pub fn check_pragma(
    dialect: Dialect,
    name: &ObjectName,
    _value: Option<&ValueWithSpan>,
) -> Result<(), Refusal> {
    if dialect != Dialect::Sqlite {
        return Err(Refusal::new(
            Rule::Statement,
            "PRAGMA is not a statement of this database",
        ));
    }
    let parts: Vec<String> = name.0.iter().map(|part| part.to_string()).collect();
    check_pragma_name(&parts)
}

/// Checks a PRAGMA's (possibly schema-qualified) name against the safe list.
pub fn check_pragma_name(parts: &[String]) -> Result<(), Refusal> {
    let pragma = parts.last().map(|p| p.to_lowercase()).unwrap_or_default();
    if parts.len() > 1 && !parts[0].eq_ignore_ascii_case("main") {
        return Err(Refusal::new(
            Rule::Setting,
            format!("PRAGMA `{}` targets another schema", parts.join(".")),
        ));
    }
    if SAFE_PRAGMAS.contains(&pragma.as_str()) {
        Ok(())
    } else {
        Err(Refusal::new(
            Rule::Setting,
            format!(
                "PRAGMA {pragma} is not allowed; a step may use only {}",
                SAFE_PRAGMAS.join(", ")
            ),
        ))
    }
}

/// What a PRAGMA the safe list allows changes: `foreign_keys` is a setting of the connection
/// the host restores after the step; the others read, or last only as long as the
/// transaction (`defer_foreign_keys`).
pub fn pragma_effects(parts: &[String]) -> Vec<Effect> {
    let pragma = parts.last().map(|p| p.to_lowercase()).unwrap_or_default();
    if pragma == "foreign_keys" {
        vec![Effect::Setting { name: pragma }]
    } else {
        Vec::new()
    }
}

/// Session settings real migration histories change, per dialect; the host puts them back
/// when the step ends. Everything else a `SET` could touch is the host's.
fn allowed_settings(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::MySql => &["foreign_key_checks", "unique_checks"],
        Dialect::Postgres => &["lock_timeout", "statement_timeout"],
        Dialect::Sqlite => &[],
    }
}

/// Checks a `SET` statement: only the settings of [`allowed_settings`], for the session or
/// the transaction, to a plain value.
pub fn check_setting(dialect: Dialect, set: &Set) -> Result<Vec<Effect>, Refusal> {
    let assignments: Vec<(Option<ContextModifier>, &ObjectName, &[Expr])> = match set {
        Set::SingleAssignment {
            scope,
            hivevar: false,
            variable,
            values,
        } => vec![(*scope, variable, values.as_slice())],
        Set::MultipleAssignments { assignments } => assignments
            .iter()
            .map(|a| (a.scope, &a.name, std::slice::from_ref(&a.value)))
            .collect(),
        _ => return Err(not_allowed(&Statement::Set(set.clone()))),
    };
    let mut effects = Vec::new();
    for (scope, variable, values) in assignments {
        let name = setting_name(dialect, scope, variable)?;
        if !values.iter().all(is_plain_value) {
            return Err(Refusal::new(
                Rule::Setting,
                format!(
                    "SET {name}: a setting takes a plain value here (a number, a word or a string)"
                ),
            ));
        }
        effects.push(Effect::Setting { name });
    }
    Ok(effects)
}

/// The lower-cased name of an allowed setting, whatever form it is written in
/// (`foreign_key_checks`, `SESSION foreign_key_checks`, `@@session.foreign_key_checks`).
fn setting_name(
    dialect: Dialect,
    scope: Option<ContextModifier>,
    variable: &ObjectName,
) -> Result<String, Refusal> {
    let written = variable.to_string();
    if written.starts_with('@') && !written.starts_with("@@") {
        return Err(dynamic_sql_reason());
    }
    let lowered = written.to_lowercase();
    let bare = lowered.trim_start_matches("@@");
    let (prefix, name) = match bare.split_once('.') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, bare),
    };
    let global = matches!(scope, Some(ContextModifier::Global))
        || prefix.is_some_and(|p| p != "session" && p != "local");
    let allowed = allowed_settings(dialect);
    if global || !allowed.contains(&name) {
        let list = if allowed.is_empty() {
            "none".to_owned()
        } else {
            allowed.join(", ")
        };
        return Err(Refusal::new(
            Rule::Setting,
            format!(
                "SET {written}: changing session or server settings is the host's business; a \
             step may change only {list}, for itself"
            ),
        ));
    }
    Ok(name.to_owned())
}

fn is_plain_value(expr: &Expr) -> bool {
    match expr {
        Expr::Value(value) => matches!(
            value.value,
            Value::Number(..) | Value::SingleQuotedString(_) | Value::Boolean(_)
        ),
        Expr::Identifier(ident) => ident.quote_style.is_none(),
        Expr::UnaryOp { expr, .. } => matches!(**expr, Expr::Value(_)),
        _ => false,
    }
}

/// True when `sql` is PostgreSQL's `SET CONSTRAINTS { ALL | name, … } { DEFERRED | IMMEDIATE }`,
/// which lasts as long as the transaction.
pub fn is_set_constraints(sql: &str) -> bool {
    let words: Vec<String> = sql
        .trim()
        .trim_end_matches(';')
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let name = |w: &String| {
        w.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    matches!(words.as_slice(), [set, constraints, targets @ .., mode]
        if set == "set" && constraints == "constraints" && !targets.is_empty()
            && targets.iter().all(name)
            && (mode == "deferred" || mode == "immediate"))
}

fn dynamic_sql_reason() -> Refusal {
    Refusal::new(
        Rule::Unreadable,
        "dynamic SQL (user variables, PREPARE and EXECUTE) builds statements the policy cannot \
     read; write this step as a component, which can look at the schema (`db.has_column`, \
     `db.query`) and send the statement it decides on",
    )
}

/// Why `sql` is refused when it is MySQL's dynamic SQL (`PREPARE`, `EXECUTE`, `DEALLOCATE`,
/// `SET @var`), which sqlparser may not read.
pub fn dynamic_sql(dialect: Dialect, sql: &str) -> Option<Refusal> {
    if dialect != Dialect::MySql {
        return None;
    }
    let mut words = sql.split_whitespace().map(str::to_lowercase);
    let first = words.next()?;
    let dynamic = matches!(first.as_str(), "prepare" | "execute" | "deallocate")
        || (first == "set"
            && words
                .next()
                .is_some_and(|w| w.starts_with('@') && !w.starts_with("@@")));
    dynamic.then(dynamic_sql_reason)
}

/// Why `sql` is refused when it names a MariaDB/MySQL user variable (`@name`, `@'name'`,
/// `` @`name` ``) or an account (`'user'@'host'`): session state and server accounts outside
/// the module's objects (the host passes a module account's parameters in such variables);
/// `None` otherwise. `@@name` system variables are read as settings; an `@` in a string or a
/// comment is text.
pub fn user_variable(dialect: Dialect, sql: &str) -> Option<Refusal> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    if dialect != Dialect::MySql || !sql.contains('@') {
        return None;
    }
    let sql_dialect = crate::sql_dialect(dialect);
    let tokens = Tokenizer::new(sql_dialect.as_ref(), sql).tokenize().ok()?;
    let significant: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    // sqlparser lets `@` continue a word (`DISTINCT@x` is one word to it, `DISTINCT @x` to
    // the server), and no unquoted identifier may hold one: any `@` in a word names a
    // variable, but a lone `@@name` or `@@scope.name`.
    // sqlparser also takes any character after `@@` into the word (`` @@`x `` would open a
    // quoted name that hides what follows from the policy): a system variable is
    // `@@name` or `@@scope.name` of plain characters only.
    let system = |rest: &str| {
        rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))
    };
    let named_in =
        |word: &str| word.contains('@') && word.strip_prefix("@@").is_none_or(|rest| !system(rest));
    let named = significant
        .iter()
        .enumerate()
        .any(|(i, token)| match token {
            Token::Word(w) => w.quote_style.is_none() && named_in(&w.value),
            Token::Placeholder(p) => named_in(p),
            // `@@name` may come as two signs and a word.
            Token::AtSign => {
                let sign = |j: Option<usize>| {
                    j.and_then(|j| significant.get(j))
                        .is_some_and(|t| matches!(t, Token::AtSign))
                };
                !sign(i.checked_sub(1)) && !sign(Some(i + 1))
            }
            _ => false,
        });
    named.then(|| {
        Refusal::new(
            Rule::Unreadable,
            "user variables and accounts (`@name`, `'user'@'host'`) are session state and \
             server accounts outside the module's objects: bind the value as a parameter, and \
             leave `DEFINER` out (the module's account is the definer)",
        )
    })
}

/// Why `sql` is refused when the server and the policy would read its comments differently:
/// sqlparser starts a MySQL `--` comment at any Unicode space after the dashes, the server
/// only at an ASCII one (what follows `--\u{a0}` runs, unseen by the policy). `None`
/// otherwise.
pub fn ambiguous_comment(dialect: Dialect, sql: &str) -> Option<Refusal> {
    if dialect != Dialect::MySql {
        return None;
    }
    let ambiguous = sql
        .match_indices("--")
        .any(|(at, _)| sql[at + 2..].starts_with(|c: char| c.is_whitespace() && !c.is_ascii()));
    ambiguous.then(|| {
        Refusal::new(
            Rule::Unreadable,
            "`--` followed by a non-ASCII space is a comment to the policy and not to the \
             server: write an ASCII space after `--`",
        )
    })
}

/// True for `NEW.column`, the row a MySQL `BEFORE` trigger may set (`SET NEW.x = …`).
pub fn is_new_row_column(variable: &ObjectName) -> bool {
    variable.0.len() == 2 && variable.0[0].to_string().eq_ignore_ascii_case("new")
}

/// Storage engines a step may choose: ones that keep rows in the database's own files
/// (`MERGE`, `FEDERATED`, `CONNECT`, `SPIDER` and the like reach other tables or servers).
const TABLE_ENGINES: &[&str] = &["innodb", "aria", "myisam"];

/// MySQL's `ALTER TABLE name option [,] option …` with table options only (`ENGINE=InnoDB`,
/// `CONVERT TO CHARACTER SET …`, `COMMENT='…'`), which sqlparser does not read: the table's
/// name parts, and whether every option is one a step may set. `None` when `sql` is not
/// such a statement.
pub fn mysql_table_options(sql: &str) -> Option<(Vec<String>, Result<(), Refusal>)> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let tokens: Vec<Token> = Tokenizer::new(&sqlparser::dialect::MySqlDialect {}, sql)
        .tokenize()
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let word = |t: &Token| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
        _ => None,
    };
    let ident = |t: &Token| match t {
        Token::Word(w) => Some(w.value.clone()),
        _ => None,
    };
    if word(tokens.first()?)? != "alter" || word(tokens.get(1)?)? != "table" {
        return None;
    }
    let mut name = vec![ident(tokens.get(2)?)?];
    let mut at = 3;
    if tokens.get(at) == Some(&Token::Period) {
        name.push(ident(tokens.get(at + 1)?)?);
        at += 2;
    }
    let options = &tokens[at..];
    if options.is_empty() {
        return None;
    }
    Some((name, check_table_options(options, &word)))
}

fn check_table_options(
    options: &[sqlparser::tokenizer::Token],
    word: &dyn Fn(&sqlparser::tokenizer::Token) -> Option<String>,
) -> Result<(), Refusal> {
    const SETTABLE: &[&str] = &[
        "engine",
        "charset",
        "character",
        "collate",
        "convert",
        "to",
        "set",
        "default",
        "comment",
        "row_format",
        "auto_increment",
        "key_block_size",
        "stats_persistent",
        "stats_auto_recalc",
        "stats_sample_pages",
        "pack_keys",
        "checksum",
        "page_checksum",
        "transactional",
        "force",
    ];
    use sqlparser::tokenizer::Token;
    let mut previous: Option<String> = None;
    for token in options {
        // The engine's name, however it is written: a word, a quoted name or a string.
        if previous.as_deref() == Some("engine") && !matches!(token, Token::Eq) {
            let engine = match token {
                Token::Word(w) => w.value.to_lowercase(),
                Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.to_lowercase(),
                other => other.to_string(),
            };
            if !TABLE_ENGINES.contains(&engine.as_str()) {
                return Err(Refusal::new(
                    Rule::Statement,
                    format!(
                        "ENGINE={engine}: a step may keep its tables only in {}",
                        TABLE_ENGINES.join(", ")
                    ),
                ));
            }
            previous = None;
            continue;
        }
        match token {
            Token::Eq | Token::Comma | Token::Number(..) | Token::SingleQuotedString(_) => {}
            Token::Word(_) => {
                let value = word(token).unwrap_or_default();
                let after_name = matches!(
                    previous.as_deref(),
                    Some("charset" | "collate" | "row_format" | "set")
                );
                if !after_name && !SETTABLE.contains(&value.as_str()) {
                    return Err(Refusal::new(
                        Rule::Statement,
                        format!(
                            "ALTER TABLE … {}: a step may set only its tables' engine, character \
                         set, collation, comment, row format and counters",
                            value.to_uppercase()
                        ),
                    ));
                }
                previous = Some(value);
            }
            other => {
                return Err(Refusal::new(
                    Rule::Statement,
                    format!("`{other}` is not a table option"),
                ));
            }
        }
    }
    Ok(())
}

/// Checks the options of a MySQL `CREATE TABLE` as those of an `ALTER TABLE`: an engine from
/// the allow-list, never `UNION=`, `DATA DIRECTORY`, `CONNECTION` and the like.
pub fn check_create_table_options(options: &[sqlparser::ast::SqlOption]) -> Result<(), Refusal> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let word = |t: &Token| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
        _ => None,
    };
    for option in options {
        let written = option.to_string();
        let tokens: Vec<Token> = Tokenizer::new(&sqlparser::dialect::MySqlDialect {}, &written)
            .tokenize()
            .map_err(|e| {
                Refusal::new(
                    Rule::Unreadable,
                    format!("the table option `{written}` cannot be read: {e}"),
                )
            })?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        check_table_options(&tokens, &word).map_err(|refusal| Refusal {
            reason: refusal.reason.replace("ALTER TABLE …", "CREATE TABLE …"),
            ..refusal
        })?;
    }
    Ok(())
}

/// True when `sql` holds a MySQL executable comment outside strings and quoted names:
/// `/*! … */` and MariaDB's `/*M! … */` run as code on the server, though a reader (and a
/// parser) may take them for comments.
pub fn has_executable_comment(sql: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let rest = &sql[at..];
        match quote {
            Some(q) if c == '\\' && q != '`' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            // Optimizer hints are read by the server too (MySQL's `SET_VAR` changes settings).
            None if rest.starts_with("/*!")
                || rest.starts_with("/*M!")
                || rest.starts_with("/*+") =>
            {
                return true;
            }
            None if rest.starts_with("/*") => {
                let end = rest.find("*/").map_or(sql.len(), |e| at + e + 2);
                while chars.peek().is_some_and(|(i, _)| *i < end) {
                    chars.next();
                }
            }
            None if rest.starts_with("-- ") || rest.starts_with("--\t") || c == '#' => {
                let end = rest.find('\n').map_or(sql.len(), |e| at + e);
                while chars.peek().is_some_and(|(i, _)| *i < end) {
                    chars.next();
                }
            }
            None => {}
        }
    }
    false
}

/// Why `… CASCADE` is refused: it also drops (or empties) what others built on the module's
/// object, whoever owns it (PostgreSQL does not ask).
pub fn refuse_cascade(what: &str) -> Refusal {
    let reason = format!(
        "{what} … CASCADE would also drop or empty what others built on the module's object \
         (their views, foreign keys, rows), whoever owns it: drop the module's own dependent \
         objects first, then this one without CASCADE"
    );
    Refusal::new(Rule::Statement, reason)
}

/// The first argument of a function call when it is a string literal (possibly cast, as in
/// `'x_seq'::regclass`).
pub fn first_string_argument(function: &sqlparser::ast::Function) -> Option<String> {
    use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(mut expr))) = list.args.first().cloned()
    else {
        return None;
    };
    while let Expr::Cast { expr: inner, .. } = expr {
        expr = *inner;
    }
    match expr {
        Expr::Value(value) => match value.value {
            Value::SingleQuotedString(text) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// Why a statement kind outside the allowed set is refused.
pub fn not_allowed(statement: &Statement) -> Refusal {
    let (rule, why) = match statement {
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => (
            Rule::TransactionControl,
            "transaction control belongs to the host, which runs each step in its own transaction",
        ),
        Statement::AttachDatabase { .. }
        | Statement::AttachDuckDBDatabase { .. }
        | Statement::DetachDuckDBDatabase { .. } => (
            Rule::Statement,
            "attaching databases reaches outside this one",
        ),
        Statement::Set(_) | Statement::Reset(_) | Statement::AlterSession { .. } => (
            Rule::Setting,
            "changing session or server settings is the host's business",
        ),
        Statement::Grant(_)
        | Statement::Deny(_)
        | Statement::Revoke(_)
        | Statement::CreateRole(_)
        | Statement::AlterRole { .. }
        | Statement::CreateUser(_)
        | Statement::AlterUser(_) => (
            Rule::Statement,
            "privileges, roles and users are the host's business",
        ),
        Statement::CreateExtension(_) | Statement::DropExtension(_) | Statement::Install { .. } => {
            (
                Rule::Extension,
                "extensions load code into the database server",
            )
        }
        Statement::CreateFunction(_)
        | Statement::CreateProcedure { .. }
        | Statement::AlterFunction(_)
        | Statement::DropFunction(_)
        | Statement::DropProcedure { .. }
        | Statement::Call(_)
        | Statement::Execute { .. }
        | Statement::Prepare { .. } => (
            Rule::Code,
            "stored and dynamic code runs outside the policy",
        ),
        Statement::Copy { .. } | Statement::LoadData { .. } | Statement::Unload { .. } => (
            Rule::Statement,
            "COPY and LOAD DATA read or write files and programs",
        ),
        Statement::Vacuum(_) => (Rule::Statement, "VACUUM rewrites the whole database"),
        Statement::CreateDatabase { .. } | Statement::CreateSchema { .. } | Statement::Use(_) => (
            Rule::Statement,
            "databases and schemas are the host's business",
        ),
        Statement::LockTables { .. } | Statement::UnlockTables | Statement::Lock(_) => (
            Rule::Statement,
            "table locks interfere with the host's transaction",
        ),
        Statement::Kill { .. } | Statement::Flush { .. } => (
            Rule::Statement,
            "server administration is the host's business",
        ),
        _ => (
            Rule::Statement,
            "this kind of statement is not allowed in a migration",
        ),
    };
    let kind = statement.to_string();
    let kind: String = kind
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    Refusal::new(rule, format!("{kind}: {why}"))
}

/// The name of a PRAGMA when `sql` is exactly one `PRAGMA [schema.]name [= word | (word)]`.
pub fn lone_pragma(sql: &str) -> Option<Vec<String>> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let (keyword, rest) = sql.split_once(char::is_whitespace)?;
    if !keyword.eq_ignore_ascii_case("pragma") {
        return None;
    }
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let (name, value) = match rest.split_once('=') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => match rest.split_once('(') {
            Some((name, value)) => (name.trim(), Some(value.strip_suffix(')')?.trim())),
            None => (rest.trim(), None),
        },
    };
    let parts: Vec<String> = name.split('.').map(str::to_owned).collect();
    let valid = parts.iter().all(|p| word(p))
        && parts.len() <= 2
        && value.is_none_or(|v| word(v.trim_matches('\'')));
    valid.then_some(parts)
}
