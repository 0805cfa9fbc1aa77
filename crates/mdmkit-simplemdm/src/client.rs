//! The SimpleMDM requests mdmkit sends, all through the shared [`HttpClient`] (retries, 429 handling,
//! concurrency and rate limits, status mapping).

use std::sync::Arc;

use mdmkit_core::http::{BasicAuth, ClientOptions, HttpClient, RequestBuilder, ServerKey};
use mdmkit_core::{
    Operation, Page, PageRequest, Pager, PagingStyle, ProviderKind, ProviderOperations, Result,
    SimpleMdmConfig, Url,
};

use crate::convert;
use crate::error::SimpleMdmErrorClassifier;
use crate::wire;

/// Rows asked for per page of every listing: the most SimpleMDM serves (`limit` takes 1 to 100).
pub const PAGE_SIZE: u32 = 100;

/// The operations every provider has, named alike ([`ProviderOperations`]), for its requests and
/// errors.
pub(crate) const OPS: ProviderOperations = ProviderOperations::of(ProviderKind::SimpleMdm);

/// SimpleMDM's requests over one [`HttpClient`]: the configured endpoint, Basic auth with the key as
/// user name and an empty password, and SimpleMDM's error reader.
#[derive(Debug, Clone)]
pub(crate) struct SimpleMdmClient {
    http: HttpClient,
}

impl SimpleMdmClient {
    pub(crate) fn new(config: &SimpleMdmConfig, options: &ClientOptions) -> Result<Self> {
        let auth = BasicAuth::new(config.api_key.clone(), None);
        let base = api_base(config);
        // Every account shares SimpleMDM's host: limits are per account, known by its key.
        let server = ServerKey::credential(ProviderKind::SimpleMdm, &base, &config.api_key, None);
        let http = HttpClient::for_server(ProviderKind::SimpleMdm, base, server, options)?
            .with_auth(Arc::new(auth))
            .with_classifier(Arc::new(SimpleMdmErrorClassifier));
        Ok(SimpleMdmClient { http })
    }

    /// The API base requests go to, ending in `/`.
    pub(crate) fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    pub(crate) fn request_count(&self) -> u64 {
        self.http.request_count()
    }

    /// A pager over SimpleMDM's cursor, a full page at a time.
    pub(crate) fn pager(&self) -> Pager {
        self.http.pager(PagingStyle::Cursor { limit: PAGE_SIZE })
    }

    /// `GET /api/v1/account`.
    pub(crate) async fn account(&self) -> Result<wire::AccountResponse> {
        self.http
            .get("api/v1/account")
            .operation(OPS.validate)
            .json()
            .await
    }

    /// One page of `GET /api/v1/devices`, awaiting-enrollment records included, optionally narrowed by
    /// SimpleMDM's fuzzy `search`, with the cursor for the next.
    pub(crate) async fn devices_page(
        &self,
        search: Option<&str>,
        request: &PageRequest,
        operation: Operation,
    ) -> Result<Page<wire::Device>> {
        let mut builder = self.listing("api/v1/devices", request, operation)?;
        if let Some(search) = search {
            builder = builder.query("search", search);
        }
        let list = builder
            .query("include_awaiting_enrollment", "true")
            .json()
            .await?;
        Ok(cursor_page(list, |d: &wire::Device| &d.id))
    }

    /// One page of `GET /api/v1/assignment_groups`, with the cursor for the next.
    pub(crate) async fn assignment_groups_page(
        &self,
        request: &PageRequest,
    ) -> Result<Page<wire::AssignmentGroup>> {
        let list = self
            .listing("api/v1/assignment_groups", request, OPS.groups)?
            .json()
            .await?;
        Ok(cursor_page(list, |g: &wire::AssignmentGroup| &g.id))
    }

    /// A `GET` of a cursor-paged list: `limit` (clamped to what SimpleMDM serves) and, after the first
    /// page, `starting_after`.
    fn listing(
        &self,
        path: &str,
        request: &PageRequest,
        operation: Operation,
    ) -> Result<RequestBuilder<'_>> {
        let (after, limit) = request.cursor(operation)?;
        let builder = self
            .http
            .get(path)
            .operation(operation)
            .query("limit", clamp(limit).to_string());
        Ok(match after {
            Some(after) => builder.query("starting_after", after),
            None => builder,
        })
    }
}

/// A list response as a page whose next cursor is its last row's id.
fn cursor_page<T>(list: wire::ListResponse<T>, id: impl Fn(&T) -> &String) -> Page<T> {
    let info = convert::page_info(list.has_more, list.data.last().map(|row| id(row).as_str()));
    Page::new(list.data, info)
}

/// The API base in force, ending in `/` so that `api/v1/...` joins below it even when an override has a
/// path (`https://sandbox.example/simplemdm`).
fn api_base(config: &SimpleMdmConfig) -> Url {
    let mut base = config.api_base();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base
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
        let ok = PageRequest::Cursor {
            after: Some("9".into()),
            limit: 100,
        };
        assert_eq!(ok.cursor(OPS.list_devices).unwrap(), (Some("9"), 100));
        let err = PageRequest::Offset {
            offset: 0,
            limit: 10,
        }
        .cursor(OPS.list_devices)
        .unwrap_err();
        assert_eq!(err.kind(), mdmkit_core::ErrorKind::InvalidConfiguration);
        assert!(err.to_string().contains("SimpleMDM list_devices"), "{err}");
        assert_eq!(clamp(0), 1);
        assert_eq!(clamp(500), 100);
        assert_eq!(clamp(50), 50);
    }
}
