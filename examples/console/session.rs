//! Sessions and protection against cross-site request forgery.
//!
//! Each browser gets a random session id in an `HttpOnly`, `SameSite=Strict` cookie, and the server keeps
//! one random CSRF token per session. Every form carries the token in a hidden field; a POST whose token
//! is missing or is not its session's token is refused before anything else happens. Another site can
//! make a browser send the cookie (older browsers ignore `SameSite`), but it cannot read the page, so it
//! cannot learn the token. The session also carries the one-shot message shown after a redirect.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use rand::RngCore as _;

/// The session cookie's name.
pub(crate) const COOKIE_NAME: &str = "console_session";
/// Sessions kept at once; the oldest is dropped beyond this, so a flood of cookie-less requests cannot
/// grow memory without bound.
const MAX_SESSIONS: usize = 10_000;

/// A message shown once, on the next page the session loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flash {
    /// An error (shown in red) or a confirmation.
    pub(crate) error: bool,
    /// The text; escaped when rendered.
    pub(crate) text: String,
}

#[derive(Debug)]
struct Session {
    csrf: String,
    flash: Option<Flash>,
    created: u64,
}

/// Every live session.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    inner: Mutex<(u64, HashMap<String, Session>)>,
}

/// The session of one request.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    /// The session id.
    pub(crate) id: String,
    /// The CSRF token forms of this session carry.
    pub(crate) csrf: String,
    /// `Set-Cookie` to send when the session is new.
    pub(crate) set_cookie: Option<HeaderValue>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session id a request's cookies carry, if any.
fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
}

/// Compares without stopping at the first difference, so timing does not reveal how much of a guess
/// was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// The request's session, or a new one (with its cookie to set).
    pub(crate) fn current(&self, headers: &HeaderMap) -> Current {
        let mut guard = self.inner.lock().unwrap();
        let (counter, sessions) = &mut *guard;
        if let Some(id) = cookie_id(headers) {
            if let Some(session) = sessions.get(&id) {
                return Current {
                    id,
                    csrf: session.csrf.clone(),
                    set_cookie: None,
                };
            }
        }
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(id, _)| id.clone())
            {
                sessions.remove(&oldest);
            }
        }
        *counter += 1;
        let id = random_token();
        let csrf = random_token();
        sessions.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                flash: None,
                created: *counter,
            },
        );
        let cookie = format!("{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict");
        Current {
            id,
            csrf,
            set_cookie: HeaderValue::from_str(&cookie).ok(),
        }
    }

    /// Whether a POST carries its session's CSRF token. A request without a known session fails.
    pub(crate) fn check_csrf(&self, headers: &HeaderMap, token: &str) -> bool {
        let Some(id) = cookie_id(headers) else {
            return false;
        };
        let guard = self.inner.lock().unwrap();
        guard
            .1
            .get(&id)
            .is_some_and(|s| !token.is_empty() && same(&s.csrf, token))
    }

    /// Leaves a message for the session's next page.
    pub(crate) fn flash(&self, headers: &HeaderMap, flash: Flash) {
        if let Some(id) = cookie_id(headers) {
            if let Some(session) = self.inner.lock().unwrap().1.get_mut(&id) {
                session.flash = Some(flash);
            }
        }
    }

    /// Takes the session's message, if any.
    pub(crate) fn take_flash(&self, id: &str) -> Option<Flash> {
        self.inner.lock().unwrap().1.get_mut(id)?.flash.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_belong_to_their_session() {
        let sessions = Sessions::default();
        let a = sessions.current(&HeaderMap::new());
        let b = sessions.current(&HeaderMap::new());
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, b.csrf);
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE_NAME}={}", a.id)).unwrap(),
        );
        assert!(sessions.check_csrf(&headers, &a.csrf));
        assert!(!sessions.check_csrf(&headers, &b.csrf));
        assert!(!sessions.check_csrf(&headers, ""));
        assert!(!sessions.check_csrf(&HeaderMap::new(), &a.csrf));
        assert_eq!(sessions.current(&headers).id, a.id);
    }
}
