//! Statements whose expressions chain so many operators that their syntax tree could not be
//! walked: refused before sqlparser builds the tree.
//!
//! sqlparser reads `1 + 1 + … + 1` in a loop, but the tree it builds is as deep as the chain,
//! and every later walk of it (the policy's visitors, printing it, dropping it) descends it
//! recursively. 100,000 terms (200 KB, well under the default 4 MiB statement limit)
//! overflowed a 2 MiB thread stack when the parsed statement was dropped: the whole host
//! process ends then, not just the step.

use sqlparser::ast::Statement;
use sqlparser::dialect::Dialect as SqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

/// The most operators an expression may chain at one level of parentheses.
pub const MAX_CHAIN: usize = 1000;

/// Parses `sql` like [`Parser::parse_sql`], after refusing an expression that chains more than
/// [`MAX_CHAIN`] operators at one level of parentheses.
pub fn parse_sql(dialect: &dyn SqlDialect, sql: &str) -> Result<Vec<Statement>, ParserError> {
    let longest = longest_chain(dialect, sql);
    if longest > MAX_CHAIN {
        return Err(ParserError::ParserError(format!(
            "an expression chains {longest} operators, more than the {MAX_CHAIN} the policy \
             reads at one level of parentheses: write long lists as `IN (…)` or split the \
             statement"
        )));
    }
    Parser::parse_sql(dialect, sql)
}

/// The most operators chained at one level of parentheses or brackets in `sql`: a comma or a
/// semicolon ends a chain; a parenthesised part is a level of its own, after which the
/// chain around it goes on (`1 + abs(1) + abs(1) …` is one chain). 0 when `sql` does not
/// tokenize (the parser refuses it then).
fn longest_chain(dialect: &dyn SqlDialect, sql: &str) -> usize {
    let Ok(tokens) = Tokenizer::new(dialect, sql).tokenize() else {
        return 0;
    };
    let mut levels = vec![0_usize];
    let mut longest = 0;
    for token in &tokens {
        match token {
            Token::LParen | Token::LBracket | Token::LBrace => levels.push(0),
            Token::RParen | Token::RBracket | Token::RBrace if levels.len() > 1 => {
                levels.pop();
            }
            Token::Comma | Token::SemiColon => {
                if let Some(chain) = levels.last_mut() {
                    *chain = 0;
                }
            }
            token if is_operator(token) => {
                if let Some(chain) = levels.last_mut() {
                    *chain += 1;
                    longest = longest.max(*chain);
                }
            }
            _ => {}
        }
    }
    longest
}

/// True for a token that joins two operands: every sign but punctuation, and the words
/// `AND`, `OR`, `XOR`. A sign sqlparser adds later counts too.
fn is_operator(token: &Token) -> bool {
    use sqlparser::keywords::Keyword;
    match token {
        Token::Word(word) => {
            word.quote_style.is_none()
                && matches!(word.keyword, Keyword::AND | Keyword::OR | Keyword::XOR)
        }
        Token::EOF
        | Token::LParen
        | Token::RParen
        | Token::LBracket
        | Token::RBracket
        | Token::LBrace
        | Token::RBrace
        | Token::Comma
        | Token::SemiColon
        | Token::Number(..)
        | Token::Char(_)
        | Token::Whitespace(_)
        | Token::Period
        | Token::Colon
        | Token::Placeholder(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::TripleSingleQuotedString(_)
        | Token::TripleDoubleQuotedString(_)
        | Token::DollarQuotedString(_)
        | Token::SingleQuotedByteStringLiteral(_)
        | Token::DoubleQuotedByteStringLiteral(_)
        | Token::TripleSingleQuotedByteStringLiteral(_)
        | Token::TripleDoubleQuotedByteStringLiteral(_)
        | Token::SingleQuotedRawStringLiteral(_)
        | Token::DoubleQuotedRawStringLiteral(_)
        | Token::TripleSingleQuotedRawStringLiteral(_)
        | Token::TripleDoubleQuotedRawStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::QuoteDelimitedStringLiteral(..)
        | Token::NationalQuoteDelimitedStringLiteral(..)
        | Token::EscapedStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::GenericDialect;

    fn chain(sql: &str) -> usize {
        longest_chain(&GenericDialect {}, sql)
    }

    #[test]
    fn a_chain_is_counted_at_its_own_level_and_goes_on_around_a_parenthesised_part() {
        let cases: &[(&str, usize)] = &[
            ("SELECT 1", 0),
            ("SELECT 1 + 2 * 3", 2),
            ("SELECT a FROM t WHERE x = 1 AND y = 'a+b' OR z <> 2", 5),
            // Around calls and parentheses the chain goes on.
            ("SELECT 1 + abs(1) + abs(-1) + (2 * 3)", 3),
            // A comma or a semicolon ends one.
            ("SELECT 1 + 1, 2 + 2; SELECT 3 + 3", 1),
            ("INSERT INTO t VALUES (1 + 1, 2), (3, 4 * 5)", 1),
            // Quoted names, strings and placeholders are operands.
            ("SELECT \"and\" FROM t WHERE 'or' = ? || $1", 2),
            ("SELECT x::text::int FROM t", 2),
            // An unbalanced parenthesis is not an operator (the parser refuses it).
            ("SELECT 1 + 1))", 1),
        ];
        for (sql, expected) in cases {
            assert_eq!(chain(sql), *expected, "{sql}");
        }
    }

    #[test]
    fn a_chain_longer_than_the_limit_is_refused_before_it_is_parsed() {
        let dialect = GenericDialect {};
        let at_limit = format!("SELECT 1{}", " + 1".repeat(MAX_CHAIN));
        assert!(parse_sql(&dialect, &at_limit).is_ok());
        // Every way of writing a long chain: signs, words, calls in between.
        for term in [" + 1", " OR a = 1", " || abs(1)", "::text"] {
            let sql = format!("SELECT 1{}", term.repeat(100_000));
            let error = parse_sql(&dialect, &sql).unwrap_err().to_string();
            assert!(error.contains("more than the 1000"), "{term}: {error}");
        }
        // Many short chains are fine: a long list of values.
        let values = format!(
            "SELECT * FROM t WHERE x IN (1{})",
            ", 1 + 1".repeat(100_000)
        );
        assert!(parse_sql(&dialect, &values).is_ok());
    }
}
