//! Reading Graph's error bodies: the permission behind a refusal, and Intune's JSON-in-a-string messages.
//!
//! Graph answers `{"error": {"code", "message", "innerError"}}`. Intune's device service puts a JSON
//! document into `message` as a string (`{"_version": 3, "Message": "Application is not authorized ..."}`),
//! and older tenants wrap that once more under `code: "UnknownError"` with `{"ErrorCode": "Forbidden",
//! "Message": "<the same document>"}`, sometimes with HTTP 401. So the code is read first, then the nested
//! codes, then the text, and a refusal becomes [`ErrorKind::Forbidden`] whatever the status said.
//! Messages keep the innermost text with its activity id, without Intune's internal service URL.

use mdmkit_core::http::{generic_message, shorten, ErrorClassifier, ErrorDetail, TokenErrorBody};
use mdmkit_core::http::{HeaderMap, StatusCode};
use mdmkit_core::ErrorKind;

use crate::wire::GraphErrorBody;

/// The Microsoft Graph application permissions the connector needs (all with admin consent).
pub mod permissions {
    /// Reads Intune managed devices: validation, lookups, the bulk listing and the group join.
    pub const MANAGED_DEVICES: &str = "DeviceManagementManagedDevices.Read.All";
    /// Reads security groups and their members (`Group.Read.All` also works).
    pub const GROUP_MEMBERS: &str = "GroupMember.Read.All";
    /// Reads Entra device objects; without it group members come back without their `deviceId`.
    pub const DEVICES: &str = "Device.Read.All";
}

/// Which permission a refusal on this client points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// `deviceManagement/managedDevices`.
    ManagedDevices,
    /// `groups` and their members.
    GroupMembers,
    /// The Entra token endpoint: no Graph permission is involved.
    Nothing,
}

impl Needs {
    fn advice(self) -> Option<String> {
        let what = match self {
            Needs::ManagedDevices => permissions::MANAGED_DEVICES.to_owned(),
            Needs::GroupMembers => format!("{} (or Group.Read.All)", permissions::GROUP_MEMBERS),
            Needs::Nothing => return None,
        };
        Some(format!(
            "the app registration needs the Microsoft Graph application permission {what}, with admin consent granted"
        ))
    }
}

/// The [`ErrorClassifier`] for Graph and the Entra login host.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntuneErrorClassifier {
    needs: Needs,
}

impl IntuneErrorClassifier {
    /// A classifier whose Forbidden messages name the permission `needs` stands for.
    pub(crate) fn new(needs: Needs) -> Self {
        IntuneErrorClassifier { needs }
    }
}

/// Graph's error, with Intune's nested documents unwrapped.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fault {
    /// `error.code`.
    pub code: Option<String>,
    /// `ErrorCode` values found inside `message` (`Forbidden` in the UnknownError form).
    pub nested_codes: Vec<String>,
    /// The innermost readable message, without Intune's internal service URL.
    pub message: Option<String>,
    /// `error.message` as sent, for the last-resort text search.
    pub raw_message: String,
}

impl Fault {
    /// Reads Graph's error envelope; `None` for any other body.
    pub(crate) fn parse(body: &[u8]) -> Option<Fault> {
        let envelope: GraphErrorBody = serde_json::from_slice(body).ok()?;
        let code = envelope.error.code.filter(|c| !c.trim().is_empty());
        let raw_message = envelope.error.message.unwrap_or_default();
        let mut nested_codes = Vec::new();
        let mut text = raw_message.trim().to_owned();
        // Each level is a JSON object serialised into a string; three levels is the most seen.
        for _ in 0..4 {
            if !text.starts_with('{') {
                break;
            }
            let Ok(serde_json::Value::Object(doc)) = serde_json::from_str(&text) else {
                break;
            };
            for key in ["ErrorCode", "code", "Code"] {
                if let Some(c) = doc.get(key).and_then(|v| v.as_str()) {
                    nested_codes.push(c.to_owned());
                }
            }
            match ["Message", "message"]
                .iter()
                .find_map(|k| doc.get(*k).and_then(|v| v.as_str()))
            {
                Some(inner) => text = inner.trim().to_owned(),
                None => break,
            }
        }
        // Intune's internal service URL is noise; an all-zero operation id says nothing. The activity id
        // stays: Microsoft support asks for it.
        let cleaned = match text.find(" - Url:") {
            Some(at) => text[..at].to_owned(),
            None => text,
        };
        let cleaned = cleaned.replace(
            " - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000",
            "",
        );
        let cleaned = shorten(&cleaned, 300);
        Some(Fault {
            code,
            nested_codes,
            message: (!cleaned.is_empty()).then_some(cleaned),
            raw_message,
        })
    }

    /// Whether the body says the app lacks a permission, whatever the status (Intune's UnknownError form
    /// arrives with HTTP 401).
    pub(crate) fn is_permission_refusal(&self) -> bool {
        let forbidden_code = |c: &str| {
            c.eq_ignore_ascii_case("Forbidden")
                || c.eq_ignore_ascii_case("Authorization_RequestDenied")
        };
        self.code.as_deref().is_some_and(forbidden_code)
            || self.nested_codes.iter().any(|c| forbidden_code(c))
            || self.raw_message.contains("Application is not authorized")
            || self.raw_message.contains("Forbidden")
    }

    /// `code[/nested]: message`.
    fn summary(&self) -> Option<String> {
        let mut codes: Vec<&str> = self.code.iter().map(String::as_str).collect();
        for c in &self.nested_codes {
            if !codes.iter().any(|k| k.eq_ignore_ascii_case(c)) {
                codes.push(c);
            }
        }
        let codes = codes.join("/");
        match (&self.message, codes.is_empty()) {
            (Some(m), false) => Some(format!("{codes}: {m}")),
            (Some(m), true) => Some(m.clone()),
            (None, false) => Some(codes),
            (None, true) => None,
        }
    }
}

/// An OAuth error body (`{"error": "invalid_client", "error_description": "AADSTS…"}`) seen on a status
/// the token flow does not parse itself (e.g. a 5xx from the login host).
fn token_error_summary(body: &[u8]) -> Option<String> {
    let parsed: TokenErrorBody = serde_json::from_slice(body).ok()?;
    Some(entra_said(&parsed))
}

/// `error: first line of error_description`, without Entra's trace and correlation ids.
pub(crate) fn entra_said(body: &TokenErrorBody) -> String {
    let description = body.error_description.as_deref().map(|d| {
        let first = d.split(['\r', '\n']).next().unwrap_or_default();
        let first = match first.find(" Trace ID:") {
            Some(at) => &first[..at],
            None => first,
        };
        shorten(first, 300)
    });
    match description.filter(|d| !d.is_empty()) {
        Some(d) => format!("{}: {d}", body.error),
        None => body.error.clone(),
    }
}

impl ErrorClassifier for IntuneErrorClassifier {
    fn classify(&self, status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> ErrorDetail {
        let Some(fault) = Fault::parse(body) else {
            let message = token_error_summary(body).or_else(|| generic_message(body));
            let kind = (status == StatusCode::FORBIDDEN).then_some(ErrorKind::Forbidden);
            return ErrorDetail {
                kind,
                message: self.with_advice(kind, message),
            };
        };
        // Refine only client errors: a 5xx stays a (retryable) server error whatever its text says.
        let kind = if status == StatusCode::FORBIDDEN
            || (status.is_client_error() && fault.is_permission_refusal())
        {
            Some(ErrorKind::Forbidden)
        } else {
            None
        };
        ErrorDetail {
            kind,
            message: self.with_advice(kind, fault.summary()),
        }
    }
}

impl IntuneErrorClassifier {
    fn with_advice(&self, kind: Option<ErrorKind>, message: Option<String>) -> Option<String> {
        let advice = match kind {
            Some(ErrorKind::Forbidden) => self.needs.advice(),
            _ => None,
        };
        match (message, advice) {
            (Some(m), Some(a)) => Some(format!("{m}; {a}")),
            (None, Some(a)) => Some(a),
            (m, None) => m,
        }
    }
}

#[cfg(test)]
mod tests {
    use mdmkit_testkit::expect::classified;

    use super::*;

    fn classify(needs: Needs, status: u16, body: &str) -> ErrorDetail {
        mdmkit_core::wire::classify_answer(&IntuneErrorClassifier::new(needs), status, body)
    }

    const FORBIDDEN_STRING_FORM: &str = r#"{"error":{"code":"Forbidden","message":"{\r\n  \"_version\": 3,\r\n  \"Message\": \"Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementManagedDevices.Read.All, DeviceManagementManagedDevices.ReadWrite.All - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: 1b0c5b8e-0000-4000-8000-000000000001 - Url: https://fef.msua09.manage.microsoft.com/DeviceFE/StatelessDeviceFEService/deviceManagement/managedDevices?api-version=2024-06-14\",\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": \"{}\"\r\n}","innerError":{"date":"2026-05-01T10:00:00","request-id":"r1","client-request-id":"r1"}}}"#;

    #[test]
    fn the_json_string_form_is_unwrapped_and_names_the_permission() {
        let d = classify(Needs::ManagedDevices, 403, FORBIDDEN_STRING_FORM);
        let m = classified(&d, ErrorKind::Forbidden);
        assert!(
            m.starts_with("Forbidden: Application is not authorized"),
            "{m}"
        );
        assert!(m.contains("ReadWrite.All - Activity ID: 1b0c5b8e"), "{m}");
        assert!(!m.contains("Operation ID"), "zero operation id kept: {m}");
        assert!(!m.contains("fef.msua09"), "internal URL kept: {m}");
        assert!(m.contains("needs the Microsoft Graph application permission DeviceManagementManagedDevices.Read.All"), "{m}");
    }

    #[test]
    fn the_unknown_error_form_with_401_is_forbidden() {
        let inner = r#"{"_version": 3, "Message": "An error has occurred - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: 2c0c - Url: https://fef.x/y"}"#;
        let middle =
            serde_json::json!({"ErrorCode": "Forbidden", "Message": inner, "Target": null});
        let body =
            serde_json::json!({"error": {"code": "UnknownError", "message": middle.to_string()}});
        let d = classify(Needs::ManagedDevices, 401, &body.to_string());
        let m = classified(&d, ErrorKind::Forbidden);
        assert!(
            m.starts_with("UnknownError/Forbidden: An error has occurred"),
            "{m}"
        );
        assert!(m.contains("DeviceManagementManagedDevices.Read.All"), "{m}");
    }

    #[test]
    fn forbidden_in_plain_text_is_found_as_a_last_resort() {
        let d = classify(
            Needs::ManagedDevices,
            401,
            r#"{"error":{"code":"UnknownError","message":"Forbidden"}}"#,
        );
        assert_eq!(d.kind, Some(ErrorKind::Forbidden));
    }

    #[test]
    fn directory_refusals_name_the_group_permission() {
        let d = classify(
            Needs::GroupMembers,
            403,
            r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#,
        );
        let m = classified(&d, ErrorKind::Forbidden);
        assert!(
            m.starts_with("Authorization_RequestDenied: Insufficient privileges"),
            "{m}"
        );
        assert!(
            m.contains("GroupMember.Read.All (or Group.Read.All)"),
            "{m}"
        );
    }

    #[test]
    fn other_errors_keep_the_status_kind_and_show_code_and_message() {
        let d = classify(
            Needs::ManagedDevices,
            401,
            r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty."}}"#,
        );
        assert_eq!(d.kind, None);
        assert_eq!(
            d.message.as_deref(),
            Some("InvalidAuthenticationToken: Access token is empty.")
        );
        // A 5xx mentioning Forbidden stays a server error (and retryable).
        let d = classify(
            Needs::ManagedDevices,
            503,
            r#"{"error":{"code":"ServiceUnavailable","message":"Forbidden backend"}}"#,
        );
        assert_eq!(d.kind, None);
    }

    #[test]
    fn oauth_bodies_and_unknown_bodies() {
        let d = classify(
            Needs::Nothing,
            500,
            r#"{"error":"temporarily_unavailable","error_description":"AADSTS50001: busy\r\nTrace ID: x"}"#,
        );
        assert_eq!(d.kind, None);
        assert_eq!(
            d.message.as_deref(),
            Some("temporarily_unavailable: AADSTS50001: busy")
        );
        let d = classify(
            Needs::ManagedDevices,
            403,
            "<html><title>Denied</title></html>",
        );
        let m = classified(&d, ErrorKind::Forbidden);
        assert!(m.contains("HTML page (\"Denied\")"), "{m}");
        assert!(m.contains("DeviceManagementManagedDevices.Read.All"), "{m}");
    }
}
