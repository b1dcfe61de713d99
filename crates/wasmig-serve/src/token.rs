//! The secret every request must present.

use std::fmt;

/// The shortest token accepted: shorter ones are guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// A bearer token. Its `Debug` form hides it, so that it never reaches a log.
#[derive(Clone)]
pub struct Token(String);

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Shorter than [`MIN_TOKEN_LEN`] characters (surrounding whitespace aside).
    #[error("the token must be at least {MIN_TOKEN_LEN} characters long")]
    TooShort,
    /// Holds characters an HTTP header cannot carry as they are.
    #[error("the token must be printable ASCII without spaces")]
    NotPrintable,
    /// The system's random source failed.
    #[error("no random token could be made: {0}")]
    Random(#[source] getrandom::Error),
}

impl Token {
    /// A token read from a file or the environment; surrounding whitespace (a final newline)
    /// is not part of it.
    pub fn new(text: &str) -> Result<Self, TokenError> {
        let text = text.trim();
        if text.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        Ok(Token(text.to_owned()))
    }

    /// A fresh token of 32 random bytes, in hexadecimal.
    pub fn random() -> Result<Self, TokenError> {
        Ok(Token(random_hex::<32>()?))
    }

    /// The token itself, to show the operator once.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// True when `offered` is this token; takes the same time wherever they differ.
    pub fn matches(&self, offered: &str) -> bool {
        same_secret(&self.0, offered)
    }
}

/// True when `offered` is `secret`; takes the same time wherever and however long they
/// differ (their digests are compared, every byte).
pub(crate) fn same_secret(secret: &str, offered: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(secret), Sha256::digest(offered));
    a.iter()
        .zip(b.iter())
        .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(hidden)")
    }
}

/// `N` random bytes in hexadecimal.
pub(crate) fn random_hex<const N: usize>() -> Result<String, TokenError> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).map_err(TokenError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_itself_only() {
        let token = Token::new("correct-horse-battery\n").unwrap();
        assert!(token.matches("correct-horse-battery"));
        assert!(!token.matches("correct-horse-batterx"));
        assert!(!token.matches("correct-horse-battery "));
        assert!(!token.matches(""));
    }

    #[test]
    fn short_or_unprintable_tokens_are_refused() {
        assert!(matches!(Token::new("short"), Err(TokenError::TooShort)));
        assert!(matches!(
            Token::new("sixteen chars ok"),
            Err(TokenError::NotPrintable)
        ));
        assert!(matches!(
            Token::new("sixteen-chars-ok\u{e9}"),
            Err(TokenError::NotPrintable)
        ));
    }

    #[test]
    fn random_tokens_differ_and_never_show_in_debug() {
        let (a, b) = (Token::random().unwrap(), Token::random().unwrap());
        assert_eq!(a.reveal().len(), 64);
        assert_ne!(a.reveal(), b.reveal());
        assert!(!format!("{a:?}").contains(a.reveal()));
    }
}
