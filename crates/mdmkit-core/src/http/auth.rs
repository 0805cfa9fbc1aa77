//! How requests carry credentials. Header values are marked sensitive so they never print.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

use super::token::TokenCache;

/// Adds credentials to requests and reacts to a 401.
#[async_trait]
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// Adds the credentials to `headers`. Returns a stamp of the credential used, passed back to
    /// [`Authenticator::refresh_after_unauthorized`] if the request is refused.
    async fn apply(&self, headers: &mut HeaderMap) -> Result<u64>;

    /// Called once when a request carrying credential `stamp` got HTTP 401. Returns `true` when fresh
    /// credentials are available, and the HTTP client then sends the request once more. Static
    /// credentials cannot be refreshed and return `false`.
    async fn refresh_after_unauthorized(&self, stamp: u64) -> bool;
}

fn sensitive(value: String) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(&value).map_err(|_| {
        Error::config("a credential contains characters not allowed in an HTTP header")
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// No credentials (token endpoints, public probes).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl Authenticator for NoAuth {
    async fn apply(&self, _headers: &mut HeaderMap) -> Result<u64> {
        Ok(0)
    }
    async fn refresh_after_unauthorized(&self, _stamp: u64) -> bool {
        false
    }
}

/// A static `Authorization: Bearer <token>` (Iru, Fleet).
pub struct BearerToken(SecretString);

impl BearerToken {
    /// Wraps the token.
    pub fn new(token: SecretString) -> Self {
        BearerToken(token)
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

#[async_trait]
impl Authenticator for BearerToken {
    async fn apply(&self, headers: &mut HeaderMap) -> Result<u64> {
        headers.insert(
            AUTHORIZATION,
            sensitive(format!("Bearer {}", self.0.expose_secret()))?,
        );
        Ok(0)
    }
    async fn refresh_after_unauthorized(&self, _stamp: u64) -> bool {
        false
    }
}

/// HTTP Basic authentication (SimpleMDM: the key as user name, an empty password).
pub struct BasicAuth {
    username: SecretString,
    password: Option<SecretString>,
}

impl BasicAuth {
    /// User name and optional password.
    pub fn new(username: SecretString, password: Option<SecretString>) -> Self {
        BasicAuth { username, password }
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BasicAuth([redacted])")
    }
}

#[async_trait]
impl Authenticator for BasicAuth {
    async fn apply(&self, headers: &mut HeaderMap) -> Result<u64> {
        use base64::Engine as _;
        let pair = format!(
            "{}:{}",
            self.username.expose_secret(),
            self.password
                .as_ref()
                .map(|p| p.expose_secret())
                .unwrap_or("")
        );
        headers.insert(
            AUTHORIZATION,
            sensitive(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
            ))?,
        );
        Ok(0)
    }
    async fn refresh_after_unauthorized(&self, _stamp: u64) -> bool {
        false
    }
}

/// A static secret in a named header (JumpCloud's `x-api-key`).
pub struct HeaderAuth {
    name: HeaderName,
    value: SecretString,
}

impl HeaderAuth {
    /// The header name and its secret value.
    pub fn new(name: HeaderName, value: SecretString) -> Self {
        HeaderAuth { name, value }
    }
}

impl fmt::Debug for HeaderAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeaderAuth({}: [redacted])", self.name)
    }
}

#[async_trait]
impl Authenticator for HeaderAuth {
    async fn apply(&self, headers: &mut HeaderMap) -> Result<u64> {
        headers.insert(
            self.name.clone(),
            sensitive(self.value.expose_secret().to_owned())?,
        );
        Ok(0)
    }
    async fn refresh_after_unauthorized(&self, _stamp: u64) -> bool {
        false
    }
}

/// A bearer token from a [`TokenCache`] (Jamf, Intune): refreshed before it expires, and once after a 401.
#[derive(Debug, Clone)]
pub struct OAuthBearer {
    cache: Arc<TokenCache>,
}

impl OAuthBearer {
    /// Uses `cache` for every request.
    pub fn new(cache: Arc<TokenCache>) -> Self {
        OAuthBearer { cache }
    }

    /// The cache behind this authenticator.
    pub fn cache(&self) -> &Arc<TokenCache> {
        &self.cache
    }
}

#[async_trait]
impl Authenticator for OAuthBearer {
    async fn apply(&self, headers: &mut HeaderMap) -> Result<u64> {
        let (token, stamp) = self.cache.token().await?;
        headers.insert(
            AUTHORIZATION,
            sensitive(format!("Bearer {}", token.expose_secret()))?,
        );
        Ok(stamp)
    }
    async fn refresh_after_unauthorized(&self, stamp: u64) -> bool {
        self.cache.invalidate(stamp).await;
        true
    }
}
