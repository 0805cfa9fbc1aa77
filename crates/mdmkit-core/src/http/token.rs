//! OAuth 2.0 client-credentials tokens (Jamf, Intune): fetched with the `oauth2` crate through the shared
//! HTTP client, cached, refreshed before expiry, and refreshed by exactly one task at a time.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenResponse,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    StandardRevocableToken, TokenResponse, TokenUrl,
};
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

impl oauth2::ErrorResponse for TokenErrorBody {}

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

type CcClient = oauth2::Client<
    TokenErrorBody,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

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
        let client: CcClient = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                self.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::from_url(url.clone()));
        let last_status = Arc::new(StdMutex::new(StatusCode::OK));
        let http = self.http.clone();
        let seen = Arc::clone(&last_status);
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            let seen = Arc::clone(&seen);
            async move {
                let response = http.send_oauth(request).await?;
                *seen.lock().unwrap_or_else(|p| p.into_inner()) = response.status();
                Ok::<_, Error>(response)
            }
        };
        let mut exchange = client.exchange_client_credentials();
        for scope in &self.scopes {
            exchange = exchange.add_scope(Scope::new(scope.clone()));
        }
        let outcome = exchange.request_async(&send).await;
        let status = *last_status.lock().unwrap_or_else(|p| p.into_inner());
        let provider = self.http.provider();
        match outcome {
            Ok(token) => Ok(AccessToken {
                secret: SecretString::from(token.access_token().secret().to_owned()),
                expires_in: token.expires_in(),
            }),
            Err(RequestTokenError::ServerResponse(body)) => {
                Err(self.errors.map(status, &body).with_status(status.as_u16()))
            }
            Err(RequestTokenError::Request(e)) => Err(e),
            Err(RequestTokenError::Parse(e, body)) if status.is_success() => {
                // A 2xx body may hold the token itself: describe it, never quote it.
                Err(Error::invalid_response(format!(
                    "the token endpoint answered HTTP {status} with {}",
                    unusable_token_response(&body, &e.path().to_string(), e.inner())
                ))
                .with_status(status.as_u16()))
            }
            Err(RequestTokenError::Parse(e, body)) => {
                let kind = if status.is_client_error() {
                    ErrorKind::Unauthorized
                } else {
                    ErrorKind::InvalidResponse
                };
                let shown = super::classify::generic_message(&body)
                    .unwrap_or_else(|| "an empty body".to_owned());
                Err(Error::new(
                    kind,
                    format!("the token endpoint answered HTTP {status} with an unreadable token response ({}): {shown}", e.inner()),
                )
                .with_status(status.as_u16()))
            }
            Err(RequestTokenError::Other(message)) => Err(Error::invalid_response(format!(
                "the token response was not usable: {message}"
            ))),
        }
        .map_err(|e| e.with_provider(provider).with_operation("token"))
    }
}

/// What was wrong with a successful token response, without a character of its content: the body may be
/// the token itself, or hold it. Only the names of the standard fields are shown.
fn unusable_token_response(body: &[u8], path: &str, error: &serde_json::Error) -> String {
    const FIELDS: [&str; 5] = [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
    ];
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return "an empty body instead of a token response".to_owned();
    }
    if error.is_syntax() || error.is_eof() {
        let what = if super::classify::looks_like_html(&String::from_utf8_lossy(trimmed)) {
            "an HTML page"
        } else {
            "a body that is not JSON"
        };
        return format!(
            "{what} instead of a token response ({} bytes, not shown)",
            body.len()
        );
    }
    let field = FIELDS
        .iter()
        .find(|f| path == **f || path.starts_with(&format!("{f}.")));
    match field {
        Some(field) => format!("a token response whose {field} is missing or not usable"),
        None => {
            "JSON that is not a token response (it needs access_token and token_type)".to_owned()
        }
    }
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
