//! Browser sessions: the token is entered once on the login page and exchanged for a session
//! cookie (HttpOnly, SameSite=Strict); every form carries the session's CSRF token, and a
//! state-changing request from another origin is refused whatever it carries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use crate::token::{TokenError, random_hex, same_secret};

/// The session cookie's name.
pub const COOKIE: &str = "wasmig_session";

/// How long a session lasts after login.
const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// Sessions at most: logging in again past it forgets the oldest.
const MAX_SESSIONS: usize = 64;

/// The open sessions, by id.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

/// One browser's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's id, as its cookie carries it.
    pub id: String,
    /// The token its forms must carry.
    pub csrf: String,
    expires: Instant,
}

impl Sessions {
    /// Opens a session (after a login with the right token).
    pub fn open(&self) -> Result<Session, TokenError> {
        let session = Session {
            id: random_hex::<32>()?,
            csrf: random_hex::<32>()?,
            expires: Instant::now() + LIFETIME,
        };
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.expires > Instant::now());
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .values()
                .min_by_key(|s| s.expires)
                .map(|s| s.id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(session.id.clone(), session.clone());
        Ok(session)
    }

    /// The live session whose cookie `headers` carry.
    pub fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let sessions = self.lock();
        let session = sessions.get(id)?;
        (session.expires > Instant::now()).then(|| session.clone())
    }

    /// Ends the session whose cookie `headers` carry.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.lock().remove(id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Session {
    /// True when `offered` is this session's CSRF token.
    pub fn accepts(&self, offered: &str) -> bool {
        same_secret(&self.csrf, offered)
    }

    /// The `Set-Cookie` value that gives the browser this session.
    pub fn cookie(&self) -> String {
        format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            self.id,
            LIFETIME.as_secs()
        )
    }
}

/// The `Set-Cookie` value that makes the browser forget its session.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The value of cookie `name` in `headers`.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// True unless the browser says the request comes from another site: `Sec-Fetch-Site`
/// (when sent) must be `same-origin` or `none`, and `Origin` (when sent) must be this host,
/// over HTTP or (behind a TLS proxy) HTTPS.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let fetch_site_ok = text("sec-fetch-site").is_none_or(|s| s == "same-origin" || s == "none");
    let origin_ok = match (text("origin"), text("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|rest| rest == host),
        (Some(_), None) => false,
    };
    fetch_site_ok && origin_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_session_is_found_by_its_cookie_only() {
        let sessions = Sessions::default();
        let session = sessions.open().unwrap();
        let cookie = format!("theme=dark; {COOKIE}={}", session.id);
        let found = sessions.find(&headers(&[("cookie", &cookie)])).unwrap();
        assert_eq!(found.csrf, session.csrf);
        assert!(found.accepts(&session.csrf) && !found.accepts("x"));
        let wrong = format!("{COOKIE}={}0", session.id);
        assert!(sessions.find(&headers(&[("cookie", &wrong)])).is_none());
        let other_name = format!("x{COOKIE}={}", session.id);
        assert!(
            sessions
                .find(&headers(&[("cookie", &other_name)]))
                .is_none()
        );
        sessions.close(&headers(&[("cookie", &cookie)]));
        assert!(sessions.find(&headers(&[("cookie", &cookie)])).is_none());
    }

    #[test]
    fn requests_from_another_origin_are_told_apart() {
        let cases = [
            (None, true),
            (Some(("origin", "http://127.0.0.1:8080")), true),
            (Some(("origin", "https://127.0.0.1:8080")), true),
            (Some(("origin", "http://127.0.0.1:8081")), false),
            (Some(("origin", "ftp://127.0.0.1:8080")), false),
            (Some(("origin", "http://evil.example")), false),
            (Some(("origin", "null")), false),
            (Some(("sec-fetch-site", "cross-site")), false),
            (Some(("sec-fetch-site", "same-site")), false),
            (Some(("sec-fetch-site", "same-origin")), true),
        ];
        for (header, expected) in cases {
            let mut pairs = vec![("host", "127.0.0.1:8080")];
            pairs.extend(header);
            assert_eq!(same_origin(&headers(&pairs)), expected, "{header:?}");
        }
    }

    #[test]
    fn sessions_are_bounded() {
        let sessions = Sessions::default();
        let first = sessions.open().unwrap();
        for _ in 0..MAX_SESSIONS {
            sessions.open().unwrap();
        }
        let cookie = format!("{COOKIE}={}", first.id);
        assert!(sessions.find(&headers(&[("cookie", &cookie)])).is_none());
    }
}
