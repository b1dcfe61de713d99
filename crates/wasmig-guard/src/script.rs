//! Splitting a plain SQL step (`NNN_slug.sql`) into its statements.
//!
//! The text is tokenized with the target database's dialect, so a `;` inside a string, a
//! quoted name, a comment or a PostgreSQL dollar-quoted body does not split. Inside
//! `CREATE TRIGGER`/`PROCEDURE`/`FUNCTION` bodies, `BEGIN … END` blocks hold their `;`.
//! A line `-- wasmig:tolerant` just before a statement lets that statement fail without failing
//! the step.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};
use wasmig_db::Dialect;

use crate::sql_dialect;

/// The comment that marks the next statement as allowed to fail.
pub const TOLERANT_MARKER: &str = "wasmig:tolerant";

/// The comment that, as a SQL step's first line, makes it non-transactional: each of its
/// statements commits by itself, journaled, so that `CREATE INDEX CONCURRENTLY` can run and a
/// step cut short resumes where it stopped.
pub const NO_TRANSACTION_MARKER: &str = "wasmig:no-transaction";

/// True when `script`'s first line (after blank ones) is `-- wasmig:no-transaction`.
pub fn is_non_transactional(script: &str) -> bool {
    script
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .and_then(|line| line.strip_prefix("--"))
        .is_some_and(|comment| comment.trim() == NO_TRANSACTION_MARKER)
}

/// One statement of a SQL script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// Its text, as written from its first word (comments inside it included), without the
    /// final `;`.
    pub sql: String,
    /// The line it starts on, from 1.
    pub line: u64,
    /// True when a `-- wasmig:tolerant` line precedes it.
    pub tolerant: bool,
}

/// Splits `script` into statements; a script that cannot be tokenized (an unterminated
/// string or comment) is refused with the place it goes wrong. In a MySQL script, the `mysql`
/// client's `DELIMITER //` lines change what ends a statement until the next one (as files
/// written for that client do around triggers and procedures).
pub fn split_script(dialect: Dialect, script: &str) -> Result<Vec<ScriptStatement>, String> {
    if dialect != Dialect::MySql || !script.lines().any(|l| delimiter_directive(l).is_some()) {
        return split_tokens(dialect, script);
    }
    let mut statements = Vec::new();
    let mut delimiter = ";".to_owned();
    let mut segment = String::new();
    let mut segment_line = 1;
    for (index, line) in script.lines().enumerate() {
        let number = index as u64 + 1;
        if let Some(next) = delimiter_directive(line) {
            statements.extend(split_segment(dialect, &segment, segment_line, &delimiter)?);
            segment.clear();
            segment_line = number + 1;
            delimiter = next.to_owned();
            continue;
        }
        segment.push_str(line);
        segment.push('\n');
    }
    statements.extend(split_segment(dialect, &segment, segment_line, &delimiter)?);
    Ok(statements)
}

/// The new delimiter when `line` is the client's `DELIMITER <token>` directive.
fn delimiter_directive(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    let keyword = words.next()?;
    let delimiter = words.next()?;
    (keyword.eq_ignore_ascii_case("delimiter") && words.next().is_none()).then_some(delimiter)
}

/// The statements of a part of a script that starts on line `first_line` and ends its
/// statements with `delimiter`.
fn split_segment(
    dialect: Dialect,
    segment: &str,
    first_line: u64,
    delimiter: &str,
) -> Result<Vec<ScriptStatement>, String> {
    let mut statements = if delimiter == ";" {
        split_tokens(dialect, segment)?
    } else {
        split_on(segment, delimiter)?
    };
    for statement in &mut statements {
        statement.line += first_line - 1;
    }
    Ok(statements)
}

/// Splits `text` where `delimiter` stands outside strings, quoted names and comments.
fn split_on(text: &str, delimiter: &str) -> Result<Vec<ScriptStatement>, String> {
    #[derive(PartialEq)]
    enum In {
        Code,
        Quoted(char),
        LineComment,
        BlockComment,
    }
    let mut state = In::Code;
    let mut statements = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let rest = &text[at..];
        match state {
            In::Code if rest.starts_with(delimiter) => {
                push_statement(&mut statements, text, start, at);
                start = at + delimiter.len();
                for _ in 1..delimiter.chars().count() {
                    chars.next();
                }
            }
            In::Code if matches!(c, '\'' | '"' | '`') => state = In::Quoted(c),
            In::Code if rest.starts_with("--") || c == '#' => state = In::LineComment,
            In::Code if rest.starts_with("/*") => state = In::BlockComment,
            In::Quoted(quote) if c == '\\' && quote != '`' => {
                chars.next();
            }
            In::Quoted(quote) if c == quote => state = In::Code,
            In::LineComment if c == '\n' => state = In::Code,
            In::BlockComment if rest.starts_with("*/") => {
                chars.next();
                state = In::Code;
            }
            _ => {}
        }
    }
    if matches!(state, In::Quoted(_) | In::BlockComment) {
        return Err("the script cannot be read: a string or comment is not closed".into());
    }
    push_statement(&mut statements, text, start, text.len());
    Ok(statements)
}

/// Adds `text[start..end]` as a statement unless it holds only whitespace and comments.
fn push_statement(statements: &mut Vec<ScriptStatement>, text: &str, start: usize, end: usize) {
    let piece = &text[start..end];
    let Ok(tokens) = Tokenizer::new(&sqlparser::dialect::MySqlDialect {}, piece).tokenize() else {
        return;
    };
    if tokens.iter().all(|t| matches!(t, Token::Whitespace(_))) {
        return;
    }
    let leading = piece.len() - piece.trim_start().len();
    let line = text[..start + leading].matches('\n').count() as u64 + 1;
    statements.push(ScriptStatement {
        sql: piece.trim().to_owned(),
        line,
        tolerant: false,
    });
}

/// How much of a script is tokenized at once: the tokens of a whole file of short statements
/// take some 50 times its size, so a long script is read a window at a time.
const WINDOW: usize = 1 << 20;

/// Splits `script` on `;` tokens (see [`split_script`]), a window of about [`WINDOW`] bytes
/// at a time: the statements a window holds but its last are complete (tokenizing from a
/// statement boundary reads every token before the cut as a whole file would), and the next
/// window starts after them. A window cut inside a string or comment, or holding less than two
/// statements, is read again twice as long.
fn split_tokens(dialect: Dialect, script: &str) -> Result<Vec<ScriptStatement>, String> {
    split_windowed(dialect, script, WINDOW)
}

fn split_windowed(
    dialect: Dialect,
    script: &str,
    first_window: usize,
) -> Result<Vec<ScriptStatement>, String> {
    let mut statements = Vec::new();
    let (mut start, mut lines_before, mut window) = (0usize, 0, first_window);
    loop {
        let cut = start.saturating_add(window).min(script.len());
        let end = script[cut..]
            .find('\n')
            .map_or(script.len(), |at| cut + at + 1);
        let piece = &script[start..end];
        let last = end == script.len();
        match split_window(dialect, piece) {
            Ok(found) if last => {
                statements.extend(found.into_iter().map(|(mut statement, _)| {
                    statement.line += lines_before;
                    statement
                }));
                return Ok(statements);
            }
            Ok(mut found) if found.len() >= 2 => {
                found.pop();
                let consumed = found.last().map_or(0, |(_, end)| *end);
                statements.extend(found.into_iter().map(|(mut statement, _)| {
                    statement.line += lines_before;
                    statement
                }));
                lines_before += piece[..consumed].matches('\n').count() as u64;
                start += consumed;
                window = first_window;
            }
            Err(e) if last => {
                return Err(match lines_before {
                    0 => e,
                    n => format!("{e} (lines counted from line {})", n + 1),
                });
            }
            _ => window = window.saturating_mul(2),
        }
    }
}

/// Splits `script` on `;` tokens; each statement comes with the byte offset just after its `;`.
fn split_window(dialect: Dialect, script: &str) -> Result<Vec<(ScriptStatement, usize)>, String> {
    let sql_dialect = sql_dialect(dialect);
    let tokens = Tokenizer::new(sql_dialect.as_ref(), script)
        .tokenize_with_location()
        .map_err(|e| format!("the script cannot be read: {e}"))?;
    let offsets = LineOffsets::new(script);
    let mut statements = Vec::new();
    let mut current: Option<Open> = None;
    let mut tolerant = false;
    let mut index = 0;
    while index < tokens.len() {
        let TokenWithSpan { token, span } = &tokens[index];
        index += 1;
        match (token, &mut current) {
            (Token::Whitespace(Whitespace::SingleLineComment { comment, .. }), open)
                if comment.trim() == TOLERANT_MARKER =>
            {
                if open.is_some() {
                    return Err(format!(
                        "line {}: `-- {TOLERANT_MARKER}` must stand before a statement, not inside one",
                        span.start.line
                    ));
                }
                tolerant = true;
            }
            (Token::Whitespace(_), _) => {}
            (Token::SemiColon, None) => {}
            (Token::SemiColon, Some(open)) if open.depth <= 0 => {
                let end = offsets.byte(span.start);
                statements.push((open.finish(script, end), end + 1));
                current = None;
            }
            (_, None) => {
                current = Some(Open {
                    start: offsets.byte(span.start),
                    line: span.start.line,
                    tolerant: std::mem::take(&mut tolerant),
                    compound: creates_code(&tokens[index - 1..]),
                    depth: 0,
                });
            }
            (_, Some(open)) if open.compound => {
                if is_keyword(token, Keyword::BEGIN) || is_keyword(token, Keyword::CASE) {
                    open.depth += 1;
                } else if is_keyword(token, Keyword::END) {
                    // `END IF`, `END LOOP`, … close blocks that were not counted.
                    let next = tokens[index..]
                        .iter()
                        .find(|t| !matches!(t.token, Token::Whitespace(_)));
                    let closes_uncounted = next.is_some_and(|t| {
                        matches!(&t.token, Token::Word(w) if w.quote_style.is_none()
                            && ["IF", "LOOP", "WHILE", "REPEAT"]
                                .iter()
                                .any(|k| w.value.eq_ignore_ascii_case(k)))
                    });
                    if !closes_uncounted {
                        open.depth -= 1;
                    }
                    if next.is_some_and(|t| is_keyword(&t.token, Keyword::CASE)) {
                        // `END CASE`: skip the CASE, which closes rather than opens.
                        index = tokens[index..]
                            .iter()
                            .position(|t| is_keyword(&t.token, Keyword::CASE))
                            .map_or(index, |p| index + p + 1);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(open) = current {
        statements.push((open.finish(script, script.len()), script.len()));
    }
    if tolerant {
        return Err(format!(
            "`-- {TOLERANT_MARKER}` at the end of the script marks no statement"
        ));
    }
    Ok(statements)
}

/// `sql` with SQLite's `a IS b` / `a IS NOT b` spelled `a IS NOT DISTINCT FROM b` / `a IS
/// DISTINCT FROM b` where `b` is not a word sqlparser reads after `IS` itself; `None` when
/// there is nothing to respell or the text cannot be tokenized. Only the keywords change:
/// every other byte of the text stays as written (strings and quoted names included).
pub(crate) fn standard_is(dialect: &dyn sqlparser::dialect::Dialect, sql: &str) -> Option<String> {
    const UNDERSTOOD: &[Keyword] = &[
        Keyword::NULL,
        Keyword::TRUE,
        Keyword::FALSE,
        Keyword::UNKNOWN,
        Keyword::DISTINCT,
        Keyword::JSON,
        Keyword::NORMALIZED,
        Keyword::NFC,
        Keyword::NFD,
        Keyword::NFKC,
        Keyword::NFKD,
    ];
    let tokens = Tokenizer::new(dialect, sql).tokenize_with_location().ok()?;
    let offsets = LineOffsets::new(sql);
    let significant = |from: usize| {
        (from..tokens.len()).find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
    };
    // Byte ranges to replace (from `IS` to its operand), with their replacements.
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if !is_keyword(&token.token, Keyword::IS) {
            continue;
        }
        let after = significant(index + 1);
        let negated = after.filter(|&n| is_keyword(&tokens[n].token, Keyword::NOT));
        let operand = match negated {
            Some(not) => significant(not + 1),
            None => after,
        };
        let Some(operand) = operand else { continue };
        if UNDERSTOOD
            .iter()
            .any(|k| is_keyword(&tokens[operand].token, *k))
        {
            continue;
        }
        let spelled = if negated.is_some() {
            "IS DISTINCT FROM "
        } else {
            "IS NOT DISTINCT FROM "
        };
        let start = offsets.byte(token.span.start);
        edits.push((start, offsets.byte(tokens[operand].span.start), spelled));
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(sql.len() + 32 * edits.len());
    let mut at = 0;
    for (start, end, spelled) in edits {
        out.push_str(&sql[at..start]);
        out.push_str(spelled);
        at = end;
    }
    out.push_str(&sql[at..]);
    Some(out)
}

#[cfg(test)]
mod standard_is_tests {
    use super::*;

    #[test]
    fn sqlite_is_between_expressions_reads_as_the_standard_form() {
        let dialect = sqlparser::dialect::SQLiteDialect {};
        assert_eq!(
            standard_is(&dialect, "SELECT a IS NOT b, c IS 'x', d IS NULL FROM t").as_deref(),
            Some("SELECT a IS DISTINCT FROM b, c IS NOT DISTINCT FROM 'x', d IS NULL FROM t")
        );
        assert_eq!(
            standard_is(&dialect, "SELECT 'a IS b' FROM t WHERE x IS NOT NULL"),
            None
        );
        // Strings keep their doubled quotes: the respelling never moves where they end.
        assert_eq!(
            standard_is(&dialect, r#"SELECT 'a''' WHERE 1 IS 1; SELECT "q""" IS x"#).as_deref(),
            Some(
                r#"SELECT 'a''' WHERE 1 IS NOT DISTINCT FROM 1; SELECT "q""" IS NOT DISTINCT FROM x"#
            )
        );
    }
}

/// True when `tokens` start a `CREATE [OR REPLACE] [DEFINER = …] TRIGGER | FUNCTION |
/// PROCEDURE | EVENT`, whose body may hold `BEGIN … END` blocks with their own `;` (a column
/// named `begin` in a `CREATE TABLE` opens no block).
fn creates_code(tokens: &[TokenWithSpan]) -> bool {
    const CODE: &[Keyword] = &[
        Keyword::TRIGGER,
        Keyword::FUNCTION,
        Keyword::PROCEDURE,
        Keyword::EVENT,
    ];
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .take(12);
    if !words
        .next()
        .is_some_and(|t| is_keyword(&t.token, Keyword::CREATE))
    {
        return false;
    }
    for word in words {
        let Token::Word(w) = &word.token else {
            continue;
        };
        if CODE.contains(&w.keyword) && w.quote_style.is_none() {
            return true;
        }
        // What the object is comes before its name: after these words it is settled.
        if matches!(
            w.keyword,
            Keyword::TABLE | Keyword::VIEW | Keyword::INDEX | Keyword::TYPE | Keyword::SEQUENCE
        ) {
            return false;
        }
    }
    false
}

/// A statement being read.
struct Open {
    start: usize,
    line: u64,
    tolerant: bool,
    /// A `CREATE …` statement, whose body may hold `BEGIN … END` blocks.
    compound: bool,
    depth: i32,
}

impl Open {
    fn finish(&self, script: &str, end: usize) -> ScriptStatement {
        ScriptStatement {
            sql: script[self.start..end].trim_end().to_owned(),
            line: self.line,
            tolerant: self.tolerant,
        }
    }
}

fn is_keyword(token: &Token, keyword: Keyword) -> bool {
    matches!(token, Token::Word(word) if word.keyword == keyword && word.quote_style.is_none())
}

/// Byte offsets of the tokenizer's (line, column) locations, which count characters.
pub(crate) struct LineOffsets<'a> {
    script: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    pub(crate) fn new(script: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(script.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineOffsets { script, starts }
    }

    pub(crate) fn byte(&self, location: sqlparser::tokenizer::Location) -> usize {
        let Some(&line_start) = self.starts.get(location.line.saturating_sub(1) as usize) else {
            return self.script.len();
        };
        let column = location.column.saturating_sub(1) as usize;
        self.script[line_start..]
            .char_indices()
            .nth(column)
            .map_or(self.script.len(), |(i, _)| line_start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(dialect: Dialect, script: &str) -> Vec<String> {
        split_script(dialect, script)
            .unwrap()
            .into_iter()
            .map(|s| s.sql)
            .collect()
    }

    #[test]
    fn a_script_read_in_windows_splits_as_read_whole() {
        // The real histories of the corpus, each read in windows of a few bytes (so that
        // windows end inside strings, comments, bodies and statements) and whole.
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
        let mut compared = 0;
        for (dir, dialect) in [
            ("sqlite", Dialect::Sqlite),
            ("postgres", Dialect::Postgres),
            ("mysql", Dialect::MySql),
        ] {
            let steps = std::fs::read_dir(corpus.join(dir).join("migrations")).unwrap();
            for step in steps {
                let path = step.unwrap().path();
                let script = std::fs::read_to_string(&path).unwrap();
                let whole = split_windowed(dialect, &script, usize::MAX);
                for window in [1, 7, 64, 300] {
                    let windowed = split_windowed(dialect, &script, window);
                    assert_eq!(windowed, whole, "{} in windows of {window}", path.display());
                }
                compared += 1;
            }
        }
        assert!(compared > 100, "the corpus was read ({compared} files)");
        // A tolerant marker just before a window's cut still marks its statement.
        let script = "SELECT 1;\n-- wasmig:tolerant\nSELECT 'a;b';\nSELECT 3";
        let statements = split_windowed(Dialect::Sqlite, script, 12).unwrap();
        assert_eq!(
            statements,
            split_windowed(Dialect::Sqlite, script, usize::MAX).unwrap()
        );
        assert!(
            statements[1].tolerant && statements[1].line == 3,
            "{statements:?}"
        );
        assert!(split_windowed(Dialect::Sqlite, "SELECT 1;\nSELECT 'open", 4).is_err());
    }

    #[test]
    fn statements_split_on_semicolons_outside_strings_and_comments() {
        let script = "CREATE TABLE a (x TEXT); -- one; two\n\
                      INSERT INTO a VALUES ('it''s; fine');\n\n\
                      /* ; */ INSERT INTO a VALUES ('é;ü');;\n\
                      SELECT 1";
        assert_eq!(
            texts(Dialect::Sqlite, script),
            [
                "CREATE TABLE a (x TEXT)",
                "INSERT INTO a VALUES ('it''s; fine')",
                "INSERT INTO a VALUES ('é;ü')",
                "SELECT 1",
            ]
        );
    }

    #[test]
    fn trigger_and_function_bodies_stay_whole() {
        let sqlite = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = CASE WHEN 1 THEN 'y' END;\n  DELETE FROM b;\nEND;\nSELECT 2;";
        let parts = texts(Dialect::Sqlite, sqlite);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(parts[0].ends_with("END"), "{parts:?}");
        let postgres = "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.x := 1; RETURN NEW; END $$ LANGUAGE plpgsql; SELECT 1";
        assert_eq!(texts(Dialect::Postgres, postgres).len(), 2);
        let mysql = "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; CASE WHEN 1 THEN SELECT 2; END CASE; END; SELECT 3";
        let parts = texts(Dialect::MySql, mysql);
        assert_eq!(parts.len(), 2, "{parts:?}");
    }

    #[test]
    fn a_column_named_begin_opens_no_block() {
        let script = "CREATE TABLE evil_loot (begin, b);\nDELETE FROM users;\nSELECT 1;";
        assert_eq!(texts(Dialect::Sqlite, script).len(), 3);
        let trigger = "CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END; SELECT 2";
        assert_eq!(texts(Dialect::Sqlite, trigger).len(), 2);
        let definer = "CREATE DEFINER = `root`@`%` TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; END; SELECT 2";
        assert_eq!(texts(Dialect::MySql, definer).len(), 2);
    }

    #[test]
    fn the_tolerant_marker_applies_to_the_next_statement_only() {
        let script = "CREATE TABLE a (x INT);\n-- wasmig:tolerant\nALTER TABLE a ADD COLUMN y INT;\nSELECT 1;";
        let statements = split_script(Dialect::Sqlite, script).unwrap();
        let flags: Vec<(u64, bool)> = statements.iter().map(|s| (s.line, s.tolerant)).collect();
        assert_eq!(flags, [(1, false), (3, true), (4, false)]);
        let err = split_script(Dialect::Sqlite, "SELECT\n-- wasmig:tolerant\n1;").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let err = split_script(Dialect::Sqlite, "SELECT 1;\n-- wasmig:tolerant\n").unwrap_err();
        assert!(err.contains("marks no statement"), "{err}");
    }

    #[test]
    fn the_mysql_clients_delimiter_lines_are_followed() {
        let script = "CREATE TABLE a (x INT);\nDELIMITER $$\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW\nBEGIN\n  SET NEW.x = 1; -- ok $$ not here\n  SET @s = '$$';\nEND$$\nDELIMITER ;\nINSERT INTO a VALUES (1);\n";
        let statements = split_script(Dialect::MySql, script).unwrap();
        let lines: Vec<u64> = statements.iter().map(|s| s.line).collect();
        assert_eq!(lines, [1, 3, 9], "{statements:?}");
        assert!(statements[1].sql.starts_with("CREATE TRIGGER"));
        assert!(
            statements[1].sql.ends_with("END"),
            "{:?}",
            statements[1].sql
        );
        // Elsewhere DELIMITER is no directive of the database: the statement is refused later.
        assert_eq!(
            split_script(Dialect::Postgres, "DELIMITER //\nSELECT 1//")
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn unterminated_strings_are_refused() {
        let err = split_script(Dialect::Postgres, "SELECT 'oops;").unwrap_err();
        assert!(err.contains("cannot be read"), "{err}");
        assert!(
            split_script(Dialect::Sqlite, " -- nothing\n")
                .unwrap()
                .is_empty()
        );
    }
}
