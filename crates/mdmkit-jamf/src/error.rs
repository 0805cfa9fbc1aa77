//! Reads Jamf's error bodies into readable messages for the shared status mapping.
//!
//! - The Jamf Pro API answers errors with its `ApiError` schema:
//!   `{"httpStatus":403,"errors":[{"code":"INVALID_PRIVILEGE","field":null,"description":"Forbidden","id":"0"}]}`.
//!   Every entry becomes `CODE: description` (with the field when there is one), so an operator sees
//!   `INVALID_TOKEN` or `INVALID_PRIVILEGE` in the message.
//! - The Classic API (`/JSSResource`) answers errors with an HTML "Status page"; its first paragraphs are
//!   turned into text (`Not Found: The server has not found anything matching the request URI`).
//! - Anything else (a proxy's page, plain text) goes to the shared [`generic_message`].

use mdmkit_core::http::{generic_message, looks_like_html, shorten, ErrorClassifier, ErrorDetail};
use mdmkit_core::http::{HeaderMap, StatusCode};
use mdmkit_core::ErrorKind;

use crate::wire::ApiError;

/// The Jamf error classifier: surfaces the `ApiError` codes and descriptions in error messages.
///
/// The kind comes from the HTTP status (core's mapping) except where the body is more precise:
/// `INVALID_PRIVILEGE` is always Forbidden and `INVALID_TOKEN` always Unauthorized, whatever 4xx status
/// carried them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JamfErrorClassifier;

impl ErrorClassifier for JamfErrorClassifier {
    fn classify(&self, status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> ErrorDetail {
        if let Ok(api) = serde_json::from_slice::<ApiError>(body) {
            if let Some(message) = api_error_message(&api) {
                let kind = status
                    .is_client_error()
                    .then(|| refined_kind(&api))
                    .flatten();
                return ErrorDetail {
                    kind,
                    message: Some(message),
                };
            }
        }
        let text = String::from_utf8_lossy(body);
        if looks_like_html(&text) {
            if let Some(message) = classic_status_page(&text) {
                return ErrorDetail {
                    kind: None,
                    message: Some(message),
                };
            }
        }
        ErrorDetail {
            kind: None,
            message: generic_message(body),
        }
    }
}

fn refined_kind(api: &ApiError) -> Option<ErrorKind> {
    let has = |code: &str| {
        api.errors.iter().any(|e| {
            e.code
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(code))
        })
    };
    if has("INVALID_PRIVILEGE") {
        Some(ErrorKind::Forbidden)
    } else if has("INVALID_TOKEN") {
        Some(ErrorKind::Unauthorized)
    } else {
        None
    }
}

/// `CODE: description` for each entry, joined with `; `. `None` when the body names no error.
fn api_error_message(api: &ApiError) -> Option<String> {
    let parts: Vec<String> = api
        .errors
        .iter()
        .filter_map(|e| {
            let clean = |s: &Option<String>| {
                s.as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let code = clean(&e.code);
            let description = clean(&e.description);
            let field = clean(&e.field);
            let mut out = match (code, description) {
                (Some(c), Some(d)) => format!("{c}: {d}"),
                (Some(c), None) => c,
                (None, Some(d)) => d,
                (None, None) => return None,
            };
            if let Some(field) = field {
                out.push_str(&format!(" (field {field})"));
            }
            Some(out)
        })
        .collect();
    (!parts.is_empty()).then(|| shorten(&parts.join("; "), 300))
}

/// The text of the first two paragraphs of the Classic API's HTML status page, e.g.
/// `Unauthorized: The request requires user authentication`.
fn classic_status_page(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let mut paragraphs = Vec::new();
    let mut from = 0;
    while paragraphs.len() < 2 {
        let Some(start) = find_paragraph(&lower, from) else {
            break;
        };
        let Some(open_end) = lower[start..].find('>').map(|i| start + i + 1) else {
            break;
        };
        let end = lower[open_end..]
            .find("</p")
            .map(|i| open_end + i)
            .unwrap_or(lower.len());
        let text = strip_tags(&html[open_end..end]);
        if !text.is_empty() {
            paragraphs.push(text);
        }
        from = end;
    }
    (!paragraphs.is_empty()).then(|| shorten(&paragraphs.join(": "), 300))
}

/// The index of the next `<p>` or `<p …>` tag (not `<pre>`, `<param>`) at or after `from`.
fn find_paragraph(lower: &str, mut from: usize) -> Option<usize> {
    loop {
        let at = lower.get(from..)?.find("<p")? + from;
        match lower.as_bytes().get(at + 2) {
            Some(b'>' | b' ' | b'\t' | b'\n' | b'\r') => return Some(at),
            Some(_) => from = at + 2,
            None => return None,
        }
    }
}

fn strip_tags(fragment: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_core::wire::classify_answer;

    #[test]
    fn api_error_codes_and_descriptions_are_surfaced() {
        let d = classify_answer(
            &JamfErrorClassifier,
            401,
            r#"{"httpStatus":401,"errors":[{"code":"INVALID_TOKEN","description":"Unauthorized","id":"0","field":null}]}"#,
        );
        assert_eq!(d.message.as_deref(), Some("INVALID_TOKEN: Unauthorized"));
        assert_eq!(d.kind, Some(ErrorKind::Unauthorized));

        let d = classify_answer(
            &JamfErrorClassifier,
            400,
            r#"{"httpStatus":400,"errors":[{"code":"INVALID_FIELD","field":"filter","description":"Unknown field","id":"0"},{"code":"OTHER","description":null}]}"#,
        );
        assert_eq!(
            d.message.as_deref(),
            Some("INVALID_FIELD: Unknown field (field filter); OTHER")
        );
        assert_eq!(d.kind, None, "no refinement: the status decides");
    }

    #[test]
    fn invalid_privilege_is_forbidden_even_with_another_4xx() {
        let body = r#"{"httpStatus":401,"errors":[{"code":"INVALID_PRIVILEGE","description":"Forbidden"}]}"#;
        assert_eq!(
            classify_answer(&JamfErrorClassifier, 401, body).kind,
            Some(ErrorKind::Forbidden)
        );
        // A server error keeps its status-based kind whatever the body says.
        assert_eq!(classify_answer(&JamfErrorClassifier, 500, body).kind, None);
    }

    #[test]
    fn empty_api_error_falls_back_to_the_generic_reading() {
        let d = classify_answer(
            &JamfErrorClassifier,
            500,
            r#"{"httpStatus":500,"errors":[]}"#,
        );
        assert_eq!(d.message, None);
        assert_eq!(d.kind, None);
    }

    #[test]
    fn classic_status_page_is_read_as_text() {
        let html = "<html>\n<head>\n   <title>Status page</title>\n</head>\n<body style=\"font-family: sans-serif;\">\n<p style=\"font-size: 1.2em;font-weight: bold;margin: 1em 0px;\">Unauthorized</p>\n<p>The request requires user authentication</p>\n<p>You can get technical details <a href=\"http://www.w3.org/\">here</a>.<br>\n</p>\n</body>\n</html>";
        assert_eq!(
            classify_answer(&JamfErrorClassifier, 401, html)
                .message
                .as_deref(),
            Some("Unauthorized: The request requires user authentication")
        );
    }

    #[test]
    fn other_bodies_use_the_generic_reading() {
        assert_eq!(
            classify_answer(&JamfErrorClassifier, 502, "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body></body></html>")
                .message
                .as_deref(),
            Some("an HTML page (\"502 Bad Gateway\") instead of an API response")
        );
        assert_eq!(
            classify_answer(&JamfErrorClassifier, 503, "upstream unavailable")
                .message
                .as_deref(),
            Some("upstream unavailable")
        );
    }
}
