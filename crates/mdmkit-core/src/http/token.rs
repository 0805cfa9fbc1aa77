//! OAuth 2.0 client-credentials tokens (Jamf, Intune): requested through the shared HTTP client (RFC 6749
//! §4.4, the secret in the form body), cached, refreshed before expiry, and refreshed by exactly one task
//! at a time.
//!
//! The grant is one form POST and one JSON answer, so it is written here rather than taken from an OAuth
//! crate: the `oauth2` crate carried its own `rand`, `thiserror` and hashing stacks (PKCE and CSRF state,
//! which client credentials never use) into every build.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, ErrorKind, Result};

use super::classify::shorten;
use super::HttpClient;

/// A bearer token and how long the issuer said it lives.
pub struct AccessToken {
    /// The token.
    pub secret: SecretString,
    /// Lifetime from `expires_in`, if given.
    pub expires_in: Option<Duration>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Something that can fetch a fresh token.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// Requests a new token from the issuer.
    async fn fetch_token(&self) -> Result<AccessToken>;
}

/// Lifetime assumed when the issuer gives none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The longest lifetime believed: an issuer's larger `expires_in` (up to `u64::MAX` seconds) is cut to a
/// day, so the token is renewed at least daily and no clock arithmetic can overflow. Entra's and Jamf's
/// configurable lifetimes stay below it.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

struct Cached {
    token: SecretString,
    refresh_at: Instant,
    stamp: u64,
}

/// Caches a token and renews it shortly before it expires.
///
/// The renewal margin is a fifth of the lifetime, at most 60 s, so a 300 s Jamf token is renewed at 240 s
/// and a one-hour Entra token at 59 min. Callers wait on one lock while a token is fetched, so any number of
/// tasks asking at the same moment cause one request.
pub struct TokenCache {
    source: Arc<dyn TokenSource>,
    state: tokio::sync::Mutex<Option<Cached>>,
    next_stamp: AtomicU64,
    fetches: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.source)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache over `source`.
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        TokenCache {
            source,
            state: tokio::sync::Mutex::new(None),
            next_stamp: AtomicU64::new(1),
            fetches: AtomicU64::new(0),
        }
    }

    /// A valid token and its stamp, fetching one if none is cached or the cached one is due for renewal.
    pub async fn token(&self) -> Result<(SecretString, u64)> {
        let mut state = self.state.lock().await;
        if let Some(cached) = state.as_ref() {
            if Instant::now() < cached.refresh_at {
                return Ok((cached.token.clone(), cached.stamp));
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fresh = self.source.fetch_token().await?;
        let stamp = self.next_stamp.fetch_add(1, Ordering::Relaxed);
        let cached = Cached {
            token: fresh.secret,
            refresh_at: refresh_at(Instant::now(), fresh.expires_in),
            stamp,
        };
        let out = (cached.token.clone(), stamp);
        *state = Some(cached);
        Ok(out)
    }

    /// Drops the cached token if it is still the one with `stamp` (a server refused it). A token renewed
    /// by another task in the meantime is kept.
    pub async fn invalidate(&self, stamp: u64) {
        let mut state = self.state.lock().await;
        if state.as_ref().is_some_and(|c| c.stamp == stamp) {
            *state = None;
        }
    }

    /// How many tokens have been requested from the source (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

/// When a token issued at `now` living `expires_in` (the issuer's number, untrusted) is renewed: a fifth
/// of its lifetime early, at most 60 s early. The lifetime is clamped to [`MAX_TOKEN_LIFETIME`]; a zero
/// lifetime makes the next caller fetch a new token (the one just issued is still used once).
fn refresh_at(now: Instant, expires_in: Option<Duration>) -> Instant {
    let lifetime = expires_in
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_TOKEN_LIFETIME);
    let margin = (lifetime / 5).min(Duration::from_secs(60));
    now.checked_add(lifetime.saturating_sub(margin))
        .unwrap_or(now)
}

/// The RFC 6749 §5.2 error body, plus Entra's `error_codes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenErrorBody {
    /// `invalid_client`, `invalid_request`, `unauthorized_client`, `invalid_scope`, …
    pub error: String,
    /// Human text; Entra starts it with `AADSTSnnnn:`.
    #[serde(default)]
    pub error_description: Option<String>,
    /// A documentation link.
    #[serde(default)]
    pub error_uri: Option<String>,
    /// Entra's numeric codes (`[7000215]`).
    #[serde(default)]
    pub error_codes: Option<Vec<u64>>,
}

impl TokenErrorBody {
    /// The first Entra `AADSTS` code, from `error_codes` or the description's prefix.
    pub fn aadsts_code(&self) -> Option<u64> {
        if let Some(code) = self.error_codes.as_ref().and_then(|c| c.first()) {
            return Some(*code);
        }
        let desc = self.error_description.as_deref()?;
        let start = desc.find("AADSTS")? + "AADSTS".len();
        let digits: String = desc[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }
}

impl fmt::Display for TokenErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_description {
            Some(d) => write!(f, "{}: {}", self.error, shorten(d, 300)),
            None => f.write_str(&self.error),
        }
    }
}

/// Turns a token endpoint's error body into an [`Error`]; providers supply their own (Entra's AADSTS codes).
pub trait TokenErrorMapper: Send + Sync + fmt::Debug {
    /// Maps a refused token request. `status` is the HTTP status it came with.
    fn map(&self, status: StatusCode, body: &TokenErrorBody) -> Error;
}

/// The default token error mapping: `invalid_scope` is Forbidden, everything else about the client or
/// request is Unauthorized (bad id, bad secret, unknown tenant).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultTokenErrors;

impl TokenErrorMapper for DefaultTokenErrors {
    fn map(&self, _status: StatusCode, body: &TokenErrorBody) -> Error {
        let kind = match body.error.as_str() {
            "invalid_scope" => ErrorKind::Forbidden,
            _ => ErrorKind::Unauthorized,
        };
        Error::new(kind, format!("the token request was refused: {body}"))
    }
}

/// OAuth 2.0 client credentials with the secret in the form body (Jamf documents only that; Entra accepts
/// it). Token URLs are tried in order, moving to the next only on 404 (Jamf's `/api/v1/oauth/token`, then
/// the older `/api/oauth/token`).
pub struct ClientCredentials {
    http: HttpClient,
    token_urls: Vec<Url>,
    client_id: String,
    client_secret: SecretString,
    scopes: Vec<String>,
    errors: Arc<dyn TokenErrorMapper>,
    /// Index of the token URL that last answered, tried first next time (a server with only the legacy
    /// URL would otherwise cost a 404 on every renewal).
    working_url: AtomicUsize,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field(
                "token_urls",
                &self.token_urls.iter().map(Url::as_str).collect::<Vec<_>>(),
            )
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl ClientCredentials {
    /// Client credentials sent to `token_urls` through `http` (which should carry no authenticator).
    pub fn new(
        http: HttpClient,
        token_urls: Vec<Url>,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        ClientCredentials {
            http,
            token_urls,
            client_id: client_id.into(),
            client_secret,
            scopes: Vec::new(),
            errors: Arc::new(DefaultTokenErrors),
            working_url: AtomicUsize::new(0),
        }
    }

    /// Requests these scopes (Entra: `<graph root>/.default`).
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = String>) -> Self {
        self.scopes = scopes.into_iter().collect();
        self
    }

    /// Maps refused token requests with `mapper`.
    pub fn with_error_mapper(mut self, mapper: Arc<dyn TokenErrorMapper>) -> Self {
        self.errors = mapper;
        self
    }

    async fn fetch_from(&self, url: &Url) -> Result<AccessToken> {
        let scope = self.scopes.join(" ");
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        if !scope.is_empty() {
            form.push(("scope", scope.as_str()));
        }
        let outcome = match self.http.send_token_request(url, &form).await {
            Ok(response) => self.read_answer(response.status(), response.body()),
            Err(e) => Err(e),
        };
        outcome.map_err(self.http.operation("token").tagger())
    }

    /// Reads the token endpoint's answer: a token on 200, otherwise the RFC 6749 §5.2 error it names.
    fn read_answer(&self, status: StatusCode, body: &[u8]) -> Result<AccessToken> {
        if status == StatusCode::OK {
            return read_token(body).map_err(|unusable| {
                Error::invalid_response(format!(
                    "the token endpoint answered HTTP {status} with {unusable}"
                ))
                .with_status(status.as_u16())
            });
        }
        if status.is_success() {
            // A token is only ever issued with 200 (RFC 6749 §5.1); the body may still hold one.
            return Err(Error::invalid_response(format!(
                "the token endpoint answered HTTP {status} instead of 200 OK ({} bytes, not shown)",
                body.len()
            ))
            .with_status(status.as_u16()));
        }
        // 400 and 401, handed back by the client: the issuer refused the request.
        match serde_json::from_slice::<TokenErrorBody>(body) {
            Ok(error) => Err(self.errors.map(status, &error).with_status(status.as_u16())),
            Err(e) => {
                let shown = super::classify::generic_message(body)
                    .unwrap_or_else(|| "an empty body".to_owned());
                let why = match body.trim_ascii().is_empty() {
                    true => "no error body".to_owned(),
                    false => format!("an unreadable token error ({e})"),
                };
                Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!("the token endpoint answered HTTP {status} with {why}: {shown}"),
                )
                .with_status(status.as_u16()))
            }
        }
    }
}

/// The token in a 200 answer (RFC 6749 §5.1: `access_token` and `token_type` strings, `expires_in` an
/// optional whole number of seconds), or what was wrong with it, without a character of its content: the
/// body may be the token itself, or hold it. Only the names of the standard fields are shown.
fn read_token(body: &[u8]) -> std::result::Result<AccessToken, String> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err("an empty body instead of a token response".to_owned());
    }
    let value: serde_json::Value = match serde_json::from_slice(trimmed) {
        Ok(value) => value,
        Err(_) => {
            let what = if super::classify::looks_like_html(&String::from_utf8_lossy(trimmed)) {
                "an HTML page"
            } else {
                "a body that is not JSON"
            };
            return Err(format!(
                "{what} instead of a token response ({} bytes, not shown)",
                body.len()
            ));
        }
    };
    let not_a_token =
        || "JSON that is not a token response (it needs access_token and token_type)".to_owned();
    let unusable = |field: &str| format!("a token response whose {field} is missing or not usable");
    let Some(fields) = value.as_object() else {
        return Err(not_a_token());
    };
    let token = match fields.get("access_token") {
        None => return Err(not_a_token()),
        Some(serde_json::Value::String(token)) => token,
        Some(_) => return Err(unusable("access_token")),
    };
    if !fields
        .get("token_type")
        .is_some_and(serde_json::Value::is_string)
    {
        return Err(unusable("token_type"));
    }
    let expires_in = match fields.get("expires_in") {
        None | Some(serde_json::Value::Null) => None,
        Some(seconds) => match seconds.as_u64() {
            Some(seconds) => Some(Duration::from_secs(seconds)),
            None => return Err(unusable("expires_in")),
        },
    };
    Ok(AccessToken {
        secret: SecretString::from(token.clone()),
        expires_in,
    })
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let mut last = Error::config("no token URL configured");
        let start = self.working_url.load(Ordering::Relaxed);
        let order = (start..self.token_urls.len()).chain(0..start.min(self.token_urls.len()));
        for index in order {
            match self.fetch_from(&self.token_urls[index]).await {
                Err(e) if e.kind() == ErrorKind::NotFound => last = e,
                other => {
                    self.working_url.store(index, Ordering::Relaxed);
                    return other;
                }
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_lifetimes_never_overflow_the_clock() {
        let now = Instant::now();
        let day = MAX_TOKEN_LIFETIME - Duration::from_secs(60);
        for (expires_in, renew_after) in [
            (Some(Duration::from_secs(u64::MAX)), day),
            (Some(Duration::MAX), day),
            (Some(Duration::from_secs(10 * 24 * 3600)), day),
            (Some(Duration::ZERO), Duration::ZERO),
            (None, Duration::from_secs(240)),
            (Some(Duration::from_secs(300)), Duration::from_secs(240)),
            (Some(Duration::from_secs(3599)), Duration::from_secs(3539)),
            (Some(Duration::from_secs(10)), Duration::from_secs(8)),
        ] {
            assert_eq!(
                refresh_at(now, expires_in) - now,
                renew_after,
                "{expires_in:?}"
            );
        }
    }
}
