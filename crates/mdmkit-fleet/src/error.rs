//! Reads Fleet's error body into the shared error mapping.
//!
//! Fleet answers errors with `{"message": "...", "errors": [{"name": "...", "reason": "..."}], "uuid":
//! "..."}`. The message and every distinct reason are surfaced (`Resource Not Found: Host was not found
//! in the datastore`); the status decides the kind, with two refinements:
//! - a 404 whose body is *not* Fleet's error shape (an HTML page, an empty body) comes from something that
//!   is not the Fleet API, so it is [`ErrorKind::InvalidConfiguration`] (still "Not found" for people),
//!   and only a genuine Fleet 404 is [`ErrorKind::NotFound`], which lookups read as "no such host";
//! - a 401 gets a hint, because Fleet revokes a user's API token when that user logs in again.

use mdmkit_core::http::{generic_message, shorten, ErrorClassifier, ErrorDetail};
use mdmkit_core::http::{HeaderMap, StatusCode};
use mdmkit_core::ErrorKind;

use crate::wire::ErrorBody;

/// The hint added to 401 answers.
const UNAUTHORIZED_HINT: &str = "check the API token; a token of a user who is not API-only is revoked when that user logs in again, so use an API-only user";

/// Fleet's [`ErrorClassifier`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FleetErrorClassifier;

impl ErrorClassifier for FleetErrorClassifier {
    fn classify(&self, status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> ErrorDetail {
        let fleet = fleet_message(body);
        let is_fleet = fleet.is_some();
        let mut message = fleet.or_else(|| generic_message(body));
        let mut kind = None;
        match status.as_u16() {
            401 => {
                message = Some(match message {
                    Some(m) => format!("{m} ({UNAUTHORIZED_HINT})"),
                    None => UNAUTHORIZED_HINT.to_owned(),
                });
            }
            404 if !is_fleet => {
                kind = Some(ErrorKind::InvalidConfiguration);
                let what = message.unwrap_or_else(|| "an empty answer".to_owned());
                message = Some(format!(
                    "{what}; this is not the Fleet API, check the Fleet server address"
                ));
            }
            _ => {}
        }
        ErrorDetail { kind, message }
    }
}

/// The readable text of a Fleet error body, or `None` if the body is not Fleet's shape.
pub(crate) fn fleet_message(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    let message = parsed
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let mut reasons: Vec<String> = Vec::new();
    for item in parsed.errors.as_deref().unwrap_or_default() {
        let Some(reason) = item
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        else {
            continue;
        };
        if message.is_some_and(|m| m.eq_ignore_ascii_case(reason)) {
            continue;
        }
        // `base` means "the request as a whole"; any other name is the field the reason is about.
        let text = match item.name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() && name != "base" => format!("{name}: {reason}"),
            _ => reason.to_owned(),
        };
        if !reasons.contains(&text) {
            reasons.push(text);
        }
    }
    let text = match (message, reasons.is_empty()) {
        (None, true) => return None,
        (Some(m), true) => m.to_owned(),
        (None, false) => reasons.join("; "),
        (Some(m), false) => format!("{m}: {}", reasons.join("; ")),
    };
    Some(shorten(&text, 400))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_core::wire::classify_answer;

    #[test]
    fn message_and_distinct_reasons() {
        assert_eq!(
            fleet_message(br#"{"message": "Authentication required", "errors": [{"name": "base", "reason": "Authentication required"}]}"#).as_deref(),
            Some("Authentication required")
        );
        assert_eq!(
            fleet_message(br#"{"message": "Validation Failed", "errors": [{"name": "per_page", "reason": "must be positive"}, {"name": "base", "reason": "bad page"}, {"name": "base", "reason": "bad page"}]}"#).as_deref(),
            Some("Validation Failed: per_page: must be positive; bad page")
        );
        assert_eq!(
            fleet_message(br#"{"errors": [{"name": "base", "reason": "forbidden"}]}"#).as_deref(),
            Some("forbidden")
        );
        assert_eq!(fleet_message(br#"{"errors": null, "message": " "}"#), None);
        assert_eq!(fleet_message(b"<html></html>"), None);
        assert_eq!(fleet_message(br#"["not", "fleet"]"#), None);
    }

    #[test]
    fn only_fleets_own_404_is_not_found() {
        let fleet = classify_answer(
            &FleetErrorClassifier,
            404,
            r#"{"message": "Resource Not Found", "errors": [{"name": "base", "reason": "Host was not found in the datastore"}]}"#,
        );
        assert_eq!(fleet.kind, None, "the status mapping (NotFound) applies");
        assert_eq!(
            fleet.message.as_deref(),
            Some("Resource Not Found: Host was not found in the datastore")
        );
        for body in [
            "",
            "<html><head><title>404</title></head></html>",
            "404 page not found",
        ] {
            let other = classify_answer(&FleetErrorClassifier, 404, body);
            assert_eq!(
                other.kind,
                Some(ErrorKind::InvalidConfiguration),
                "{body:?}"
            );
            assert!(other.message.unwrap().contains("not the Fleet API"));
        }
    }

    #[test]
    fn unauthorized_gets_the_api_only_hint_and_others_keep_the_status_kind() {
        let d = classify_answer(
            &FleetErrorClassifier,
            401,
            r#"{"message": "Authentication required"}"#,
        );
        assert_eq!(d.kind, None);
        let m = d.message.unwrap();
        assert!(m.starts_with("Authentication required ("), "{m}");
        assert!(m.contains("API-only"), "{m}");
        assert!(classify_answer(&FleetErrorClassifier, 401, "")
            .message
            .unwrap()
            .contains("API-only"));
        let d = classify_answer(&FleetErrorClassifier, 500, r#"{"message": "boom"}"#);
        assert_eq!((d.kind, d.message.as_deref()), (None, Some("boom")));
        let d = classify_answer(&FleetErrorClassifier, 502, "upstream connect error");
        assert_eq!(d.message.as_deref(), Some("upstream connect error"));
    }
}
