//! Reading Iru's error bodies: `{"detail": …}`, a bare array of strings, field errors, or an HTML page.

use mdmkit_core::http::{
    generic_message, looks_like_html, shorten, ErrorClassifier, ErrorDetail, HeaderMap, StatusCode,
};
use mdmkit_core::ErrorKind;
use serde_json::Value;

/// The [`ErrorClassifier`] for Iru.
///
/// The message is the vendor's own text, whatever shape the body has. The kind follows the HTTP status,
/// with one refinement: the API's framework answers a missing or unrecognised token with HTTP 403 and a
/// body such as `{"detail": "Authentication credentials were not provided."}` when it cannot send a 401,
/// and that is an invalid token (Unauthorized), not a missing permission.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IruErrorClassifier;

impl ErrorClassifier for IruErrorClassifier {
    fn classify(&self, status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> ErrorDetail {
        let detail = body_message(body);
        let kind = (status == StatusCode::FORBIDDEN
            && detail.as_deref().is_some_and(is_authentication_failure))
        .then_some(ErrorKind::Unauthorized);
        let message = match (status, detail) {
            (StatusCode::FORBIDDEN, Some(d)) if kind.is_none() => Some(format!(
                "{d} (check the API token's endpoint permissions under Settings > Access > API Token)"
            )),
            (_, d) => d,
        };
        ErrorDetail { kind, message }
    }
}

/// Phrases of the authentication (not authorisation) failures the API's framework reports.
fn is_authentication_failure(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "authentication credentials were not provided",
        "incorrect authentication credentials",
        "invalid token",
        "token has expired",
        "token is expired",
        "token has been revoked",
    ]
    .iter()
    .any(|phrase| d.contains(phrase))
}

/// A readable message from an Iru error body, or `None` for an empty body.
pub(crate) fn body_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        return None;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => json_message(&json)
            .map(|m| shorten(&m, 300))
            .filter(|m| !m.is_empty()),
        // An HTML page (some 404s) or plain text: the shared reader names the page by its title.
        Err(_) if looks_like_html(&text) => generic_message(body),
        Err(_) => Some(shorten(text.trim(), 200)),
    }
}

fn json_message(json: &Value) -> Option<String> {
    match json {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(_) | Value::Null => None,
        // `["Device is not in lost mode."]`
        Value::Array(items) => join(items.iter().filter_map(json_message)),
        Value::Object(map) => {
            // `{"detail": "..."}` first, then other common keys.
            for key in ["detail", "message", "error", "errors", "non_field_errors"] {
                if let Some(m) = map.get(key).and_then(json_message) {
                    return Some(m);
                }
            }
            // Field errors: `{"limit": ["Ensure this value is less than or equal to 300."]}`.
            join(
                map.iter()
                    .filter_map(|(field, v)| json_message(v).map(|m| format!("{field}: {m}"))),
            )
        }
    }
}

fn join(parts: impl Iterator<Item = String>) -> Option<String> {
    let parts: Vec<String> = parts.filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_core::wire::classify_answer;

    #[test]
    fn detail_objects_arrays_and_field_errors() {
        assert_eq!(
            body_message(br#"{"detail":"User still assigned to one or more devices."}"#).as_deref(),
            Some("User still assigned to one or more devices.")
        );
        assert_eq!(
            body_message(br#"["Device is not in lost mode."]"#).as_deref(),
            Some("Device is not in lost mode.")
        );
        assert_eq!(body_message(br#"["a", "b"]"#).as_deref(), Some("a; b"));
        assert_eq!(
            body_message(br#"{"limit":["Ensure this value is less than or equal to 300."]}"#)
                .as_deref(),
            Some("limit: Ensure this value is less than or equal to 300.")
        );
        assert_eq!(body_message(b""), None);
        assert_eq!(body_message(b"  "), None);
        assert_eq!(body_message(b"{}"), None);
        assert_eq!(body_message(b"[]"), None);
        assert_eq!(body_message(b"plain words").as_deref(), Some("plain words"));
    }

    #[test]
    fn html_pages_are_named_by_their_title() {
        let html = b"<!DOCTYPE html>\n<html><head><title>Not Found</title></head><body><h1>Not Found</h1><p>The requested resource was not found on this server.</p></body></html>";
        let m = body_message(html).unwrap();
        assert!(m.contains("HTML page"), "{m}");
        assert!(m.contains("Not Found"), "{m}");
        assert!(!m.contains('<'), "{m}");
    }

    #[test]
    fn forbidden_authentication_failures_are_unauthorized() {
        let d = classify_answer(
            &IruErrorClassifier,
            403,
            r#"{"detail":"Authentication credentials were not provided."}"#,
        );
        assert_eq!(d.kind, Some(ErrorKind::Unauthorized));
        assert_eq!(
            d.message.as_deref(),
            Some("Authentication credentials were not provided.")
        );
        let d = classify_answer(&IruErrorClassifier, 403, r#"{"detail":"Invalid token."}"#);
        assert_eq!(d.kind, Some(ErrorKind::Unauthorized));
    }

    #[test]
    fn forbidden_permission_failures_stay_forbidden_with_a_hint() {
        let d = classify_answer(
            &IruErrorClassifier,
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        );
        assert_eq!(d.kind, None);
        let m = d.message.unwrap();
        assert!(m.starts_with("You do not have permission to perform this action."));
        assert!(m.contains("permissions"), "{m}");
    }

    #[test]
    fn other_statuses_keep_the_status_kind() {
        let d = classify_answer(&IruErrorClassifier, 401, r#"{"detail":"Invalid token."}"#);
        assert_eq!(d.kind, None);
        assert_eq!(d.message.as_deref(), Some("Invalid token."));
        assert_eq!(classify_answer(&IruErrorClassifier, 500, "").message, None);
    }
}
