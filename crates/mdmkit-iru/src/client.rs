//! The requests the connector sends to the Iru API, on the shared [`HttpClient`].

use std::sync::Arc;

use mdmkit_core::http::{resolve_link, BearerToken, ClientOptions, HttpClient, Response};
use mdmkit_core::paging::collect_all;
use mdmkit_core::{
    ErrorKind, IruConfig, Operation, Page, PageInfo, PageRequest, PagingStyle, ProviderKind,
    ProviderOperations, Result,
};
use serde::de::DeserializeOwned;

use crate::error::IruErrorClassifier;
use crate::wire::{WireDevice, WireDeviceList, WireTag, WireTagPage};

/// Rows asked for per page of the device listing: the most `GET /api/v1/devices` returns per request (a
/// hard limit, also the default).
pub const PAGE_SIZE: u32 = 300;
/// The device ordering for every paged listing: `device_id` is unique, so pages never overlap or skip
/// rows because of ties (serial numbers can be blank or repeated).
pub(crate) const ORDERING: &str = "device_id";

const DEVICES: &str = "api/v1/devices";
const TAGS: &str = "api/v1/tags";

/// The operations every provider has, named alike ([`ProviderOperations`]), for its requests and
/// errors.
pub(crate) const OPS: ProviderOperations = ProviderOperations::of(ProviderKind::Iru);

/// An authenticated client for one tenant.
#[derive(Debug, Clone)]
pub(crate) struct IruClient {
    http: HttpClient,
}

impl IruClient {
    /// A client for the configured tenant, sending `Authorization: Bearer <token>`.
    pub(crate) fn new(config: &IruConfig, options: &ClientOptions) -> Result<Self> {
        let http = HttpClient::new(ProviderKind::Iru, config.base_url.clone(), options)?
            .with_auth(Arc::new(BearerToken::new(config.api_token.clone())))
            .with_classifier(Arc::new(IruErrorClassifier));
        Ok(IruClient { http })
    }

    /// The shared HTTP client.
    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `GET /api/v1/devices?limit=1`: the host answers, the token is accepted and may list devices.
    pub(crate) async fn validate(&self) -> Result<()> {
        let response = self
            .http
            .get(DEVICES)
            .query("limit", "1")
            .operation(OPS.validate)
            .send()
            .await?;
        decode::<WireDeviceList>(&response, OPS.validate)?;
        Ok(())
    }

    /// One page of `GET /api/v1/devices` with `limit`, `offset`, the stable ordering and `filters`.
    /// The API returns a bare array and no total, so the page reports nothing beyond its rows and the
    /// pager ends the listing at a short or empty page.
    pub(crate) async fn devices_page(
        &self,
        request: &PageRequest,
        filters: &[(&str, &str)],
        operation: &'static str,
    ) -> Result<Page<WireDevice>> {
        self.devices_page_ordered(request, filters, ORDERING, operation)
            .await
    }

    /// [`IruClient::devices_page`] in another `ordering`.
    pub(crate) async fn devices_page_ordered(
        &self,
        request: &PageRequest,
        filters: &[(&str, &str)],
        ordering: &str,
        operation: &'static str,
    ) -> Result<Page<WireDevice>> {
        let operation = self.http.operation(operation);
        let (offset, limit) = request.offset(operation)?;
        if limit == 0 || limit > PAGE_SIZE {
            // The server would cap a larger page at 300 and the caller's pager would take the first
            // capped page for the last one.
            return Err(operation.error(
                ErrorKind::InvalidConfiguration,
                format!("Iru serves 1 to {PAGE_SIZE} devices per page; {limit} were asked for"),
            ));
        }
        let mut builder = self
            .http
            .get(DEVICES)
            .operation(operation)
            .query("limit", limit.to_string())
            .query("offset", offset.to_string())
            .query("ordering", ordering);
        for (key, value) in filters {
            builder = builder.query(key, value);
        }
        let response = builder.send().await?;
        let list: WireDeviceList = decode(&response, operation)?;
        Ok(Page::new(list.0, PageInfo::default()))
    }

    /// Every device matching `filters`, page by page.
    pub(crate) async fn all_devices(
        &self,
        filters: &[(&str, &str)],
        operation: &'static str,
    ) -> Result<Vec<WireDevice>> {
        let pager = self.http.pager(PagingStyle::Offset { limit: PAGE_SIZE });
        collect_all(pager, device_id, |request| async move {
            self.devices_page(&request, filters, operation).await
        })
        .await
        .map_err(self.http.operation(operation).tagger())
    }

    /// One page of `GET /api/v1/tags`; later pages follow the server's `next` link, resolved against
    /// the page it came from ([`resolve_link`]).
    pub(crate) async fn tags_page(&self, request: &PageRequest) -> Result<Page<WireTag>> {
        let builder = self
            .http
            .next_link_page(request, OPS.groups, || self.http.get(TAGS))?;
        // A link the client refused has no URL; sending reports why.
        let current = builder.url().cloned();
        let response = builder.send().await?;
        let page: WireTagPage = decode(&response, OPS.groups)?;
        let next_link = match (page.next.as_deref(), current) {
            (Some(link), Some(current)) => Some(
                resolve_link(self.http.base_url(), &current, link).map_err(OPS.groups.tagger())?,
            ),
            _ => None,
        };
        Ok(Page::new(
            page.results,
            PageInfo {
                total: page.count,
                next_link,
                ..PageInfo::default()
            },
        ))
    }

    /// Every tag of the tenant.
    pub(crate) async fn all_tags(&self) -> Result<Vec<WireTag>> {
        collect_all(
            self.http.pager(PagingStyle::NextLink),
            |tag: &WireTag| Some(tag.id.0.as_str()),
            |request| async move { self.tags_page(&request).await },
        )
        .await
        .map_err(OPS.groups.tagger())
    }
}

/// A device's identity in a listing, for the pager's repeat check (rows without one are not compared).
fn device_id(device: &WireDevice) -> Option<&str> {
    device.device_id.as_ref().map(|id| id.0.as_str())
}

/// Decodes a JSON body. A body that is JSON but not the documented shape gets a message naming the
/// field; a body that is not JSON at all gets the shared message (which names an HTML page by its title).
fn decode<T: DeserializeOwned>(response: &Response, operation: Operation) -> Result<T> {
    match serde_json::from_slice::<T>(response.body()) {
        Ok(value) => Ok(value),
        Err(e) if e.is_data() => Err(operation
            .error(
                ErrorKind::InvalidResponse,
                format!("the response does not have the documented shape: {e}"),
            )
            .with_status(response.status().as_u16())
            .with_source(e)),
        Err(_) => response.json(),
    }
}
