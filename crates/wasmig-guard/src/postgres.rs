//! PostgreSQL statements real histories use that sqlparser does not read: `DO` blocks,
//! `REFRESH MATERIALIZED VIEW`, `ALTER SEQUENCE`, `CREATE SEQUENCE` with its options in any
//! order, and `CREATE MATERIALIZED VIEW … WITH [NO] DATA`. Each is recognised from its tokens,
//! narrowly: anything else stays unparsable, and so refused.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A statement recognised here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recognised {
    /// `DO [LANGUAGE lang] 'body'` (any quoting): an anonymous block.
    Do {
        /// The block's language (`plpgsql` when not given).
        language: String,
        /// Its body.
        body: String,
    },
    /// `REFRESH MATERIALIZED VIEW [CONCURRENTLY] name [WITH [NO] DATA]`.
    Refresh {
        /// The view's name parts.
        view: Vec<String>,
    },
    /// `ALTER SEQUENCE [IF EXISTS] name options…`.
    AlterSequence {
        /// The sequence's name parts.
        sequence: Vec<String>,
        /// The table of `OWNED BY table.column`.
        owned_by: Option<Vec<String>>,
    },
    /// `CREATE SEQUENCE [IF NOT EXISTS] name options…`.
    CreateSequence {
        /// The sequence's name parts.
        sequence: Vec<String>,
        /// The table of `OWNED BY table.column`.
        owned_by: Option<Vec<String>>,
    },
    /// Text that parses once a trailing `WITH [NO] DATA` is left out (a materialized view).
    WithoutData(String),
}

/// Words a sequence's options are made of (`INCREMENT BY 1`, `NO CYCLE`, `AS bigint`, …).
const SEQUENCE_WORDS: &[&str] = &[
    "as",
    "increment",
    "by",
    "minvalue",
    "maxvalue",
    "no",
    "start",
    "with",
    "cache",
    "cycle",
    "restart",
    "owned",
    "none",
    "smallint",
    "integer",
    "int",
    "bigint",
    "logged",
    "unlogged",
];

/// Recognises `sql`, or `None`.
pub(crate) fn recognise(sql: &str) -> Option<Recognised> {
    let tokens: Vec<Token> = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let tokens = match tokens.split_last() {
        Some((Token::SemiColon, rest)) => rest,
        _ => &tokens[..],
    };
    let words: Vec<Option<String>> = tokens.iter().map(word).collect();
    let is = |at: usize, expected: &str| words.get(at).and_then(|w| w.as_deref()) == Some(expected);
    if is(0, "do") {
        return recognise_do(&tokens[1..]);
    }
    if is(0, "refresh") && is(1, "materialized") && is(2, "view") {
        let mut at = 3 + usize::from(is(3, "concurrently"));
        let view = name(tokens, &mut at)?;
        let rest: Vec<_> = words[at..].iter().map(|w| w.as_deref()).collect();
        return matches!(
            rest.as_slice(),
            [] | [Some("with"), Some("data")] | [Some("with"), Some("no"), Some("data")]
        )
        .then_some(Recognised::Refresh { view });
    }
    let create = is(0, "create") && is(1, "sequence");
    if (is(0, "alter") && is(1, "sequence")) || create {
        let mut at = 2;
        if is(at, "if") && (is(at + 1, "exists") || (is(at + 1, "not") && is(at + 2, "exists"))) {
            at += if is(at + 1, "not") { 3 } else { 2 };
        }
        let sequence = name(tokens, &mut at)?;
        let owned_by = sequence_options(tokens, at)?;
        return Some(if create {
            Recognised::CreateSequence { sequence, owned_by }
        } else {
            Recognised::AlterSequence { sequence, owned_by }
        });
    }
    if is(0, "create") && words.iter().any(|w| w.as_deref() == Some("materialized")) {
        let n = words.len();
        let cut = if n >= 3 && is(n - 3, "with") && is(n - 2, "no") && is(n - 1, "data") {
            n - 3
        } else if n >= 2 && is(n - 2, "with") && is(n - 1, "data") {
            n - 2
        } else {
            return None;
        };
        let text: String = tokens[..cut].iter().map(|t| format!("{t} ")).collect();
        return Some(Recognised::WithoutData(text));
    }
    None
}

fn word(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
        _ => None,
    }
}

/// A possibly qualified name starting at `*at`; moves `*at` past it.
fn name(tokens: &[Token], at: &mut usize) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    loop {
        match tokens.get(*at)? {
            Token::Word(w) => parts.push(w.value.clone()),
            _ => return None,
        }
        *at += 1;
        if tokens.get(*at) != Some(&Token::Period) {
            return Some(parts);
        }
        *at += 1;
    }
}

/// Checks a sequence's options from `at` on; returns the table of `OWNED BY table.column`
/// (`Some(None)` when there is none), or `None` when something else is written there.
fn sequence_options(tokens: &[Token], mut at: usize) -> Option<Option<Vec<String>>> {
    let mut owned_by = None;
    while at < tokens.len() {
        match &tokens[at] {
            Token::Number(..) | Token::Minus | Token::Plus => at += 1,
            token => {
                let word = word(token)?;
                if !SEQUENCE_WORDS.contains(&word.as_str()) {
                    return None;
                }
                at += 1;
                let owned =
                    word == "owned" && tokens.get(at).and_then(self::word).as_deref() == Some("by");
                if owned {
                    at += 1;
                    if tokens.get(at).and_then(self::word).as_deref() == Some("none") {
                        at += 1;
                        continue;
                    }
                    let mut column = name(tokens, &mut at)?;
                    column.pop()?;
                    if column.is_empty() {
                        return None;
                    }
                    owned_by = Some(column);
                }
            }
        }
    }
    Some(owned_by)
}

/// `DO` followed by an optional `LANGUAGE name` on either side of the body string.
fn recognise_do(tokens: &[Token]) -> Option<Recognised> {
    let mut language = None;
    let mut body = None;
    let mut at = 0;
    while at < tokens.len() {
        match &tokens[at] {
            Token::Word(w)
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("language") =>
            {
                language = Some(match tokens.get(at + 1)? {
                    Token::Word(w) => w.value.to_lowercase(),
                    Token::SingleQuotedString(s) => s.to_lowercase(),
                    _ => return None,
                });
                at += 2;
            }
            Token::DollarQuotedString(s) if body.is_none() => {
                body = Some(s.value.clone());
                at += 1;
            }
            Token::SingleQuotedString(s) | Token::EscapedStringLiteral(s) if body.is_none() => {
                body = Some(s.clone());
                at += 1;
            }
            _ => return None,
        }
    }
    Some(Recognised::Do {
        language: language.unwrap_or_else(|| "plpgsql".to_owned()),
        body: body?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn do_blocks_refreshes_and_sequences_are_recognised_narrowly() {
        assert_eq!(
            recognise("DO $$ BEGIN PERFORM 1; END $$;"),
            Some(Recognised::Do {
                language: "plpgsql".into(),
                body: " BEGIN PERFORM 1; END ".into()
            })
        );
        assert!(matches!(
            recognise("DO LANGUAGE plpython3u 'import os'"),
            Some(Recognised::Do { language, .. }) if language == "plpython3u"
        ));
        assert_eq!(recognise("DO $$ x $$; DROP TABLE users"), None);
        assert_eq!(
            recognise("REFRESH MATERIALIZED VIEW CONCURRENTLY public.stats WITH DATA"),
            Some(Recognised::Refresh {
                view: vec!["public".into(), "stats".into()]
            })
        );
        assert_eq!(
            recognise("REFRESH MATERIALIZED VIEW stats; DELETE FROM users"),
            None
        );
        assert_eq!(
            recognise("ALTER SEQUENCE s OWNED BY t.id"),
            Some(Recognised::AlterSequence {
                sequence: vec!["s".into()],
                owned_by: Some(vec!["t".into()])
            })
        );
        assert_eq!(
            recognise("CREATE SEQUENCE IF NOT EXISTS s START WITH 1000 INCREMENT BY 1 NO CYCLE"),
            Some(Recognised::CreateSequence {
                sequence: vec!["s".into()],
                owned_by: None
            })
        );
        assert_eq!(recognise("ALTER SEQUENCE s RENAME TO t"), None);
        assert_eq!(recognise("ALTER SEQUENCE s OWNER TO postgres"), None);
        assert!(matches!(
            recognise("CREATE MATERIALIZED VIEW v AS SELECT 1 WITH NO DATA"),
            Some(Recognised::WithoutData(text)) if !text.contains("DATA")
        ));
    }
}
