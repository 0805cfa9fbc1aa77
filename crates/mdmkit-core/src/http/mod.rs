//! The HTTP machinery every provider shares: one client with timeouts, TLS (rustls, plus an optional
//! extra root CA), the host policy, retries with backoff, concurrency and rate limits per MDM server
//! ([`LimitRegistry`]), a response size cap, authentication (including the OAuth token cache) and the
//! status-to-kind mapping.
//!
//! Every number a server sends is untrusted: `Retry-After` and `X-RateLimit-Reset` are clamped to
//! [`MAX_SERVER_WAIT`] and a wait that does not fit the retry budget ends the request at once with its
//! category; token lifetimes are clamped to [`MAX_TOKEN_LIFETIME`]; no server number is added to a clock
//! without checked or saturating arithmetic. A successful token response that cannot be used is
//! described, never quoted (it may be the token).
//!
//! Providers build one [`HttpClient`] and send every request through it; nothing here is provider-specific
//! except what providers plug in: an [`Authenticator`] and an [`ErrorClassifier`].

mod auth;
mod classify;
mod limits;
mod options;
mod pacing;
mod policy;
mod retry;
mod token;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use crate::error::{Error, ErrorKind, Operation, Result};
use crate::kind::ProviderKind;
use crate::paging::{PageRequest, Pager, PagingStyle};

/// HTTP types used in the machinery's signatures (from `reqwest`, which re-exports the `http` crate).
pub use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, StatusCode};

pub use auth::{Authenticator, BasicAuth, BearerToken, HeaderAuth, NoAuth, OAuthBearer};
pub use classify::{
    classify_transport, generic_message, kind_for_status, looks_like_html, shorten,
    DefaultClassifier, ErrorClassifier, ErrorDetail,
};
pub use limits::{LimitRegistry, ServerKey, ServerLimits};
pub use options::{ClientOptions, ProviderLimits, RateLimit};
pub use pacing::Pacing;
pub use policy::{is_internal, HostPolicy, HostPolicyViolation};
pub use retry::{
    parse_rate_limit_reset, parse_retry_after, retry_after, retry_after_at, RetryConfig,
    MAX_SERVER_WAIT,
};
pub use token::{
    AccessToken, ClientCredentials, DefaultTokenErrors, TokenCache, TokenErrorBody,
    TokenErrorMapper, TokenSource, MAX_TOKEN_LIFETIME,
};

/// Characters left as they are in query values and path segments: RFC 3986 unreserved. Spaces become `%20` (OData filters
/// want that, not `+`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Query keys also keep `$` (OData's `$filter`, `$select`, `$top`).
const QUERY_KEY: &AsciiSet = &QUERY_VALUE.remove(b'$');

/// One URL path segment from a value (an id, a serial): everything but RFC 3986 unreserved characters is
/// percent-encoded, so the value cannot add segments, a query or a fragment. `.` and `..` are written
/// `%2E` and `%2E%2E`; note that URL resolution still reads those as dot segments ([`is_dot_segment`]),
/// so a caller for whom such a value is possible must route it elsewhere (Fleet sends dot-only serials
/// to its search). The one percent-encoder for paths: deep links ([`crate::links`]) use it too.
pub fn path_segment(value: &str) -> String {
    match value {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => utf8_percent_encode(value, QUERY_VALUE).to_string(),
    }
}

/// Whether `segment` would be read as `.` or `..` by URL path normalisation, escaped or not: such a
/// value cannot name anything as a path segment.
pub fn is_dot_segment(segment: &str) -> bool {
    !segment.is_empty() && segment.len() <= 2 && segment.chars().all(|c| c == '.')
}

/// An id the server gave, for a path, when the provider's ids are plain (Jamf's numbers): the id as it
/// is if it needs no encoding and names a segment, else an [`ErrorKind::InvalidResponse`] error in
/// `operation` (an empty id, `..`, or `1?x=1` is not an id of such a server, so it is not sent on).
pub fn plain_id_segment(id: &str, operation: Operation) -> Result<&str> {
    if !id.is_empty() && !is_dot_segment(id) && path_segment(id) == id {
        Ok(id)
    } else {
        Err(operation.error(
            ErrorKind::InvalidResponse,
            format!("the server gave an unusable id {id:?}"),
        ))
    }
}

/// Resolves a next-page link a server gave against the page it came from: a relative link is taken
/// relative to `current`, and an `http://` link to the configured `https://` host of `base` (what a
/// framework behind a TLS-terminating proxy writes) is upgraded to `https://`. Any other host stays as
/// given and is refused when followed ([`HttpClient::get_absolute`]), so credentials never go elsewhere.
pub fn resolve_link(base: &Url, current: &Url, link: &str) -> Result<String> {
    let mut url = current.join(link.trim()).map_err(|e| {
        Error::invalid_response(format!(
            "the server gave an invalid next link {link:?}: {e}"
        ))
    })?;
    if base.scheme() == "https"
        && url.scheme() == "http"
        && url.port().is_none()
        && url.host_str() == base.host_str()
        && base.port().is_none()
    {
        // Both schemes are "special", so the change cannot fail; keep the link if it somehow does.
        let _ = url.set_scheme("https");
    }
    Ok(url.to_string())
}

/// An [`Operation`] names the request it is given to ([`RequestBuilder::operation`]).
impl From<Operation> for &'static str {
    fn from(operation: Operation) -> &'static str {
        operation.name()
    }
}

/// What all clients cloned from one [`HttpClient::new`] share: connections and the request counter.
struct Transport {
    client: reqwest::Client,
    policy: HostPolicy,
    retry: RetryConfig,
    max_body_bytes: usize,
    max_pages: u32,
    requests: AtomicU64,
}

/// A provider's HTTP client. Cheap to clone; clones share connections, limits and the request counter.
///
/// Concurrency and rate limits are those of the server ([`ServerKey`]), shared with every other client
/// for the same server that uses the same [`LimitRegistry`] (by default the process-wide one), so two
/// provider instances for one Jamf server keep 5 requests in flight between them, and two servers never
/// share a limit.
#[derive(Clone)]
pub struct HttpClient {
    transport: Arc<Transport>,
    limits: Arc<ServerLimits>,
    provider: ProviderKind,
    base_url: Url,
    auth: Arc<dyn Authenticator>,
    classifier: Arc<dyn ErrorClassifier>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url.as_str())
            .field("auth", &self.auth)
            .field("policy", &self.transport.policy)
            .field("server", self.limits.key())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `provider` whose relative paths resolve below `base_url`, with no authenticator and
    /// the default error classifier. Its limits are those of `base_url`'s origin
    /// ([`ServerKey::host`]): right for servers of one tenant (Jamf, Iru, Fleet).
    pub fn new(provider: ProviderKind, base_url: Url, options: &ClientOptions) -> Result<Self> {
        let server = ServerKey::host(provider, &base_url);
        HttpClient::for_server(provider, base_url, server, options)
    }

    /// A client whose limits are those of `server`: for hosts every tenant shares, a
    /// [`ServerKey::tenant`] or [`ServerKey::credential`], so tenants never share a limit.
    pub fn for_server(
        provider: ProviderKind,
        base_url: Url,
        server: ServerKey,
        options: &ClientOptions,
    ) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(options.user_agent.clone())
            // Proxies would resolve names themselves and bypass the host policy.
            .no_proxy()
            // A redirect could lead to a host the policy never saw; redirects are reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(policy::PolicyResolver {
                policy: options.host_policy,
            }));
        if let Some(pem) = &options.extra_root_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                Error::config(format!("the extra root certificate is not valid PEM: {e}"))
            })?;
            if certs.is_empty() {
                return Err(Error::config(
                    "the extra root certificate file holds no certificate",
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| {
            Error::config(format!("could not build the HTTP client: {e}")).with_source(e)
        })?;
        Ok(HttpClient {
            transport: Arc::new(Transport {
                client,
                policy: options.host_policy,
                retry: options.retry,
                max_body_bytes: options.max_body_bytes,
                max_pages: options.max_pages,
                requests: AtomicU64::new(0),
            }),
            limits: options
                .limit_registry
                .limits(server, options.limits_for(provider)),
            provider,
            base_url,
            auth: Arc::new(NoAuth),
            classifier: Arc::new(DefaultClassifier),
        })
    }

    /// This client with another authenticator (same connections and limits).
    pub fn with_auth(&self, auth: Arc<dyn Authenticator>) -> Self {
        HttpClient {
            auth,
            ..self.clone()
        }
    }

    /// This client with the provider's error classifier.
    pub fn with_classifier(&self, classifier: Arc<dyn ErrorClassifier>) -> Self {
        HttpClient {
            classifier,
            ..self.clone()
        }
    }

    /// This client rooted at another base URL (e.g. Intune's login host beside its Graph root).
    pub fn with_base_url(&self, base_url: Url) -> Self {
        HttpClient {
            base_url,
            ..self.clone()
        }
    }

    /// The provider this client serves.
    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// The base URL relative paths resolve against.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The operation `name` of this client's provider, for a name a caller passes in.
    pub fn operation(&self, name: &'static str) -> Operation {
        Operation::new(self.provider, name)
    }

    /// The limits this client's requests count against, shared with every client for its server.
    pub fn server_limits(&self) -> &Arc<ServerLimits> {
        &self.limits
    }

    /// Requests the server's limits let this client have in flight at once (at least 1): how many
    /// reads a fan-out should send together. The limits in force for the server, which the first
    /// client for it set, not this client's options.
    pub fn max_concurrency(&self) -> usize {
        self.limits.limits().max_concurrency.max(1)
    }

    /// Requests sent so far by this client and its clones, retries included.
    pub fn request_count(&self) -> u64 {
        self.transport.requests.load(Ordering::Relaxed)
    }

    /// A [`Pager`] with this client's page ceiling.
    pub fn pager(&self, style: PagingStyle) -> Pager {
        Pager::with_max_pages(style, self.transport.max_pages)
    }

    /// A `GET` of `path` relative to the base URL (a leading `/` is ignored).
    pub fn get(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, path)
    }

    /// A request of `path` relative to the base URL.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        let url = self
            .base_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::config(format!("cannot build a URL from {path:?}: {e}")));
        RequestBuilder::new(self, method, url)
    }

    /// A `GET` of an absolute URL the server gave (a next link). It must be on the base URL's origin:
    /// credentials are never sent to a host the configuration did not name.
    pub fn get_absolute(&self, url: &str) -> RequestBuilder<'_> {
        let parsed = Url::parse(url)
            .map_err(|e| Error::invalid_response(format!("the server gave an invalid link {url:?}: {e}")))
            .and_then(|u| {
                if u.origin() == self.base_url.origin() {
                    Ok(u)
                } else {
                    Err(Error::invalid_response(format!(
                        "the server's link points to another host ({}); credentials are not sent there",
                        u.host_str().unwrap_or_default()
                    )))
                }
            });
        RequestBuilder::new(self, Method::GET, parsed)
    }

    /// The request for one page of a next-link listing: `first` builds the first page's request, later
    /// pages follow the server's link exactly as given (same origin only, see
    /// [`HttpClient::get_absolute`]). A request of another style is an error in `operation`.
    pub fn next_link_page<'a>(
        &'a self,
        request: &PageRequest,
        operation: Operation,
        first: impl FnOnce() -> RequestBuilder<'a>,
    ) -> Result<RequestBuilder<'a>> {
        let builder = match request.next_link(operation)? {
            None => first(),
            Some(link) => self.get_absolute(link),
        };
        Ok(builder.operation(operation))
    }

    /// Posts an OAuth 2.0 token request (a form body) through this client: retried like any idempotent
    /// request, with 400 and 401 answers handed back for the caller to read as token errors (RFC 6749
    /// §5.2).
    pub(crate) async fn send_token_request(
        &self,
        url: &Url,
        form: &[(&str, &str)],
    ) -> Result<Response> {
        let mut builder = RequestBuilder::new(self, Method::POST, Ok(url.clone()))
            .operation("token")
            .idempotent(true)
            .without_auth()
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .form(form);
        builder.pass_through_client_errors = true;
        builder.send().await
    }

    fn status_error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
        let detail = self.classifier.classify(status, headers, body);
        let kind = detail.kind.unwrap_or_else(|| kind_for_status(status));
        let mut message = format!("HTTP {status}");
        if status.is_redirection() {
            let to = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("elsewhere");
            message.push_str(&format!(
                ": the server redirected to {to}; use that address as the host"
            ));
        } else if let Some(detail) = detail.message.or_else(|| generic_message(body)) {
            message.push_str(": ");
            message.push_str(&detail);
        }
        Error::new(kind, message)
            .with_status(status.as_u16())
            .with_retry_after(retry_after(headers))
    }

    async fn execute(&self, request: RequestBuilder<'_>) -> Result<Response> {
        let operation = request.operation;
        let url = request.url?;
        self.transport.policy.check_url(&url)?;
        let idempotent = request.idempotent.unwrap_or(matches!(
            request.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
        ));
        let retry = self.transport.retry;
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let mut headers = request.headers.clone();
            let stamp = match request.with_auth {
                true => Some(self.auth.apply(&mut headers).await?),
                false => None,
            };
            let err = match self
                .attempt(
                    &request.method,
                    &url,
                    headers,
                    request.body.clone(),
                    operation,
                    retry.budget.saturating_sub(started.elapsed()),
                )
                .await
            {
                Ok(resp) if resp.status.is_success() => return Ok(resp),
                Ok(resp)
                    if request.pass_through_client_errors
                        && matches!(resp.status.as_u16(), 400 | 401) =>
                {
                    return Ok(resp)
                }
                Ok(resp) if resp.status == StatusCode::UNAUTHORIZED && !refreshed => {
                    refreshed = true;
                    if let Some(stamp) = stamp {
                        if self.auth.refresh_after_unauthorized(stamp).await {
                            tracing::debug!(provider = %self.provider, operation, "401: retrying once with fresh credentials");
                            attempt -= 1;
                            continue;
                        }
                    }
                    self.status_error(resp.status, &resp.headers, &resp.body)
                }
                Ok(resp) => self.status_error(resp.status, &resp.headers, &resp.body),
                Err(e) => e,
            };
            if idempotent && err.is_retryable() && attempt < retry.max_attempts {
                let wait = err.retry_after().unwrap_or_else(|| retry.backoff(attempt));
                // Saturating: the wait is the server's number (clamped, but never trusted to add).
                if started.elapsed().saturating_add(wait) <= retry.budget {
                    tracing::debug!(provider = %self.provider, operation, attempt, ?wait, error = %err, "retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let err = if err.is_retryable() {
                err.into_persistent()
            } else {
                err
            };
            return Err(err);
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Bytes>,
        operation: &'static str,
        budget: Duration,
    ) -> Result<Response> {
        let t = &self.transport;
        let _permit = self.limits.admit(budget).await?;
        t.requests.fetch_add(1, Ordering::Relaxed);
        let mut builder = t
            .client
            .request(method.clone(), url.clone())
            .headers(headers);
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let transport_error = |e: reqwest::Error| {
            let (kind, message) = classify_transport(&e);
            Error::new(kind, message).with_source(e.without_url())
        };
        let mut response = builder.send().await.map_err(transport_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        // Learned while this request still counts as in flight (see `ServerLimits::observe`).
        self.limits.observe(status, &headers);
        let limit = t.max_body_bytes;
        let too_large = || {
            Error::invalid_response(format!(
                "the response body is larger than the {limit}-byte limit"
            ))
        };
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body: body.freeze(),
            provider: self.provider,
            operation,
        })
    }
}

/// A request being built. Send it with [`RequestBuilder::send`] or [`RequestBuilder::json`].
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<'a> {
    client: &'a HttpClient,
    method: Method,
    url: Result<Url>,
    headers: HeaderMap,
    body: Option<Bytes>,
    operation: &'static str,
    idempotent: Option<bool>,
    with_auth: bool,
    pass_through_client_errors: bool,
}

impl fmt::Debug for RequestBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url.as_ref().map(Url::as_str).ok())
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestBuilder<'a> {
    fn new(client: &'a HttpClient, method: Method, url: Result<Url>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        RequestBuilder {
            client,
            method,
            url,
            headers,
            body: None,
            operation: "request",
            idempotent: None,
            with_auth: true,
            pass_through_client_errors: false,
        }
    }

    /// Names the operation for errors and logs (`validate`, `list_devices`, …): a name, or the
    /// provider's [`Operation`].
    pub fn operation(mut self, operation: impl Into<&'static str>) -> Self {
        self.operation = operation.into();
        self
    }

    /// The URL the request goes to, if it could be built (to resolve a relative link the answer gives).
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref().ok()
    }

    /// Appends a query parameter, percent-encoded (spaces as `%20`). Repeat a key to send it twice.
    pub fn query(mut self, key: &str, value: impl AsRef<str>) -> Self {
        if let Ok(url) = self.url.as_mut() {
            let pair = format!(
                "{}={}",
                utf8_percent_encode(key, QUERY_KEY),
                utf8_percent_encode(value.as_ref(), QUERY_VALUE)
            );
            let query = match url.query() {
                Some(q) if !q.is_empty() => format!("{q}&{pair}"),
                _ => pair,
            };
            url.set_query(Some(&query));
        }
        self
    }

    /// Sets a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Sends a form-encoded body.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.body = Some(Bytes::from(body));
        self
    }

    /// Sends a JSON body.
    pub fn json_body<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                self.body = Some(Bytes::from(body));
            }
            Err(e) => self.url = Err(Error::config(format!("could not encode the request: {e}"))),
        }
        self
    }

    /// Declares whether repeating the request is safe. By default GET, HEAD, OPTIONS, PUT and DELETE are,
    /// POST and PATCH are not; only idempotent requests are retried.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Sends the request without the client's credentials.
    pub fn without_auth(mut self) -> Self {
        self.with_auth = false;
        self
    }

    /// Sends the request (with retries) and returns a successful response; any other status is an error
    /// mapped by the shared status mapping and the provider's classifier.
    pub async fn send(self) -> Result<Response> {
        let operation = self.client.operation(self.operation);
        self.client.execute(self).await.map_err(operation.tagger())
    }

    /// Sends the request and decodes a JSON response.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T> {
        self.send().await?.json()
    }
}

/// A successful response, its body read in full (within the size cap).
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    provider: ProviderKind,
    operation: &'static str,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The raw body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// A header as text.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A header as a number (e.g. JumpCloud's `x-total-count`).
    pub fn header_u64(&self, name: &str) -> Option<u64> {
        self.header_str(name).and_then(|v| v.trim().parse().ok())
    }

    /// Decodes the body as JSON. A body that is not the documented JSON (malformed, truncated, an HTML
    /// page) is an [`ErrorKind::InvalidResponse`] error naming the provider and operation.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let text = String::from_utf8_lossy(&self.body);
            let what = if self.body.is_empty() {
                "an empty body".to_owned()
            } else if looks_like_html(&text) {
                generic_message(&self.body).unwrap_or_else(|| "an HTML page".to_owned())
            } else {
                format!("a body starting {:?}", shorten(&text, 80))
            };
            Operation::new(self.provider, self.operation)
                .error(
                    ErrorKind::InvalidResponse,
                    format!("expected JSON but got {what} ({e})"),
                )
                .with_status(self.status.as_u16())
                .with_source(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn path_segments_are_escaped_and_dot_segments_known() {
        assert_eq!(path_segment("C02X/Y?Z#1"), "C02X%2FY%3FZ%231");
        assert_eq!(path_segment("A B+%"), "A%20B%2B%25");
        assert_eq!(path_segment("ABC-1.2_3~"), "ABC-1.2_3~");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert!(is_dot_segment(".."));
        assert!(is_dot_segment("."));
        assert!(!is_dot_segment("..."));
        assert!(!is_dot_segment("A.B"));
        assert!(!is_dot_segment(""));
    }

    #[test]
    fn plain_ids_pass_and_others_are_refused_in_their_operation() {
        let groups = Operation::new(ProviderKind::Jamf, "groups");
        assert_eq!(plain_id_segment("17", groups).unwrap(), "17");
        assert_eq!(plain_id_segment("4f5e-11aa", groups).unwrap(), "4f5e-11aa");
        for odd in ["../users", "", "1?x=1", "..", ".", "a b", "a/b"] {
            let err = plain_id_segment(odd, groups).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{odd:?}");
            assert_eq!(err.operation(), Some("groups"));
            assert_eq!(err.provider(), Some(ProviderKind::Jamf));
        }
    }

    #[test]
    fn next_links_resolve_relative_and_upgrade_to_https_on_the_same_host() {
        let base = url("https://acme.api.kandji.io/");
        let current = url("https://acme.api.kandji.io/api/v1/tags");
        assert_eq!(
            resolve_link(
                &base,
                &current,
                "https://acme.api.kandji.io/api/v1/tags?page=2"
            )
            .unwrap(),
            "https://acme.api.kandji.io/api/v1/tags?page=2"
        );
        assert_eq!(
            resolve_link(
                &base,
                &current,
                "http://acme.api.kandji.io/api/v1/tags?page=2"
            )
            .unwrap(),
            "https://acme.api.kandji.io/api/v1/tags?page=2"
        );
        assert_eq!(
            resolve_link(&base, &current, "/api/v1/tags?cursor=abc").unwrap(),
            "https://acme.api.kandji.io/api/v1/tags?cursor=abc"
        );
        assert_eq!(
            resolve_link(&base, &current, "?page=3").unwrap(),
            "https://acme.api.kandji.io/api/v1/tags?page=3"
        );
    }

    #[test]
    fn next_links_to_other_hosts_or_ports_are_not_rewritten() {
        let base = url("https://acme.api.kandji.io/");
        let current = url("https://acme.api.kandji.io/api/v1/tags");
        for other in [
            "http://evil.example/api/v1/tags?page=2",
            "http://acme.api.kandji.io:8080/api/v1/tags?page=2",
            "https://other.api.kandji.io/api/v1/tags?page=2",
        ] {
            let resolved = resolve_link(&base, &current, other).unwrap();
            assert_eq!(resolved, url(other).to_string());
        }
        // A plain-http test server keeps its links as they are.
        let local = url("http://127.0.0.1:9000/");
        assert_eq!(
            resolve_link(&local, &local, "http://127.0.0.1:9000/api/v1/tags?page=2").unwrap(),
            "http://127.0.0.1:9000/api/v1/tags?page=2"
        );
        assert!(resolve_link(&local, &local, "http://[::1").is_err());
    }

    #[test]
    fn an_operation_names_the_request_and_the_client_names_its_operations() {
        let options = ClientOptions::default();
        let http = HttpClient::new(
            ProviderKind::Iru,
            url("https://acme.api.kandji.io/"),
            &options,
        )
        .unwrap();
        let groups = http.operation("groups");
        assert_eq!(groups, Operation::new(ProviderKind::Iru, "groups"));
        let request = http.get("api/v1/tags").operation(groups);
        assert_eq!(request.operation, "groups");
        assert_eq!(
            request.url().map(Url::as_str),
            Some("https://acme.api.kandji.io/api/v1/tags")
        );
        let first = http
            .next_link_page(&PageRequest::NextLink { url: None }, groups, || {
                http.get("api/v1/tags")
            })
            .unwrap();
        assert_eq!(first.url().unwrap().path(), "/api/v1/tags");
        let link = PageRequest::NextLink {
            url: Some("https://acme.api.kandji.io/api/v1/tags?page=2".into()),
        };
        let followed = http
            .next_link_page(&link, groups, || unreachable!())
            .unwrap();
        assert_eq!(followed.url().unwrap().query(), Some("page=2"));
        assert_eq!(followed.operation, "groups");
        let foreign = PageRequest::NextLink {
            url: Some("https://evil.example/api/v1/tags?page=2".into()),
        };
        let refused = http
            .next_link_page(&foreign, groups, || unreachable!())
            .unwrap();
        assert!(refused.url().is_none(), "a foreign link is never followed");
        let wrong = PageRequest::Offset {
            offset: 0,
            limit: 1,
        };
        let err = http
            .next_link_page(&wrong, groups, || unreachable!())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    }
}
