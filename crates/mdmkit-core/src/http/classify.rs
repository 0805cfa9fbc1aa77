//! The one place where HTTP statuses and transport failures become [`ErrorKind`]s.

use std::error::Error as StdError;
use std::fmt::Debug;
use std::io;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::error::ErrorKind;

use super::policy::HostPolicyViolation;

/// The default kind for a non-success status.
pub fn kind_for_status(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 | 410 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        429 => ErrorKind::RateLimited,
        // 501 and 505 say "this server cannot do that": not something a retry fixes.
        501 | 505 => ErrorKind::InvalidConfiguration,
        500..=599 => ErrorKind::Server,
        // Other 4xx: the server refused the request as made (wrong API, wrong host type, bad filter).
        _ => ErrorKind::InvalidConfiguration,
    }
}

/// What a provider makes of an error response: a refined kind and its own readable detail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Replaces the status-based kind (e.g. Graph's `Forbidden` sent with HTTP 401).
    pub kind: Option<ErrorKind>,
    /// The provider's own explanation, e.g. `INVALID_PRIVILEGE: Forbidden`.
    pub message: Option<String>,
}

/// The per-provider hook on the shared status mapping: reads the vendor's error body.
pub trait ErrorClassifier: Send + Sync + Debug {
    /// Interprets a non-success response. Anything left `None` falls back to the shared defaults.
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ErrorDetail;
}

/// The classifier used when a provider has none: extracts a message from common error shapes.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl ErrorClassifier for DefaultClassifier {
    fn classify(&self, _status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> ErrorDetail {
        ErrorDetail {
            kind: None,
            message: generic_message(body),
        }
    }
}

/// Pulls a readable message out of an error body of unknown shape: common JSON fields, an HTML page's
/// title, or the start of the text. Control characters are dropped and the result is kept short.
pub fn generic_message(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        return json_message(&json).map(|m| shorten(&m, 300));
    }
    let text = String::from_utf8_lossy(body);
    if looks_like_html(&text) {
        return Some(match html_title(&text) {
            Some(title) => format!("an HTML page ({title:?}) instead of an API response"),
            None => "an HTML page instead of an API response".to_owned(),
        });
    }
    let text = text.trim();
    (!text.is_empty()).then(|| shorten(text, 200))
}

fn json_message(json: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match json {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(json_message).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        Value::Object(map) => {
            for key in [
                "message",
                "detail",
                "error_description",
                "description",
                "title",
                "reason",
                "error",
            ] {
                if let Some(v) = map.get(key) {
                    if let Some(m) = json_message(v) {
                        return Some(m);
                    }
                }
            }
            map.get("errors").and_then(json_message)
        }
        _ => None,
    }
}

/// Whether a body is an HTML page (error pages of proxies, load balancers, login portals).
pub fn looks_like_html(text: &str) -> bool {
    let start = text
        .trim_start()
        .get(..256.min(text.trim_start().len()))
        .unwrap_or_default();
    let lower = start.to_ascii_lowercase();
    lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.contains("<head")
        || lower.contains("<body")
}

fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = lower[start..].find('>')? + start + 1;
    let end = lower[open_end..].find("</title")? + open_end;
    let title = text.get(open_end..end)?.trim();
    (!title.is_empty()).then(|| shorten(title, 120))
}

/// Cuts `s` to at most `max` characters (on a character boundary), dropping control characters.
pub fn shorten(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim();
    if clean.chars().count() <= max {
        return clean.to_owned();
    }
    let mut out: String = clean.chars().take(max).collect();
    out.push('…');
    out
}

/// Classifies a transport failure by walking its source chain: a host-policy refusal is a configuration
/// error; a certificate or handshake failure is [`ErrorKind::Ssl`]; refused, reset and DNS failures are
/// [`ErrorKind::ConnectionFailed`]; an elapsed timer is [`ErrorKind::Timeout`].
pub fn classify_transport(err: &reqwest::Error) -> (ErrorKind, String) {
    classify_chain(err, err.is_timeout(), err.is_connect())
}

/// I/O error kinds that say the connection went away, whatever layer (TLS included) noticed it.
fn connection_lost(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

/// [`classify_transport`] on any error chain; `timed_out` and `connecting` are what the client knows of
/// the failure beyond its chain.
fn classify_chain(
    err: &(dyn StdError + 'static),
    timed_out: bool,
    connecting: bool,
) -> (ErrorKind, String) {
    let mut chain: Vec<&(dyn StdError + 'static)> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        chain.push(e);
        next = e.source();
    }
    let innermost = chain
        .last()
        .map(|e| e.to_string())
        .unwrap_or_else(|| err.to_string());
    for e in &chain {
        if let Some(v) = e.downcast_ref::<HostPolicyViolation>() {
            return (ErrorKind::InvalidConfiguration, v.to_string());
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return (ErrorKind::Ssl, format!("TLS failed: {tls}"));
        }
        if let Some(io_err) = e.downcast_ref::<io::Error>() {
            if let Some(tls) = io_err
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
            {
                return (ErrorKind::Ssl, format!("TLS failed: {tls}"));
            }
        }
    }
    // Before the text heuristics below: a server that drops a TLS connection is reported by rustls as
    // "peer closed connection without sending TLS close_notify", which names TLS but is a lost connection
    // (retryable), not a certificate problem.
    let lost = chain.iter().find_map(|e| {
        e.downcast_ref::<io::Error>()
            .map(io::Error::kind)
            .filter(|k| connection_lost(*k))
    });
    if let Some(kind) = lost {
        let what = if kind == io::ErrorKind::ConnectionRefused {
            "the connection was refused"
        } else {
            "the server closed the connection"
        };
        return (ErrorKind::ConnectionFailed, format!("{what}: {innermost}"));
    }
    let text = chain
        .iter()
        .map(|e| e.to_string().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" | ");
    if text.contains("certificate") || text.contains("handshake") || text.contains("tls") {
        return (ErrorKind::Ssl, format!("TLS failed: {innermost}"));
    }
    if timed_out
        || chain.iter().any(|e| {
            e.downcast_ref::<io::Error>()
                .is_some_and(|i| i.kind() == io::ErrorKind::TimedOut)
        })
    {
        return (ErrorKind::Timeout, "the request timed out".to_owned());
    }
    if text.contains("dns error")
        || text.contains("failed to lookup")
        || text.contains("name or service not known")
    {
        return (
            ErrorKind::ConnectionFailed,
            format!("the host name could not be resolved: {innermost}"),
        );
    }
    if connecting {
        return (
            ErrorKind::ConnectionFailed,
            format!("could not connect: {innermost}"),
        );
    }
    (
        ErrorKind::ConnectionFailed,
        format!("the connection failed: {innermost}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        let cases = [
            (401, ErrorKind::Unauthorized),
            (403, ErrorKind::Forbidden),
            (404, ErrorKind::NotFound),
            (408, ErrorKind::Timeout),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::Server),
            (502, ErrorKind::Server),
            (503, ErrorKind::Server),
            (504, ErrorKind::Server),
            (501, ErrorKind::InvalidConfiguration),
            (400, ErrorKind::InvalidConfiguration),
        ];
        for (status, kind) in cases {
            assert_eq!(
                kind_for_status(StatusCode::from_u16(status).unwrap()),
                kind,
                "{status}"
            );
        }
    }

    #[test]
    fn messages_from_common_shapes() {
        assert_eq!(
            generic_message(br#"{"message":"nope"}"#).as_deref(),
            Some("nope")
        );
        assert_eq!(
            generic_message(br#"{"detail":"Invalid token."}"#).as_deref(),
            Some("Invalid token.")
        );
        assert_eq!(generic_message(br#"["a","b"]"#).as_deref(), Some("a; b"));
        assert_eq!(
            generic_message(br#"{"errors":[{"title":"object not found"}]}"#).as_deref(),
            Some("object not found")
        );
        assert_eq!(
            generic_message(
                b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>"
            )
            .as_deref(),
            Some("an HTML page (\"502 Bad Gateway\") instead of an API response")
        );
        assert_eq!(generic_message(b""), None);
        let long = "x".repeat(1000);
        assert!(generic_message(long.as_bytes()).unwrap().chars().count() <= 201);
    }

    /// An error with a source, as hyper and reqwest chain theirs.
    #[derive(Debug)]
    struct Wrapped(&'static str, Box<dyn StdError + Send + Sync>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.1)
        }
    }

    fn sent(inner: impl StdError + Send + Sync + 'static) -> Wrapped {
        Wrapped("error sending request", Box::new(inner))
    }

    #[test]
    fn a_dropped_tls_connection_is_a_lost_connection_not_a_certificate_problem() {
        let eof = io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed connection without sending TLS close_notify",
        );
        let (kind, message) = classify_chain(&sent(eof), false, false);
        assert_eq!(kind, ErrorKind::ConnectionFailed, "{message}");
        assert!(kind.is_transient(), "so the request is retried");
        for lost in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::ConnectionAborted,
        ] {
            let (kind, _) = classify_chain(&sent(io::Error::from(lost)), false, false);
            assert_eq!(kind, ErrorKind::ConnectionFailed, "{lost:?}");
        }
        let (kind, message) = classify_chain(
            &sent(io::Error::from(io::ErrorKind::ConnectionRefused)),
            false,
            true,
        );
        assert_eq!(kind, ErrorKind::ConnectionFailed);
        assert!(message.contains("refused"), "{message}");
    }

    #[test]
    fn certificate_failures_stay_ssl_errors() {
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let in_io = io::Error::new(io::ErrorKind::InvalidData, untrusted.clone());
        assert_eq!(classify_chain(&sent(in_io), false, true).0, ErrorKind::Ssl);
        assert_eq!(
            classify_chain(&sent(untrusted), false, true).0,
            ErrorKind::Ssl
        );
        let text = io::Error::other("invalid peer certificate: Expired");
        assert_eq!(classify_chain(&sent(text), false, true).0, ErrorKind::Ssl);
    }

    #[test]
    fn timeouts_and_dns_failures() {
        let (kind, _) = classify_chain(
            &sent(io::Error::from(io::ErrorKind::TimedOut)),
            false,
            false,
        );
        assert_eq!(kind, ErrorKind::Timeout);
        assert_eq!(
            classify_chain(&sent(io::Error::other("operation")), true, false).0,
            ErrorKind::Timeout
        );
        let dns =
            io::Error::other("failed to lookup address information: Name or service not known");
        let (kind, message) = classify_chain(&Wrapped("dns error", Box::new(dns)), false, true);
        assert_eq!(kind, ErrorKind::ConnectionFailed);
        assert!(message.contains("could not be resolved"), "{message}");
    }
}
