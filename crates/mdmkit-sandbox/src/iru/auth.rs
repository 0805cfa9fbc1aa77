//! Iru's error bodies and the API tokens' permissions.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Errors and auth

pub(super) fn detail(status: StatusCode, message: &str) -> Response {
    json(status, json!({ "detail": message }))
}

pub(super) fn unauthorized(message: &str) -> Response {
    let mut response = detail(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

pub(super) fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not found.")
}

pub(super) fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        NOT_FOUND_PAGE,
    )
        .into_response()
}

/// The per-endpoint permissions a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Permission {
    /// Any valid token (used before answering 405).
    Any,
    DeviceList,
    DeviceDetails,
    Tags,
    Blueprints,
    Users,
    Licensing,
}

/// `None`: not a token of this tenant; `Some(granted)` otherwise.
pub(super) fn grants(token: &str, permission: Permission) -> Option<bool> {
    match token {
        TOKEN => Some(true),
        NO_DEVICE_READ_TOKEN => Some(!matches!(
            permission,
            Permission::DeviceList | Permission::DeviceDetails
        )),
        _ => None,
    }
}

/// Checks `Authorization: Bearer <token>` the way the API's framework does: the refusal, if any.
pub(super) fn refusal(headers: &HeaderMap, permission: Permission) -> Option<Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Some(unauthorized(
            "Authentication credentials were not provided.",
        ));
    };
    let Ok(text) = value.to_str() else {
        return Some(unauthorized(
            "Invalid token header. Token string should not contain invalid characters.",
        ));
    };
    let mut words = text.split_whitespace();
    if !words
        .next()
        .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
    {
        return Some(unauthorized(
            "Authentication credentials were not provided.",
        ));
    }
    let token = match (words.next(), words.next()) {
        (None, _) => {
            return Some(unauthorized(
                "Invalid token header. No credentials provided.",
            ))
        }
        (Some(_), Some(_)) => {
            return Some(unauthorized(
                "Invalid token header. Token string should not contain spaces.",
            ))
        }
        (Some(token), None) => token,
    };
    match grants(token, permission) {
        None => Some(unauthorized("Invalid token.")),
        Some(false) => Some(detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        )),
        Some(true) => None,
    }
}

/// The checks of a read by id, in the framework's order: an id that is not a UUID matches no route (the
/// HTML 404 page, before any auth), then the token's `permission`.
pub(super) fn refusal_by_id(
    headers: &HeaderMap,
    id: &str,
    permission: Permission,
) -> Option<Response> {
    if !is_uuid(id) {
        return Some(not_found_page());
    }
    refusal(headers, permission)
}
