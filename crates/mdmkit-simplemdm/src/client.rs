//! The SimpleMDM requests mdmkit sends, all through the shared [`HttpClient`] (retries, 429 handling,
//! concurrency and rate limits, status mapping).

use std::sync::Arc;

use mdmkit_core::http::{BasicAuth, ClientOptions, HttpClient, ServerKey};
use mdmkit_core::{Error, PageRequest, ProviderKind, Result, SimpleMdmConfig, Url};

use crate::error::SimpleMdmErrorClassifier;
use crate::wire;

/// Rows asked for per page of every listing: the most SimpleMDM serves (`limit` takes 1 to 100).
pub const PAGE_SIZE: u32 = 100;

/// Builds the HTTP client: the configured endpoint, Basic auth with the key as user name and an empty
/// password, and SimpleMDM's error reader.
pub(crate) fn http_client(config: &SimpleMdmConfig, options: &ClientOptions) -> Result<HttpClient> {
    let auth = BasicAuth::new(config.api_key.clone(), None);
    let base = api_base(config);
    // Every account shares SimpleMDM's host: limits are per account, known by its key.
    let server = ServerKey::credential(ProviderKind::SimpleMdm, &base, &config.api_key, None);
    Ok(
        HttpClient::for_server(ProviderKind::SimpleMdm, base, server, options)?
            .with_auth(Arc::new(auth))
            .with_classifier(Arc::new(SimpleMdmErrorClassifier)),
    )
}

/// The API base in force, ending in `/` so that `api/v1/...` joins below it even when an override has a
/// path (`https://sandbox.example/simplemdm`).
pub(crate) fn api_base(config: &SimpleMdmConfig) -> Url {
    let mut base = config.api_base();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base
}

/// `GET /api/v1/account`.
pub(crate) async fn account(http: &HttpClient) -> Result<wire::AccountResponse> {
    http.get("api/v1/account")
        .operation("validate")
        .json()
        .await
}

/// One page of `GET /api/v1/devices`, awaiting-enrollment records included, optionally narrowed by
/// SimpleMDM's fuzzy `search`.
pub(crate) async fn devices_page(
    http: &HttpClient,
    search: Option<&str>,
    after: Option<&str>,
    limit: u32,
    operation: &'static str,
) -> Result<wire::ListResponse<wire::Device>> {
    let mut request = http
        .get("api/v1/devices")
        .operation(operation)
        .query("limit", clamp(limit).to_string());
    if let Some(after) = after {
        request = request.query("starting_after", after);
    }
    if let Some(search) = search {
        request = request.query("search", search);
    }
    request
        .query("include_awaiting_enrollment", "true")
        .json()
        .await
}

/// One page of `GET /api/v1/assignment_groups`.
pub(crate) async fn assignment_groups_page(
    http: &HttpClient,
    after: Option<&str>,
    limit: u32,
) -> Result<wire::ListResponse<wire::AssignmentGroup>> {
    let mut request = http
        .get("api/v1/assignment_groups")
        .operation("groups")
        .query("limit", clamp(limit).to_string());
    if let Some(after) = after {
        request = request.query("starting_after", after);
    }
    request.json().await
}

/// The cursor and page size of a cursor request; any other style is a programming error of the caller.
pub(crate) fn cursor(
    request: &PageRequest,
    operation: &'static str,
) -> Result<(Option<String>, u32)> {
    match request {
        PageRequest::Cursor { after, limit } => Ok((after.clone(), *limit)),
        other => Err(Error::config(format!(
            "SimpleMDM pages by cursor (starting_after); got a {other:?} request"
        ))
        .with_provider(ProviderKind::SimpleMdm)
        .with_operation(operation)),
    }
}

fn clamp(limit: u32) -> u32 {
    limit.clamp(1, PAGE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overridden_bases_keep_their_path() {
        let mut config = SimpleMdmConfig::new("k").unwrap();
        assert_eq!(api_base(&config).as_str(), "https://a.simplemdm.com/");
        config.base_url = Some(Url::parse("https://sandbox.example/simplemdm").unwrap());
        assert_eq!(
            api_base(&config).as_str(),
            "https://sandbox.example/simplemdm/"
        );
        config.base_url = Some(Url::parse("http://127.0.0.1:9000").unwrap());
        assert_eq!(api_base(&config).as_str(), "http://127.0.0.1:9000/");
    }

    #[test]
    fn only_cursor_requests_are_accepted_and_limits_are_clamped() {
        let ok = cursor(
            &PageRequest::Cursor {
                after: Some("9".into()),
                limit: 100,
            },
            "list_devices",
        )
        .unwrap();
        assert_eq!(ok, (Some("9".into()), 100));
        let err = cursor(
            &PageRequest::Offset {
                offset: 0,
                limit: 10,
            },
            "list_devices",
        )
        .unwrap_err();
        assert_eq!(err.kind(), mdmkit_core::ErrorKind::InvalidConfiguration);
        assert!(err.to_string().contains("SimpleMDM list_devices"), "{err}");
        assert_eq!(clamp(0), 1);
        assert_eq!(clamp(500), 100);
        assert_eq!(clamp(50), 50);
    }
}
