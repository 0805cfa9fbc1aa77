//! Reads JumpCloud's error bodies into readable messages.
//!
//! JumpCloud answers errors as `{"code", "message", "status"}` (V2 adds `details[]` on 400), as the older
//! V1 `{"message"}`, or as plain text. The status-based kind of the shared mapping is right for almost
//! all of them; this classifier adds the vendor's words and, for the documented multi-tenant `x-org-id`
//! errors and a few other known texts, says what to change.

use mdmkit_core::http::{looks_like_html, shorten, ErrorClassifier, ErrorDetail};
use mdmkit_core::http::{HeaderMap, StatusCode};
use mdmkit_core::ErrorKind;
use serde_json::Value;

/// The JumpCloud [`ErrorClassifier`]. Knows the configured organisation id (not a secret) so messages can
/// name it.
#[derive(Debug, Clone, Default)]
pub(crate) struct JumpCloudErrorClassifier {
    org_id: Option<String>,
}

impl JumpCloudErrorClassifier {
    pub(crate) fn new(org_id: Option<String>) -> Self {
        JumpCloudErrorClassifier { org_id }
    }

    fn org(&self) -> String {
        match &self.org_id {
            Some(id) => format!("the organisation ID {id:?}"),
            None => "the organisation ID".to_owned(),
        }
    }
}

/// What to tell the operator when the vendor's text matches a known case: a refined kind (if the status
/// alone would mislead) and the advice appended to the vendor's text.
fn advice(
    errors: &JumpCloudErrorClassifier,
    status: StatusCode,
    lower: &str,
) -> Option<(Option<ErrorKind>, String)> {
    let has = |needle: &str| lower.contains(needle);
    if has("id not included") || has("no organization selected") {
        return Some((
            Some(ErrorKind::Unauthorized),
            "this API key belongs to a multi-tenant administrator; set the organisation ID (x-org-id) \
             of the organisation to read"
                .to_owned(),
        ));
    }
    if has("malformed id") {
        return Some((
            Some(ErrorKind::InvalidConfiguration),
            format!(
                "{} is not a valid JumpCloud organisation ID; copy it from the multi-tenant portal",
                errors.org()
            ),
        ));
    }
    if has("do not match") && (has("x-org-id") || has("organization")) {
        return Some((
            Some(ErrorKind::InvalidConfiguration),
            format!(
                "{} does not match the organisation in the request path",
                errors.org()
            ),
        ));
    }
    if has("organization id not found") || (status == StatusCode::NOT_FOUND && has("organization"))
    {
        return Some((
            Some(ErrorKind::NotFound),
            format!(
                "{} does not exist or this API key cannot see it; check the organisation ID and the region",
                errors.org()
            ),
        ));
    }
    if has("unsupported route") {
        return Some((
            Some(ErrorKind::Forbidden),
            "JumpCloud refuses an organisation ID (x-org-id) on this route".to_owned(),
        ));
    }
    if has("ip has been blocked") {
        return Some((
            Some(ErrorKind::Forbidden),
            "JumpCloud has blocked this server's IP address; contact JumpCloud support".to_owned(),
        ));
    }
    if status == StatusCode::UNAUTHORIZED {
        return Some((
            None,
            "check the API key, and that the region (US, EU or IN) is the organisation's data centre"
                .to_owned(),
        ));
    }
    if status == StatusCode::FORBIDDEN {
        return Some((
            None,
            "the administrator who owns this API key lacks access to devices, users or groups"
                .to_owned(),
        ));
    }
    None
}

/// The vendor's own words from an error body: `message` (or `error`), the `status` label when it adds
/// something, and any `details`. `None` for an empty body or an HTML page (the shared mapping describes
/// those).
fn vendor_text(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            let text = |key: &str| {
                map.get(key)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            let mut out = text("message")
                .or_else(|| text("error"))
                .or_else(|| text("detail"))
                .map(str::to_owned);
            if let Some(label) = text("status") {
                let known = out
                    .as_deref()
                    .is_some_and(|m| m.to_ascii_lowercase().contains(&label.to_ascii_lowercase()));
                if !known {
                    out = Some(match out {
                        Some(m) => format!("{m} ({label})"),
                        None => label.to_owned(),
                    });
                }
            }
            let details: Vec<String> = map
                .get("details")
                .and_then(Value::as_array)
                .map(|items| items.iter().filter_map(detail_text).collect())
                .unwrap_or_default();
            if !details.is_empty() {
                let joined = details.join("; ");
                out = Some(match out {
                    Some(m) => format!("{m}: {joined}"),
                    None => joined,
                });
            }
            out.map(|m| shorten(&m, 300))
        }
        Ok(Value::String(s)) => Some(shorten(&s, 300)).filter(|s| !s.is_empty()),
        Ok(_) => None,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            if looks_like_html(&text) {
                return None;
            }
            Some(shorten(&text, 200)).filter(|s| !s.is_empty())
        }
    }
}

fn detail_text(item: &Value) -> Option<String> {
    match item {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => {
            let field = map.get("field").and_then(Value::as_str);
            let message = ["message", "description", "reason", "error"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str))?;
            Some(match field {
                Some(f) => format!("{f}: {message}"),
                None => message.to_owned(),
            })
        }
        _ => None,
    }
}

impl ErrorClassifier for JumpCloudErrorClassifier {
    fn classify(&self, status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> ErrorDetail {
        let text = vendor_text(body);
        let lower = text.as_deref().unwrap_or_default().to_ascii_lowercase();
        match (advice(self, status, &lower), text) {
            (Some((kind, hint)), Some(text)) => ErrorDetail {
                kind,
                message: Some(format!("{text} ({hint})")),
            },
            // An empty body: the advice is all there is to say, unless it is the generic hint and the
            // body is HTML (let the shared mapping describe the page).
            (Some((kind, hint)), None) if body.is_empty() => ErrorDetail {
                kind,
                message: Some(hint),
            },
            (_, text) => ErrorDetail {
                kind: None,
                message: text,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use mdmkit_testkit::expect::classified;

    use super::*;

    fn classify(org: Option<&str>, status: u16, body: &str) -> ErrorDetail {
        mdmkit_core::wire::classify_answer(
            &JumpCloudErrorClassifier::new(org.map(str::to_owned)),
            status,
            body,
        )
    }

    #[test]
    fn the_v2_shape_keeps_message_status_and_details() {
        let d = classify(
            None,
            400,
            r#"{"code":400,"message":"Bad Request","status":"INVALID_ARGUMENT",
                "details":[{"field":"filter","message":"unknown operator"}]}"#,
        );
        assert_eq!(d.kind, None);
        assert_eq!(
            d.message.as_deref(),
            Some("Bad Request (INVALID_ARGUMENT): filter: unknown operator")
        );
        let d = classify(
            None,
            500,
            r#"{"code":500,"message":"Database timeout","status":"INTERNAL"}"#,
        );
        assert_eq!(d.message.as_deref(), Some("Database timeout (INTERNAL)"));
        // A label the message already carries is not repeated.
        let d = classify(
            None,
            500,
            r#"{"code":500,"message":"Internal error","status":"INTERNAL"}"#,
        );
        assert_eq!(d.message.as_deref(), Some("Internal error"));
    }

    #[test]
    fn multi_tenant_errors_say_what_to_change() {
        let d = classify(
            None,
            401,
            r#"{"message":"Unauthorized: no organization selected"}"#,
        );
        let m = classified(&d, ErrorKind::Unauthorized);
        assert!(
            m.starts_with("Unauthorized: no organization selected ("),
            "{m}"
        );
        assert!(m.contains("set the organisation ID"), "{m}");

        let d = classify(Some("5f0c"), 400, r#"{"message":"Malformed ID"}"#);
        assert!(classified(&d, ErrorKind::InvalidConfiguration)
            .contains(r#"organisation ID "5f0c" is not a valid"#));

        let d = classify(
            Some("5f0c"),
            404,
            r#"{"message":"Organization ID Not Found"}"#,
        );
        assert!(classified(&d, ErrorKind::NotFound)
            .contains("does not exist or this API key cannot see it"));

        let d = classify(Some("5f0c"), 403, "ID included on unsupported route");
        assert!(
            classified(&d, ErrorKind::Forbidden).starts_with("ID included on unsupported route (")
        );

        let d = classify(
            Some("5f0c"),
            400,
            r#"{"message":"x-org-id and Organization path ID do not match"}"#,
        );
        assert_eq!(d.kind, Some(ErrorKind::InvalidConfiguration));
    }

    #[test]
    fn empty_and_html_bodies() {
        let d = classify(None, 401, "");
        assert!(d.message.unwrap().starts_with("check the API key"));
        let d = classify(None, 502, "<html><head><title>502</title></head></html>");
        assert_eq!(d, ErrorDetail::default());
        let d = classify(None, 500, "");
        assert_eq!(d, ErrorDetail::default());
    }
}
