//! API clients and their privileges, the refusals, the OAuth token endpoint and the version probe.

use super::*;

// ----- clients, privileges, refusals -----

/// The read privileges of an API role that the simulated endpoints check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    Computers,
    Users,
    SmartGroups,
    StaticGroups,
}

pub(super) struct ApiClient {
    pub(super) id: &'static str,
    pub(super) secret: &'static str,
    pub(super) role: &'static str,
    pub(super) privileges: &'static [Read],
}

pub(super) const CLIENTS: &[ApiClient] = &[
    ApiClient {
        id: CLIENT_ID,
        secret: CLIENT_SECRET,
        role: "api-role:1",
        privileges: &[
            Read::Computers,
            Read::Users,
            Read::SmartGroups,
            Read::StaticGroups,
        ],
    },
    ApiClient {
        id: NO_COMPUTERS_CLIENT_ID,
        secret: NO_COMPUTERS_CLIENT_SECRET,
        role: "api-role:2",
        privileges: &[Read::Users, Read::SmartGroups, Read::StaticGroups],
    },
];

pub(super) fn api_client(id: &str) -> Option<&'static ApiClient> {
    CLIENTS.iter().find(|c| c.id == id)
}

/// Which API answers, and so which error bodies it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Pro,
    Classic,
}

/// Why a request is refused; rendered as the answering API's error body.
#[derive(Debug)]
pub(super) enum Rejection {
    Unauthorized(Flavor),
    Forbidden(Flavor),
    /// A 400 naming the query parameter at fault.
    BadField {
        field: &'static str,
        description: String,
    },
    /// A Jamf Pro API `/{id}` route with an unknown id.
    NoSuchId(String),
    /// The Jamf Pro API's answer to an unknown route.
    NoRoute,
    /// The Classic API's 404.
    ClassicNotFound,
}

pub(super) fn bad_field(field: &'static str, description: impl Into<String>) -> Rejection {
    Rejection::BadField {
        field,
        description: description.into(),
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Unauthorized(Flavor::Pro) => api_error(
                StatusCode::UNAUTHORIZED,
                Some("INVALID_TOKEN"),
                "Unauthorized",
                None,
            ),
            Rejection::Forbidden(Flavor::Pro) => api_error(
                StatusCode::FORBIDDEN,
                Some("INVALID_PRIVILEGE"),
                "Forbidden",
                None,
            ),
            Rejection::Unauthorized(Flavor::Classic) => {
                classic_status_page(StatusCode::UNAUTHORIZED)
            }
            Rejection::Forbidden(Flavor::Classic) => classic_status_page(StatusCode::FORBIDDEN),
            Rejection::BadField { field, description } => api_error(
                StatusCode::BAD_REQUEST,
                Some("INVALID_FIELD"),
                &description,
                Some(field),
            ),
            Rejection::NoSuchId(id) => api_error(
                StatusCode::NOT_FOUND,
                Some("INVALID_ID"),
                &format!("Object with id {id} does not exist"),
                Some("id"),
            ),
            Rejection::NoRoute => api_error(StatusCode::NOT_FOUND, None, "", None),
            Rejection::ClassicNotFound => classic_status_page(StatusCode::NOT_FOUND),
        }
    }
}

/// A handler's outcome.
pub(super) type Answer = Result<Response, Rejection>;

/// The API client behind the request's bearer token (missing, unknown and expired tokens alike are
/// Unauthorized).
pub(super) fn caller(
    ctx: &Ctx,
    headers: &HeaderMap,
    flavor: Flavor,
) -> Result<&'static ApiClient, Rejection> {
    match ctx.bearer_grant(headers) {
        Some(TokenCheck::Valid(grant)) => {
            api_client(&grant.client).ok_or(Rejection::Unauthorized(flavor))
        }
        _ => Err(Rejection::Unauthorized(flavor)),
    }
}

/// The caller, if its role holds any of `privileges`.
pub(super) fn authorize(
    ctx: &Ctx,
    headers: &HeaderMap,
    flavor: Flavor,
    privileges: &[Read],
) -> Result<&'static ApiClient, Rejection> {
    let client = caller(ctx, headers, flavor)?;
    if privileges.iter().any(|p| client.privileges.contains(p)) {
        Ok(client)
    } else {
        Err(Rejection::Forbidden(flavor))
    }
}

// ----- token endpoint and version -----

pub(super) async fn token(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let form = header_str(&headers, header::CONTENT_TYPE.as_str()).is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form {
        return oauth_error(
            "invalid_request",
            "The token request must be application/x-www-form-urlencoded",
        );
    }
    let pairs = query_pairs(std::str::from_utf8(&body).ok());
    let field = |name| query_get(&pairs, name).filter(|v| !v.is_empty());
    let (Some(grant_type), Some(client_id), Some(secret)) = (
        field("grant_type"),
        field("client_id"),
        field("client_secret"),
    ) else {
        return oauth_error(
            "invalid_request",
            "grant_type, client_id and client_secret are required",
        );
    };
    if grant_type != "client_credentials" {
        return oauth_error(
            "unsupported_grant_type",
            "Only the client_credentials grant is supported",
        );
    }
    let Some(client) = api_client(client_id).filter(|c| c.secret == secret) else {
        return oauth_error("invalid_client", "Client authentication failed");
    };
    let scope = match field("scope") {
        None => client.role.to_owned(),
        Some(asked) => {
            if asked.split_whitespace().any(|role| role != client.role) {
                return oauth_error(
                    "invalid_scope",
                    "The requested scope names a role the client does not have",
                );
            }
            asked.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    let (access_token, expires_in) = ctx.issue_token(client.id);
    json(
        StatusCode::OK,
        json!({"access_token": access_token, "scope": scope, "token_type": "Bearer", "expires_in": expires_in}),
    )
}

pub(super) async fn version(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    caller(&ctx, &headers, Flavor::Pro)?;
    Ok(json(StatusCode::OK, json!({"version": VERSION})))
}
