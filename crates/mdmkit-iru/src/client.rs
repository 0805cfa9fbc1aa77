//! The requests the connector sends to the Iru API, on the shared [`HttpClient`].

use std::sync::Arc;

use mdmkit_core::http::{BearerToken, ClientOptions, HttpClient, Response};
use mdmkit_core::paging::collect_all;
use mdmkit_core::{
    Error, IruConfig, Page, PageInfo, PageRequest, PagingStyle, ProviderKind, Result, Url,
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
            .operation("validate")
            .send()
            .await?;
        decode::<WireDeviceList>(&response, "validate")?;
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
        let fail = |e: Error| e.with_provider(ProviderKind::Iru).with_operation(operation);
        let (offset, limit) = match request {
            PageRequest::Offset { offset, limit } => (*offset, *limit),
            other => {
                return Err(fail(Error::config(format!(
                    "Iru lists devices by offset and limit, not by {other:?}"
                ))))
            }
        };
        if limit == 0 || limit > PAGE_SIZE {
            // The server would cap a larger page at 300 and the caller's pager would take the first
            // capped page for the last one.
            return Err(fail(Error::config(format!(
                "Iru serves 1 to {PAGE_SIZE} devices per page; {limit} were asked for"
            ))));
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
        .map_err(|e| e.with_provider(ProviderKind::Iru).with_operation(operation))
    }

    /// One page of `GET /api/v1/tags`; later pages follow the server's `next` link.
    pub(crate) async fn tags_page(&self, request: &PageRequest) -> Result<Page<WireTag>> {
        const OPERATION: &str = "groups";
        let base = self.http.base_url();
        let fail = |e: Error| e.with_provider(ProviderKind::Iru).with_operation(OPERATION);
        let (builder, current) = match request {
            PageRequest::NextLink { url: None } => (self.http.get(TAGS), base.join(TAGS)),
            PageRequest::NextLink { url: Some(url) } => {
                (self.http.get_absolute(url), Url::parse(url))
            }
            other => {
                return Err(fail(Error::config(format!(
                    "Iru lists tags by following next links, not by {other:?}"
                ))))
            }
        };
        let response = builder.operation(OPERATION).send().await?;
        let page: WireTagPage = decode(&response, OPERATION)?;
        let next_link = match page.next.as_deref() {
            None => None,
            Some(link) => {
                // The page was fetched from `current`, so it parses; a relative link needs it.
                let current = current.map_err(|e| {
                    fail(Error::invalid_response(format!(
                        "cannot resolve the next link {link:?}: {e}"
                    )))
                })?;
                Some(next_link(base, &current, link).map_err(fail)?)
            }
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
        .map_err(|e| e.with_provider(ProviderKind::Iru).with_operation("groups"))
    }
}

/// A device's identity in a listing, for the pager's repeat check (rows without one are not compared).
fn device_id(device: &WireDevice) -> Option<&str> {
    device.device_id.as_ref().map(|id| id.0.as_str())
}

/// Resolves a `next` link: a relative link is taken relative to the page it came from, and an `http://`
/// link to the configured `https://` host (what a framework behind a TLS-terminating proxy writes) is
/// upgraded to `https://`. Any other host stays as given and is refused by
/// [`HttpClient::get_absolute`], so the token never goes elsewhere.
pub(crate) fn next_link(base: &Url, current: &Url, link: &str) -> Result<String> {
    let mut url = current.join(link.trim()).map_err(|e| {
        Error::invalid_response(format!(
            "the server gave an invalid next link {link:?}: {e}"
        ))
    })?;
    if base.scheme() == "https"
        && url.scheme() == "http"
        && url.port().is_none()
        && url.host_str() == base.host_str()
        && base.port().is_none()
    {
        // Both schemes are "special", so the change cannot fail; keep the link if it somehow does.
        let _ = url.set_scheme("https");
    }
    Ok(url.to_string())
}

/// Decodes a JSON body. A body that is JSON but not the documented shape gets a message naming the
/// field; a body that is not JSON at all gets the shared message (which names an HTML page by its title).
fn decode<T: DeserializeOwned>(response: &Response, operation: &'static str) -> Result<T> {
    match serde_json::from_slice::<T>(response.body()) {
        Ok(value) => Ok(value),
        Err(e) if e.is_data() => Err(Error::invalid_response(format!(
            "the response does not have the documented shape: {e}"
        ))
        .with_status(response.status().as_u16())
        .with_provider(ProviderKind::Iru)
        .with_operation(operation)
        .with_source(e)),
        Err(_) => response.json(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn next_links_resolve_relative_and_upgrade_to_https_on_the_same_host() {
        let base = url("https://acme.api.kandji.io/");
        let current = url("https://acme.api.kandji.io/api/v1/tags");
        assert_eq!(
            next_link(
                &base,
                &current,
                "https://acme.api.kandji.io/api/v1/tags?page=2"
            )
            .unwrap(),
            "https://acme.api.kandji.io/api/v1/tags?page=2"
        );
        assert_eq!(
            next_link(
                &base,
                &current,
                "http://acme.api.kandji.io/api/v1/tags?page=2"
            )
            .unwrap(),
            "https://acme.api.kandji.io/api/v1/tags?page=2"
        );
        assert_eq!(
            next_link(&base, &current, "/api/v1/tags?cursor=abc").unwrap(),
            "https://acme.api.kandji.io/api/v1/tags?cursor=abc"
        );
        assert_eq!(
            next_link(&base, &current, "?page=3").unwrap(),
            "https://acme.api.kandji.io/api/v1/tags?page=3"
        );
    }

    #[test]
    fn next_links_to_other_hosts_or_ports_are_not_rewritten() {
        let base = url("https://acme.api.kandji.io/");
        let current = url("https://acme.api.kandji.io/api/v1/tags");
        for other in [
            "http://evil.example/api/v1/tags?page=2",
            "http://acme.api.kandji.io:8080/api/v1/tags?page=2",
            "https://other.api.kandji.io/api/v1/tags?page=2",
        ] {
            let resolved = next_link(&base, &current, other).unwrap();
            assert_eq!(resolved, url(other).to_string());
        }
        // A plain-http test server keeps its links as they are.
        let local = url("http://127.0.0.1:9000/");
        assert_eq!(
            next_link(&local, &local, "http://127.0.0.1:9000/api/v1/tags?page=2").unwrap(),
            "http://127.0.0.1:9000/api/v1/tags?page=2"
        );
    }
}
