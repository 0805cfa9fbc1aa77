//! Jamf's error bodies (Jamf Pro API JSON, Classic API status pages, OAuth errors) and unknown routes.

use super::*;

// ----- error bodies -----

/// The Jamf Pro API `ApiError` body; `code: None` gives an empty `errors` list.
pub(super) fn api_error(
    status: StatusCode,
    code: Option<&str>,
    description: &str,
    field: Option<&str>,
) -> Response {
    let errors = match code {
        Some(code) => {
            json!([{"code": code, "description": description, "id": "0", "field": field}])
        }
        None => json!([]),
    };
    json(
        status,
        json!({"httpStatus": status.as_u16(), "errors": errors}),
    )
}

/// The Classic API's HTML status page.
pub(super) fn classic_status_page(status: StatusCode) -> Response {
    let (title, text) = match status {
        StatusCode::UNAUTHORIZED => ("Unauthorized", "The request requires user authentication"),
        StatusCode::FORBIDDEN => (
            "Forbidden",
            "The server understood the request, but is refusing to fulfill it",
        ),
        StatusCode::NOT_FOUND => (
            "Not Found",
            "The server has not found anything matching the request URI",
        ),
        _ => (
            status.canonical_reason().unwrap_or("Error"),
            "The server encountered an unexpected condition",
        ),
    };
    let page = format!(
        "<html>\n<head>\n   <title>Status page</title>\n</head>\n<body style=\"font-family: sans-serif;\">\n\
         <p style=\"font-size: 1.2em;font-weight: bold;margin: 1em 0px;\">{title}</p>\n<p>{text}</p>\n\
         <p>You can get technical details <a href=\"http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html\">here</a>.<br>\n\
         Please continue your visit at our <a href=\"/\">home page</a>.\n</p>\n</body>\n</html>\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        page,
    )
        .into_response()
}

/// An RFC 6749 §5.2 token error.
pub(super) fn oauth_error(error: &str, description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        json!({"error": error, "error_description": description}),
    )
}

// ----- fallback -----

/// Unknown routes: the token is checked first (as the server's security filters do), then 404.
pub(super) async fn fallback(State(ctx): State<Ctx>, headers: HeaderMap, uri: Uri) -> Rejection {
    let flavor = if uri.path().starts_with("/JSSResource") {
        Flavor::Classic
    } else {
        Flavor::Pro
    };
    match (caller(&ctx, &headers, flavor), flavor) {
        (Err(refused), _) => refused,
        (Ok(_), Flavor::Classic) => Rejection::ClassicNotFound,
        (Ok(_), Flavor::Pro) => Rejection::NoRoute,
    }
}
