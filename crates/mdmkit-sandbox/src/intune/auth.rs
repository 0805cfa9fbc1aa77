//! The Entra token endpoint, the app registrations and their permissions, and the Graph caller check.

use super::*;

// ----- apps and permissions -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Permission {
    /// `DeviceManagementManagedDevices.Read.All`.
    ManagedDevices,
    /// `GroupMember.Read.All`.
    GroupMembers,
    /// `Device.Read.All`.
    Devices,
}

pub(super) struct App {
    pub(super) id: &'static str,
    pub(super) secret: &'static str,
    pub(super) secret_expired: bool,
    pub(super) name: &'static str,
    pub(super) permissions: &'static [Permission],
}

impl App {
    pub(super) fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

pub(super) const APPS: &[App] = &[
    App {
        id: CLIENT_ID,
        secret: CLIENT_SECRET,
        secret_expired: false,
        name: "mdmkit sandbox",
        permissions: &[
            Permission::ManagedDevices,
            Permission::GroupMembers,
            Permission::Devices,
        ],
    },
    App {
        id: NO_DEVICES_CLIENT_ID,
        secret: NO_DEVICES_CLIENT_SECRET,
        secret_expired: false,
        name: "mdmkit sandbox (no Intune devices)",
        permissions: &[Permission::GroupMembers, Permission::Devices],
    },
    App {
        id: NO_DIRECTORY_DEVICES_CLIENT_ID,
        secret: NO_DIRECTORY_DEVICES_CLIENT_SECRET,
        secret_expired: false,
        name: "mdmkit sandbox (no Entra devices)",
        permissions: &[Permission::ManagedDevices, Permission::GroupMembers],
    },
    App {
        id: NO_GROUPS_CLIENT_ID,
        secret: NO_GROUPS_CLIENT_SECRET,
        secret_expired: false,
        name: "mdmkit sandbox (no groups)",
        permissions: &[Permission::ManagedDevices, Permission::Devices],
    },
    App {
        id: EXPIRED_SECRET_CLIENT_ID,
        secret: EXPIRED_SECRET,
        secret_expired: true,
        name: "mdmkit sandbox (expired secret)",
        permissions: &[
            Permission::ManagedDevices,
            Permission::GroupMembers,
            Permission::Devices,
        ],
    },
];

pub(super) fn app(id: &str) -> Option<&'static App> {
    APPS.iter().find(|a| a.id.eq_ignore_ascii_case(id.trim()))
}

// ----- Entra token endpoint -----

/// Entra's OAuth error body.
pub(super) fn entra_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    let trace = fresh_id();
    let correlation = fresh_id();
    let timestamp = entra_timestamp();
    let mut response = json(
        status,
        json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(&trace) {
        headers.insert("x-ms-request-id", v);
    }
    response
}

pub(super) fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

pub(super) fn is_dns_name(text: &str) -> bool {
    text.contains('.')
        && text.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The audience origin a scope names, if it is exactly `<scheme>://<host>/.default` for this server.
pub(super) fn graph_audience(scope: &str, scheme: &str, host: &str) -> Option<String> {
    let resource = scope.strip_suffix("/.default")?;
    let (asked, authority) = resource.split_once("://")?;
    (asked.eq_ignore_ascii_case(scheme) && authority.eq_ignore_ascii_case(host))
        .then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// The scheme clients reach this server with: the framework sets `X-Forwarded-Proto: https` in TLS mode.
pub(super) fn request_scheme(headers: &HeaderMap) -> &'static str {
    match header_str(headers, "x-forwarded-proto") {
        Some(p) if p.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

pub(super) async fn token_get(Path(_tenant): Path<String>) -> Response {
    entra_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900561,
        "This endpoint takes POST requests only; a GET request was received.",
    )
}

pub(super) async fn token(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = StatusCode::BAD_REQUEST;
    if !is_guid(&tenant) && !is_dns_name(&tenant) {
        return entra_error(
            bad,
            "invalid_request",
            900023,
            &format!("The tenant identifier '{tenant}' is not a valid GUID or DNS domain name."),
        );
    }
    if !tenant.eq_ignore_ascii_case(TENANT_ID) && !tenant.eq_ignore_ascii_case(TENANT_DOMAIN) {
        return entra_error(
            bad,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. The tenant ID may be mistyped, or the tenant belongs to another national cloud."
            ),
        );
    }
    let form = header_str(&headers, header::CONTENT_TYPE.as_str()).is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    let pairs = if form {
        query_pairs(std::str::from_utf8(&body).ok())
    } else {
        Vec::new()
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let basic = basic(&headers);
    let client_id = field("client_id").or_else(|| basic.as_ref().map(|(u, _)| u.clone()));
    let secret = field("client_secret").or_else(|| basic.as_ref().map(|(_, p)| p.clone()));
    let missing = |name: &str| {
        entra_error(
            bad,
            "invalid_request",
            900144,
            &format!("The request body must contain the parameter '{name}'."),
        )
    };
    let Some(grant_type) = field("grant_type") else {
        return missing("grant_type");
    };
    let Some(client_id) = client_id else {
        return missing("client_id");
    };
    let Some(scope) = field("scope") else {
        return missing("scope");
    };
    if grant_type != "client_credentials" {
        return entra_error(
            bad,
            "unsupported_grant_type",
            70003,
            &format!(
                "The grant type '{grant_type}' is not supported here: use client_credentials."
            ),
        );
    }
    let Some(app) = app(&client_id) else {
        return entra_error(
            bad,
            "unauthorized_client",
            700016,
            &format!(
                "No application with the identifier '{client_id}' exists in the directory '{tenant}'. It may be installed in another tenant, or the identifier may be mistyped."
            ),
        );
    };
    let host = header_str(&headers, header::HOST.as_str()).unwrap_or_default();
    let entries: Vec<&str> = scope.split_whitespace().collect();
    let audience = match entries.as_slice() {
        [one] => graph_audience(one, request_scheme(&headers), host),
        _ => None,
    };
    let Some(audience) = audience else {
        if !entries.iter().any(|e| e.ends_with("/.default")) {
            return entra_error(
                bad,
                "invalid_scope",
                1002012,
                &format!(
                    "The scope '{scope}' cannot be used with client credentials, which need '<resource>/.default'."
                ),
            );
        }
        return entra_error(
            bad,
            "invalid_scope",
            70011,
            &format!("The value of the 'scope' parameter is not valid: '{scope}'."),
        );
    };
    let unauthorized = StatusCode::UNAUTHORIZED;
    let Some(secret) = secret else {
        return entra_error(
            unauthorized,
            "invalid_client",
            7000218,
            "The request body must contain 'client_secret' or 'client_assertion'.",
        );
    };
    if secret != app.secret {
        return entra_error(
            unauthorized,
            "invalid_client",
            7000215,
            &format!(
                "The client secret sent for app '{}' is not valid. Send the secret's value, not its secret ID.",
                app.id
            ),
        );
    }
    if app.secret_expired {
        return entra_error(
            unauthorized,
            "invalid_client",
            7000222,
            &format!(
                "The client secret keys of app '{}' ({}) have expired. Create a new secret in the app registration.",
                app.id, app.name
            ),
        );
    }
    let (access_token, expires_in) = ctx.issue_token(&format!("{} {audience}", app.id));
    let mut response = json(
        StatusCode::OK,
        json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access_token,
        }),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    response
}

// ----- Graph authentication -----

/// Who is calling, and the origin their token was issued for (the base of next links).
pub(super) struct Caller {
    pub(super) app: &'static App,
    pub(super) origin: String,
}

pub(super) fn authenticate(ctx: &Ctx, headers: &HeaderMap) -> Result<Caller, Fault> {
    let Some(check) = ctx.bearer_grant(headers) else {
        return Err(Fault::unauthenticated("Access token is empty."));
    };
    match check {
        TokenCheck::Valid(grant) => {
            let (client, origin) = grant.client.split_once(' ').unwrap_or_default();
            let app = app(client).ok_or_else(|| {
                Fault::unauthenticated("Access token validation failure. Invalid token.")
            })?;
            let host = header_str(headers, header::HOST.as_str()).unwrap_or_default();
            let audience_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
            if !audience_host.eq_ignore_ascii_case(host) {
                return Err(Fault::unauthenticated(
                    "Access token validation failure. Invalid audience.",
                ));
            }
            Ok(Caller {
                app,
                origin: origin.to_owned(),
            })
        }
        TokenCheck::Expired => Err(Fault::unauthenticated(
            "Lifetime validation failed, the token is expired.",
        )),
        TokenCheck::Unknown => Err(Fault::unauthenticated(
            "Access token validation failure. The token was not issued by this tenant.",
        )),
    }
}
