//! Graph and Entra error bodies, request ids and timestamps, and the answers to unknown routes.

use super::*;
use mdmkit_core::chrono::Utc;

// ----- time and ids -----

pub(super) static REQUEST_SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh request, trace or activity id.
pub(super) fn fresh_id() -> String {
    ids::uuid(NS_REQUEST, REQUEST_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Graph's `innerError.date`: `2026-11-01T10:00:00`.
pub(super) fn graph_date() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Entra's `timestamp`: `2026-11-01 10:00:00Z`.
pub(super) fn entra_timestamp() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string()
}

// ----- Graph errors -----

/// A Graph refusal; rendered with the request's ids by [`finish`].
#[derive(Debug)]
pub(super) struct Fault {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl Fault {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Fault {
        Fault {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn unauthenticated(message: &str) -> Fault {
        Fault::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    }

    pub(super) fn directory_denied() -> Fault {
        Fault::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    /// Intune's refusal: the message is a JSON document serialised into a string.
    pub(super) fn intune(status: StatusCode, code: &'static str, text: &str, path: &str) -> Fault {
        let service_path = path.strip_prefix("/v1.0").unwrap_or(path);
        let message = format!(
            "{text} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {} - Url: https://fef.msua06.manage.microsoft.com/DeviceFE/StatelessDeviceFEService{service_path}?api-version=2025-03-14",
            fresh_id()
        );
        let document = format!(
            "{{\r\n  \"_version\": 3,\r\n  \"Message\": {},\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": \"{{}}\"\r\n}}",
            Value::String(message)
        );
        Fault::new(status, code, document)
    }

    pub(super) fn intune_forbidden(path: &str) -> Fault {
        Fault::intune(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementManagedDevices.Read.All, DeviceManagementManagedDevices.ReadWrite.All",
            path,
        )
    }
}

/// Which Graph workload answers, and so which error codes it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Intune,
    Directory,
}

impl Dialect {
    pub(super) fn bad_request(self, message: impl Into<String>) -> Fault {
        let code = match self {
            Dialect::Intune => "BadRequest",
            Dialect::Directory => "Request_BadRequest",
        };
        Fault::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(super) fn unsupported(self, message: impl Into<String>) -> Fault {
        let code = match self {
            Dialect::Intune => "BadRequest",
            Dialect::Directory => "Request_UnsupportedQuery",
        };
        Fault::new(StatusCode::BAD_REQUEST, code, message)
    }
}

/// Graph's error body for `status`, with fresh ids.
pub(super) fn error_body(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
    client_request_id: &str,
) -> Response {
    let mut response = json(
        status,
        json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": graph_date(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }}),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
    }
    response
}

/// A handler's outcome.
pub(super) type Answer = Result<Response, Fault>;

/// Renders a Graph answer with `request-id` and `client-request-id` (echoed when the client sent one).
/// Runs a Graph handler's `work` on the request and [`finish`]es its answer.
pub(super) fn answer(
    call: &Call,
    work: impl FnOnce(&Ctx, &HeaderMap, &str, Option<&str>) -> Answer,
) -> Response {
    let answer = work(&call.ctx, &call.headers, &call.path, call.raw());
    finish(&call.headers, answer)
}

pub(super) fn finish(headers: &HeaderMap, answer: Answer) -> Response {
    let request_id = fresh_id();
    let client_request_id = header_str(headers, "client-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 100)
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let mut response = match answer {
        Ok(response) => response,
        Err(fault) => error_body(
            fault.status,
            fault.code,
            &fault.message,
            &request_id,
            &client_request_id,
        ),
    };
    let out = response.headers_mut();
    for (name, value) in [
        ("request-id", &request_id),
        ("client-request-id", &client_request_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    }
    response
}

pub(super) fn odata(value: Value) -> Response {
    odata_of(&value)
}

/// An OData JSON answer serialised straight from `value`.
pub(super) fn odata_of(value: &impl serde::Serialize) -> Response {
    let mut response = json_of(StatusCode::OK, value);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
    response
}

// ----- unknown routes -----

pub(super) async fn fallback(headers: HeaderMap, uri: Uri) -> Response {
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let fault = match segments.as_slice() {
        ["v1.0" | "beta", rest @ ..] => {
            let known = ["deviceManagement", "managedDevices", "groups", "devices"];
            let segment = rest
                .iter()
                .find(|s| !known.contains(s))
                .or(rest.last())
                .copied()
                .unwrap_or_default();
            Dialect::Intune.bad_request(format!("Resource not found for the segment '{segment}'."))
        }
        [first, ..] => Dialect::Intune.bad_request(format!("Invalid version: {first}")),
        [] => Dialect::Intune.bad_request("Invalid version"),
    };
    finish(&headers, Err(fault))
}

pub(super) async fn wrong_method(headers: HeaderMap) -> Response {
    finish(
        &headers,
        Err(Fault::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "Specified HTTP method is not allowed for the request uri.",
        )),
    )
}
