//! One error type for every provider, with a kind for code and a user-facing category (R8) for people.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::kind::ProviderKind;

/// Result alias used across mdmkit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, precisely enough for code to act on it.
///
/// Every kind maps onto exactly one of the six user-facing [`Category`] values of R8 through
/// [`ErrorKind::category`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credentials are invalid or expired (HTTP 401, or a refused token request).
    Unauthorized,
    /// The credentials lack a permission (HTTP 403).
    Forbidden,
    /// The host or API endpoint does not exist (HTTP 404 on an API route).
    NotFound,
    /// The network or DNS failed: refused, reset, unresolvable.
    ConnectionFailed,
    /// TLS failed: an untrusted certificate or a failed handshake.
    Ssl,
    /// The provider answered with a server-side error (5xx).
    Server,
    /// The provider asked us to slow down (HTTP 429) and the retry budget ran out.
    RateLimited,
    /// The request or connection took longer than allowed.
    Timeout,
    /// The provider answered, but not with what its API documents (bad JSON, an HTML page, a body too large,
    /// paging that never ends).
    InvalidResponse,
    /// The configuration cannot work: a host that does not parse, a host refused by the host policy, a
    /// request the provider rejects as malformed.
    InvalidConfiguration,
}

impl ErrorKind {
    /// The user-facing category of R8. This is the one place where kinds meet categories.
    pub fn category(self) -> Category {
        match self {
            ErrorKind::Unauthorized => Category::Unauthorized,
            ErrorKind::Forbidden => Category::Forbidden,
            // A host that does not parse or is refused cannot be reached: the user fixes the host.
            ErrorKind::NotFound | ErrorKind::InvalidConfiguration => Category::NotFound,
            ErrorKind::ConnectionFailed | ErrorKind::Timeout => Category::ConnectionFailed,
            ErrorKind::Ssl => Category::Ssl,
            // Throttling and unusable answers are the provider's side of the conversation.
            ErrorKind::Server | ErrorKind::RateLimited | ErrorKind::InvalidResponse => {
                Category::Server
            }
        }
    }

    /// Whether a request that failed this way may succeed if repeated (for an idempotent request).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::ConnectionFailed
                | ErrorKind::Server
                | ErrorKind::RateLimited
                | ErrorKind::Timeout
        )
    }

    /// A short name for logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not found",
            ErrorKind::ConnectionFailed => "connection failed",
            ErrorKind::Ssl => "TLS error",
            ErrorKind::Server => "server error",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Timeout => "timed out",
            ErrorKind::InvalidResponse => "invalid response",
            ErrorKind::InvalidConfiguration => "invalid configuration",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The six user-facing error categories of R8, shown when saving credentials fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// The API token or credentials are invalid or expired.
    Unauthorized,
    /// The credentials lack the required permissions.
    Forbidden,
    /// The MDM host or API endpoint could not be reached.
    NotFound,
    /// A network or DNS error prevented the connection.
    ConnectionFailed,
    /// TLS certificate validation failed.
    Ssl,
    /// The MDM provider returned a server-side error.
    Server,
}

impl Category {
    /// Every category, in R8 order.
    pub const ALL: [Category; 6] = [
        Category::Unauthorized,
        Category::Forbidden,
        Category::NotFound,
        Category::ConnectionFailed,
        Category::Ssl,
        Category::Server,
    ];

    /// The category's name exactly as R8 gives it.
    pub fn name(self) -> &'static str {
        match self {
            Category::Unauthorized => "Unauthorized",
            Category::Forbidden => "Forbidden",
            Category::NotFound => "Not found",
            Category::ConnectionFailed => "Connection failed",
            Category::Ssl => "SSL error",
            Category::Server => "Server error",
        }
    }

    /// The meaning R8 gives the category.
    pub fn meaning(self) -> &'static str {
        match self {
            Category::Unauthorized => "the API token or credentials are invalid or expired",
            Category::Forbidden => "the credentials lack the required permissions",
            Category::NotFound => "the MDM host or API endpoint could not be reached",
            Category::ConnectionFailed => "a network or DNS error prevented the connection",
            Category::Ssl => "TLS certificate validation failed",
            Category::Server => "the MDM provider returned a server-side error",
        }
    }
}

impl fmt::Display for Category {
    /// `<name>: <meaning>`, e.g. `Unauthorized: the API token or credentials are invalid or expired`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.meaning())
    }
}

/// An mdmkit error: a kind, where it happened (provider and operation), the HTTP status if there was one,
/// a readable message (the provider's own detail where it gave one) and the chained source.
///
/// Messages never contain secrets: providers build them from error bodies and status lines, and the HTTP
/// layer never puts request headers or bodies into them.
pub struct Error {
    kind: ErrorKind,
    provider: Option<ProviderKind>,
    operation: Option<&'static str>,
    status: Option<u16>,
    retry_after: Option<Duration>,
    retryable: Option<bool>,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            provider: None,
            operation: None,
            status: None,
            retry_after: None,
            retryable: None,
            message: message.into(),
            source: None,
        }
    }

    /// Shorthand for an [`ErrorKind::InvalidConfiguration`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidConfiguration, message)
    }

    /// Shorthand for an [`ErrorKind::InvalidResponse`] error.
    pub fn invalid_response(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidResponse, message)
    }

    /// The kind, for code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The user-facing R8 category.
    pub fn category(&self) -> Category {
        self.kind.category()
    }

    /// Whether repeating the same (idempotent) request may succeed. Errors whose retries already ran out
    /// report `false`, so an outer layer does not retry a second time.
    pub fn is_retryable(&self) -> bool {
        self.retryable.unwrap_or_else(|| self.kind.is_transient())
    }

    /// How long the provider asked us to wait (`Retry-After`, `X-RateLimit-Reset`), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The provider the error came from, if known.
    pub fn provider(&self) -> Option<ProviderKind> {
        self.provider
    }

    /// The operation that failed (`validate`, `list_devices`, `token`, …), if known.
    pub fn operation(&self) -> Option<&'static str> {
        self.operation
    }

    /// The HTTP status of the response that caused the error, if there was a response.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The message without the provider and operation prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Sets the provider unless one is already set.
    pub fn with_provider(mut self, provider: ProviderKind) -> Self {
        self.provider.get_or_insert(provider);
        self
    }

    /// Sets the operation unless one is already set (the innermost operation is the most precise).
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        self.operation.get_or_insert(operation);
        self
    }

    /// Records the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Records how long the provider asked us to wait.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    /// Chains the underlying cause.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Changes the kind (used by per-provider refinements of the shared mapping).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Replaces the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Marks the error as final: retries ran out or must not happen, so [`Error::is_retryable`] is false.
    pub fn into_persistent(mut self) -> Self {
        self.retryable = Some(false);
        self
    }
}

impl fmt::Display for Error {
    /// `<Provider> <operation>: <message>`, e.g. `Jamf validate: HTTP 401: INVALID_TOKEN: Unauthorized`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.provider, self.operation) {
            (Some(p), Some(op)) => write!(f, "{} {op}: {}", p.display_name(), self.message),
            (Some(p), None) => write!(f, "{}: {}", p.display_name(), self.message),
            (None, Some(op)) => write!(f, "{op}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl fmt::Debug for Error {
    /// One line a developer can read where `main` returned the error or a log printed it:
    /// `Error { kind: Unauthorized, provider: Jamf, operation: "validate", status: 401, message: "…" }`,
    /// with unknown parts left out and the source by its `Display` (a transport error's own `Debug` is a
    /// nested dump). `{:#?}` prints every field, the source's `Debug` included. Secrets never reach the
    /// message or the source, so neither form shows one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return f
                .debug_struct("Error")
                .field("kind", &self.kind)
                .field("provider", &self.provider)
                .field("operation", &self.operation)
                .field("status", &self.status)
                .field("retry_after", &self.retry_after)
                .field("message", &self.message)
                .field("source", &self.source)
                .finish();
        }
        write!(f, "Error {{ kind: {:?}", self.kind)?;
        if let Some(provider) = self.provider {
            write!(f, ", provider: {provider:?}")?;
        }
        if let Some(operation) = self.operation {
            write!(f, ", operation: {operation:?}")?;
        }
        if let Some(status) = self.status {
            write!(f, ", status: {status}")?;
        }
        if let Some(after) = self.retry_after {
            write!(f, ", retry_after: {after:?}")?;
        }
        // `{:?}` of a string escapes line breaks, so the whole stays on one line.
        write!(f, ", message: {:?}", self.message)?;
        if let Some(source) = &self.source {
            write!(f, ", source: {:?}", source.to_string())?;
        }
        f.write_str(" }")
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// One operation of one provider (`Operation::new(ProviderKind::Jamf, "groups")`), named once by the
/// provider crate and used for its requests and for the errors it raises outside the HTTP client (a
/// response it cannot use, a cursor it did not write), so neither has to name the provider again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation {
    provider: ProviderKind,
    name: &'static str,
}

impl Operation {
    /// `name` (`validate`, `list_devices`, `groups`, …) of `provider`.
    pub const fn new(provider: ProviderKind, name: &'static str) -> Operation {
        Operation { provider, name }
    }

    /// The provider.
    pub const fn provider(self) -> ProviderKind {
        self.provider
    }

    /// The operation's name, as errors and logs show it.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// Names this provider and operation on `error`, keeping a provider or operation it already names
    /// (the innermost is the most precise).
    pub fn tag(self, error: Error) -> Error {
        error.with_provider(self.provider).with_operation(self.name)
    }

    /// [`Operation::tag`] as a function, for `map_err`.
    pub fn tagger(self) -> impl Fn(Error) -> Error {
        move |error| self.tag(error)
    }

    /// A new error of `kind` in this operation.
    pub fn error(self, kind: ErrorKind, message: impl Into<String>) -> Error {
        self.tag(Error::new(kind, message))
    }
}

/// The operations every provider has, one per [`crate::MdmProvider`] method that talks to the MDM, named
/// the same for all six so errors and logs read alike. A provider crate holds one
/// (`ProviderOperations::of(ProviderKind::Jamf)`) and names only its own extra operations itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderOperations {
    /// `validate`: the test call before credentials are saved.
    pub validate: Operation,
    /// `device_by_serial`: one device's lookup.
    pub device_by_serial: Operation,
    /// `list_devices`: the bulk listing.
    pub list_devices: Operation,
    /// `list_changed_devices`: the listing of devices changed since a time.
    pub list_changed_devices: Operation,
    /// `groups`: the group sync's read.
    pub groups: Operation,
}

impl ProviderOperations {
    /// The operations of `provider`.
    pub const fn of(provider: ProviderKind) -> ProviderOperations {
        ProviderOperations {
            validate: Operation::new(provider, "validate"),
            device_by_serial: Operation::new(provider, "device_by_serial"),
            list_devices: Operation::new(provider, "list_devices"),
            list_changed_devices: Operation::new(provider, "list_changed_devices"),
            groups: Operation::new(provider, "groups"),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn every_provider_names_its_common_operations_alike() {
        let ops = ProviderOperations::of(ProviderKind::Fleet);
        let all = [
            ops.validate,
            ops.device_by_serial,
            ops.list_devices,
            ops.list_changed_devices,
            ops.groups,
        ];
        assert!(all.iter().all(|op| op.provider() == ProviderKind::Fleet));
        assert_eq!(
            all.map(Operation::name),
            [
                "validate",
                "device_by_serial",
                "list_devices",
                "list_changed_devices",
                "groups"
            ]
        );
    }
    use super::*;

    #[test]
    fn an_operation_names_itself_on_errors_without_overriding_inner_ones() {
        let groups = Operation::new(ProviderKind::Jamf, "groups");
        let made = groups.error(ErrorKind::InvalidResponse, "no groups section");
        assert_eq!(made.provider(), Some(ProviderKind::Jamf));
        assert_eq!(made.operation(), Some("groups"));
        assert_eq!(made.kind(), ErrorKind::InvalidResponse);
        let inner = Error::new(ErrorKind::NotFound, "gone").with_operation("token");
        let tagged = (groups.tagger())(inner);
        assert_eq!(
            tagged.operation(),
            Some("token"),
            "the inner operation stays"
        );
        assert_eq!(tagged.provider(), Some(ProviderKind::Jamf));
    }

    #[test]
    fn debug_is_one_readable_line_with_every_known_part() {
        let source = std::io::Error::other("tcp connect error:\nConnection refused");
        let e = Error::new(
            ErrorKind::Unauthorized,
            "HTTP 401: INVALID_TOKEN\nsecond line",
        )
        .with_provider(ProviderKind::Jamf)
        .with_operation("validate")
        .with_status(401)
        .with_source(source);
        let shown = format!("{e:?}");
        assert_eq!(
            shown,
            "Error { kind: Unauthorized, provider: Jamf, operation: \"validate\", status: 401, \
             message: \"HTTP 401: INVALID_TOKEN\\nsecond line\", \
             source: \"tcp connect error:\\nConnection refused\" }"
        );
        assert!(!shown.contains('\n'));
        // Unknown parts are left out rather than shown as `None`.
        assert_eq!(
            format!("{:?}", Error::config("API Client ID is required")),
            "Error { kind: InvalidConfiguration, message: \"API Client ID is required\" }"
        );
        // The alternate form keeps every field for a closer look.
        let full = format!("{e:#?}");
        assert!(
            full.contains("retry_after: None") && full.contains("Custom"),
            "{full}"
        );
    }

    #[test]
    fn every_kind_maps_to_one_of_the_six_categories() {
        let cases = [
            (ErrorKind::Unauthorized, Category::Unauthorized),
            (ErrorKind::Forbidden, Category::Forbidden),
            (ErrorKind::NotFound, Category::NotFound),
            (ErrorKind::InvalidConfiguration, Category::NotFound),
            (ErrorKind::ConnectionFailed, Category::ConnectionFailed),
            (ErrorKind::Timeout, Category::ConnectionFailed),
            (ErrorKind::Ssl, Category::Ssl),
            (ErrorKind::Server, Category::Server),
            (ErrorKind::RateLimited, Category::Server),
            (ErrorKind::InvalidResponse, Category::Server),
        ];
        for (kind, category) in cases {
            assert_eq!(kind.category(), category, "{kind:?}");
        }
    }

    #[test]
    fn category_display_is_name_and_meaning() {
        assert_eq!(
            Category::Unauthorized.to_string(),
            "Unauthorized: the API token or credentials are invalid or expired"
        );
        assert_eq!(
            Category::NotFound.to_string(),
            "Not found: the MDM host or API endpoint could not be reached"
        );
        assert_eq!(
            Category::Ssl.to_string(),
            "SSL error: TLS certificate validation failed"
        );
        assert_eq!(
            Category::ConnectionFailed.to_string(),
            "Connection failed: a network or DNS error prevented the connection"
        );
        assert_eq!(
            Category::Server.to_string(),
            "Server error: the MDM provider returned a server-side error"
        );
        assert_eq!(
            Category::Forbidden.to_string(),
            "Forbidden: the credentials lack the required permissions"
        );
    }

    #[test]
    fn retryability_follows_kind_until_persistent() {
        let e = Error::new(ErrorKind::Server, "boom");
        assert!(e.is_retryable());
        assert!(!e.into_persistent().is_retryable());
        assert!(!Error::new(ErrorKind::Unauthorized, "no").is_retryable());
        assert!(!Error::new(ErrorKind::Ssl, "no").is_retryable());
    }

    #[test]
    fn display_names_provider_and_operation_and_keeps_source() {
        let io = std::io::Error::other("inner");
        let e = Error::invalid_response("not JSON")
            .with_provider(ProviderKind::Fleet)
            .with_operation("list_devices")
            .with_source(io);
        assert_eq!(e.to_string(), "Fleet list_devices: not JSON");
        assert_eq!(e.source().unwrap().to_string(), "inner");
        // The innermost operation wins.
        let e = e.with_operation("outer");
        assert_eq!(e.operation(), Some("list_devices"));
    }
}
