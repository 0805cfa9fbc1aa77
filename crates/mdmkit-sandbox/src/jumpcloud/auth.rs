//! JumpCloud's error bodies and the API keys' organizations and reach.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Errors and auth

/// The canonical code name JumpCloud's error schema carries in `status`.
pub(super) fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        410 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL",
        _ => "UNKNOWN",
    }
}

pub(super) fn error_body(status: StatusCode, message: &str) -> Response {
    json(
        status,
        json!({"code": status.as_u16(), "message": message, "status": status_name(status)}),
    )
}

/// Which API a request is on: V2 400s carry `details[]` (`ErrorDetails`), V1 400s do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    V1,
    V2,
}

pub(super) fn invalid(api: Api, field: &str, message: &str) -> Response {
    let status = StatusCode::BAD_REQUEST;
    let mut body = json!({"code": 400, "message": format!("Bad Request: {message}"), "status": status_name(status)});
    if api == Api::V2 {
        body["details"] = json!([{"field": field, "message": message}]);
    }
    json(status, body)
}

pub(super) fn not_found() -> Response {
    error_body(StatusCode::NOT_FOUND, "Not Found")
}

/// The organisation a request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Org {
    /// [`ORG_ID`], which holds the fleet.
    Main,
    /// [`OTHER_ORG_ID`], empty.
    Other,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// `/api/organizations`: refuses `x-org-id`.
    Organizations,
    /// Organisation-scoped, no device permission needed (the user directory).
    Users,
    /// Organisation-scoped, device permission needed (systems, system groups, the system graph).
    Devices,
}

/// The organisations a known key can see.
pub(super) fn orgs_of(key: &str) -> &'static [(&'static str, Org)] {
    if key == MTP_KEY {
        &[(ORG_ID, Org::Main), (OTHER_ORG_ID, Org::Other)]
    } else {
        &[(ORG_ID, Org::Main)]
    }
}

pub(super) fn authorize(headers: &HeaderMap, route: Route) -> Result<Org, Response> {
    let unauthorized = |message: &str| error_body(StatusCode::UNAUTHORIZED, message);
    let key = header_str(headers, "x-api-key")
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() {
        return Err(unauthorized("Unauthorized: API key required"));
    }
    if ![API_KEY, MTP_KEY, NO_DEVICES_KEY].contains(&key) {
        return Err(unauthorized("Unauthorized: invalid API key"));
    }
    let org_header = headers
        .get("x-org-id")
        .map(|v| v.to_str().unwrap_or("?").trim())
        .filter(|v| !v.is_empty());
    let org = match (route, org_header) {
        (Route::Organizations, Some(_)) => {
            return Err(error_body(
                StatusCode::FORBIDDEN,
                "ID included on unsupported route",
            ));
        }
        (Route::Organizations, None) => Org::Main,
        (_, Some(id)) if !is_object_id(id) => {
            return Err(error_body(StatusCode::BAD_REQUEST, "Malformed ID"));
        }
        (_, Some(id)) => match orgs_of(key)
            .iter()
            .find(|(org, _)| org.eq_ignore_ascii_case(id))
        {
            Some((_, org)) => *org,
            None => {
                return Err(error_body(
                    StatusCode::NOT_FOUND,
                    "Organization ID Not Found",
                ))
            }
        },
        (_, None) if key == MTP_KEY => {
            return Err(unauthorized("ID not included for multi-tenant admin"));
        }
        (_, None) => Org::Main,
    };
    if route == Route::Devices && key == NO_DEVICES_KEY {
        return Err(error_body(
            StatusCode::FORBIDDEN,
            "Forbidden: this administrator's role does not include device access",
        ));
    }
    Ok(org)
}
