//! The secret suffix ([`crate::SandboxConfig::secret_suffix`]): appended to every credential secret the
//! sandbox hands out, and removed from every secret it receives before the simulators check it, so tests
//! can run real connections with distinctive (canary) secrets.
//!
//! One place knows where secrets travel on the wire: `Authorization: Bearer` (Iru, Fleet), `Basic`
//! (SimpleMDM's key as user name, Entra's optional client authentication), `x-api-key` (JumpCloud) and the
//! `client_secret` form field of the Jamf and Entra token endpoints.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use mdmkit_core::{ExposeSecret, ProviderConfig, SecretString};

use crate::common::Ctx;

/// The largest form body rewritten; token requests are a few hundred bytes.
const MAX_FORM: usize = 64 * 1024;

/// `config` with `suffix` appended to each of its secrets.
pub(crate) fn with_suffix(mut config: ProviderConfig, suffix: &str) -> ProviderConfig {
    if suffix.is_empty() {
        return config;
    }
    let add = |secret: &mut SecretString| {
        *secret = SecretString::from(format!("{}{suffix}", secret.expose_secret()));
    };
    match &mut config {
        ProviderConfig::Jamf(c) => add(&mut c.client_secret),
        ProviderConfig::Iru(c) => add(&mut c.api_token),
        ProviderConfig::SimpleMdm(c) => add(&mut c.api_key),
        ProviderConfig::Fleet(c) => add(&mut c.api_token),
        ProviderConfig::JumpCloud(c) => add(&mut c.api_token),
        ProviderConfig::Intune(c) => add(&mut c.client_secret),
        _ => {}
    }
    config
}

/// The middleware every provider's router runs: secrets reach the simulators without the suffix.
pub(crate) async fn unsuffix(State(ctx): State<Ctx>, request: Request, next: Next) -> Response {
    let request = strip_suffix(request, &ctx.shared.secret_suffix).await;
    next.run(request).await
}

fn strip<'a>(value: &'a str, suffix: &str) -> &'a str {
    value.strip_suffix(suffix).unwrap_or(value)
}

/// The request with `suffix` removed from every secret it carries. A value without the suffix (a bearer
/// token the sandbox issued itself) passes unchanged.
pub(crate) async fn strip_suffix(request: Request, suffix: &str) -> Request {
    if suffix.is_empty() {
        return request;
    }
    let (mut parts, body) = request.into_parts();
    let headers = &mut parts.headers;
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let rewritten = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Some(format!("{scheme} {}", strip(token.trim(), suffix)))
            }
            Some((scheme, encoded)) if scheme.eq_ignore_ascii_case("basic") => {
                let engine = base64::engine::general_purpose::STANDARD;
                engine
                    .decode(encoded.trim())
                    .ok()
                    .and_then(|raw| String::from_utf8(raw).ok())
                    .and_then(|text| {
                        let (user, password) = text.split_once(':')?;
                        let plain = format!("{}:{}", strip(user, suffix), strip(password, suffix));
                        Some(format!("{scheme} {}", engine.encode(plain)))
                    })
            }
            _ => None,
        };
        if let Some(value) = rewritten.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::AUTHORIZATION, value);
        }
    }
    if let Some(value) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        if let Ok(value) = HeaderValue::from_str(strip(value, suffix)) {
            headers.insert("x-api-key", value);
        }
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Request::from_parts(parts, body);
    }
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        return Request::from_parts(parts, Body::empty());
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(&bytes) {
        let value = if key == "client_secret" {
            strip(&value, suffix)
        } else {
            &value
        };
        form.append_pair(&key, value);
    }
    let form = form.finish();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, form.len().into());
    Request::from_parts(parts, Body::from(form))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    const SUFFIX: &str = "-CANARY";

    async fn stripped(request: Request) -> (axum::http::request::Parts, String) {
        let (parts, body) = strip_suffix(request, SUFFIX).await.into_parts();
        let body = to_bytes(body, MAX_FORM).await.unwrap();
        (parts, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn every_place_a_secret_travels_is_unsuffixed() {
        let basic = base64::engine::general_purpose::STANDARD.encode("key-CANARY:");
        let request = Request::builder()
            .method(Method::POST)
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header("x-api-key", "jca_key-CANARY")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(
                "grant_type=client_credentials&client_id=app&client_secret=s%26cret-CANARY",
            ))
            .unwrap();
        let (parts, body) = stripped(request).await;
        let expected = base64::engine::general_purpose::STANDARD.encode("key:");
        assert_eq!(
            parts.headers[header::AUTHORIZATION],
            format!("Basic {expected}")
        );
        assert_eq!(parts.headers["x-api-key"], "jca_key");
        assert_eq!(
            body,
            "grant_type=client_credentials&client_id=app&client_secret=s%26cret"
        );
        assert_eq!(
            parts.headers[header::CONTENT_LENGTH],
            body.len().to_string()
        );

        let request = Request::builder()
            .header(header::AUTHORIZATION, "Bearer sbx-issued-token")
            .body(Body::empty())
            .unwrap();
        let (parts, _) = stripped(request).await;
        assert_eq!(
            parts.headers[header::AUTHORIZATION],
            "Bearer sbx-issued-token"
        );
    }
}
