//! Reads SimpleMDM's error bodies: `{"errors":[{"title":"object not found"}]}`.
//!
//! The status decides the kind (the shared mapping); this classifier only supplies SimpleMDM's own words.
//! Bodies that are not in that shape (an HTML page from a proxy, plain text) fall back to the core's
//! generic extraction, so every error still reads cleanly.

use mdmkit_core::http::{generic_message, shorten, ErrorClassifier, ErrorDetail};
use serde_json::Value;

/// The [`ErrorClassifier`] for SimpleMDM.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SimpleMdmErrorClassifier;

impl ErrorClassifier for SimpleMdmErrorClassifier {
    fn classify(
        &self,
        _status: mdmkit_core::http::StatusCode,
        _headers: &mdmkit_core::http::HeaderMap,
        body: &[u8],
    ) -> ErrorDetail {
        ErrorDetail {
            kind: None,
            message: errors_message(body)
                .or_else(|| generic_message(body))
                .filter(|m| !m.trim().is_empty()),
        }
    }
}

/// The titles (and details, where given) of a JSON:API-style `errors` array, joined with `; `.
fn errors_message(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let errors = json.get("errors")?.as_array()?;
    let parts: Vec<String> = errors
        .iter()
        .filter_map(|e| match e {
            Value::String(s) => non_blank(s),
            Value::Object(map) => {
                let text = |key: &str| map.get(key).and_then(Value::as_str).and_then(non_blank);
                match (text("title"), text("detail")) {
                    (Some(t), Some(d)) if t != d => Some(format!("{t}: {d}")),
                    (Some(t), _) => Some(t),
                    (None, d) => d.or_else(|| text("code")),
                }
            }
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| shorten(&parts.join("; "), 300))
}

fn non_blank(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> Option<String> {
        SimpleMdmErrorClassifier
            .classify(
                mdmkit_core::http::StatusCode::NOT_FOUND,
                &mdmkit_core::http::HeaderMap::new(),
                body.as_bytes(),
            )
            .message
    }

    #[test]
    fn titles_are_the_message() {
        assert_eq!(
            message(r#"{"errors":[{"title":"object not found"}]}"#).as_deref(),
            Some("object not found")
        );
        assert_eq!(
            message(r#"{"errors":[{"title":"name is invalid"},{"title":"value is required"}]}"#)
                .as_deref(),
            Some("name is invalid; value is required")
        );
    }

    #[test]
    fn details_and_other_shapes_still_read() {
        assert_eq!(
            message(r#"{"errors":[{"title":"Forbidden","detail":"API key lacks the devices permission"}]}"#)
                .as_deref(),
            Some("Forbidden: API key lacks the devices permission")
        );
        assert_eq!(
            message(r#"{"errors":["rate limit exceeded"]}"#).as_deref(),
            Some("rate limit exceeded")
        );
        assert_eq!(
            message("<html><head><title>502 Bad Gateway</title></head></html>").as_deref(),
            Some("an HTML page (\"502 Bad Gateway\") instead of an API response")
        );
        assert_eq!(message(""), None);
        assert_eq!(
            message(r#"{"errors":[{"title":"  "}]}"#),
            None,
            "blank titles are no message"
        );
    }

    #[test]
    fn the_kind_is_left_to_the_status() {
        let detail = SimpleMdmErrorClassifier.classify(
            mdmkit_core::http::StatusCode::UNAUTHORIZED,
            &mdmkit_core::http::HeaderMap::new(),
            br#"{"errors":[{"title":"Unauthorized"}]}"#,
        );
        assert_eq!(detail.kind, None);
    }
}
