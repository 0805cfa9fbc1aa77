//! The Graph requests the connector makes, all through one [`HttpClient`] transport (Graph and the Entra
//! login host share connections, limits and the request counter).

use std::sync::Arc;

use mdmkit_core::http::{
    path_segment, ClientCredentials, ClientOptions, HttpClient, OAuthBearer, RequestBuilder,
    ServerKey, TokenCache,
};
use mdmkit_core::http::{HeaderName, HeaderValue};
use mdmkit_core::paging::collect_all;
use mdmkit_core::{
    Error, ErrorKind, IntuneConfig, Operation, Page, PageInfo, PageRequest, PagingStyle,
    ProviderKind, ProviderOperations, Result, SerialNumber,
};
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::auth::{graph_scope, token_endpoint, EntraTokenErrors};
use crate::error::{IntuneErrorClassifier, Needs};
use crate::wire::{Collection, DeltaGroup, DeltaPage, DeviceMember, Group, ManagedDevice};

const MANAGED_DEVICES: &str = "v1.0/deviceManagement/managedDevices";
/// What R4 and the group join need, nothing more (`$select` also lowers Graph's cost per request).
const DEVICE_FIELDS: &str = "id,deviceName,serialNumber,userId,userDisplayName,azureADDeviceId";
const JOIN_FIELDS: &str = "id,azureADDeviceId";
/// A listing of changes also reads the field it filters on, to check every row.
const CHANGE_FIELDS: &str =
    "id,deviceName,serialNumber,userId,userDisplayName,azureADDeviceId,lastSyncDateTime";
/// What a group delta round reads: names, the security flag, and direct members.
const DELTA_SELECT: &str = "displayName,securityEnabled,members";
/// Directory listings allow at most 999 rows a page (1000 is refused).
const DIRECTORY_PAGE: &str = "999";

/// The operations every provider has, named alike ([`ProviderOperations`]), for its requests and
/// errors.
pub(crate) const OPS: ProviderOperations = ProviderOperations::of(ProviderKind::Intune);
const GROUPS_DELTA: Operation = Operation::new(ProviderKind::Intune, "groups_delta");

/// The Graph client: one authenticated transport, with per-area error classifiers so a refusal names the
/// permission that area needs.
#[derive(Debug, Clone)]
pub(crate) struct GraphClient {
    devices: HttpClient,
    directory: HttpClient,
    tokens: Arc<TokenCache>,
}

impl GraphClient {
    pub(crate) fn new(config: &IntuneConfig, options: &ClientOptions) -> Result<Self> {
        // Every tenant shares Graph's host: limits are per tenant. Token requests to the Entra login host
        // are made on the tenant's behalf and count against the same limits.
        let graph_base = config.graph_base();
        let server = ServerKey::tenant(ProviderKind::Intune, &graph_base, &config.tenant_id);
        let transport = HttpClient::for_server(ProviderKind::Intune, graph_base, server, options)?;
        let login = transport
            .with_base_url(config.login_base())
            .with_classifier(Arc::new(IntuneErrorClassifier::new(Needs::Nothing)));
        let credentials = ClientCredentials::new(
            login,
            vec![token_endpoint(config)?],
            config.client_id.clone(),
            config.client_secret.clone(),
        )
        .with_scopes([graph_scope(config)])
        .with_error_mapper(Arc::new(EntraTokenErrors::new(config)));
        let tokens = Arc::new(TokenCache::new(Arc::new(credentials)));
        let graph = transport.with_auth(Arc::new(OAuthBearer::new(Arc::clone(&tokens))));
        Ok(GraphClient {
            devices: graph
                .with_classifier(Arc::new(IntuneErrorClassifier::new(Needs::ManagedDevices))),
            directory: graph
                .with_classifier(Arc::new(IntuneErrorClassifier::new(Needs::GroupMembers))),
            tokens,
        })
    }

    /// Requests sent so far, token requests and retries included.
    pub(crate) fn request_count(&self) -> u64 {
        self.devices.request_count()
    }

    /// Tokens requested from Entra so far.
    pub(crate) fn token_requests(&self) -> u64 {
        self.tokens.fetch_count()
    }

    /// A page of at most one managed device with its id alone selected, decoded no further.
    pub(crate) async fn one_device_id(&self, op: Operation) -> Result<Collection<IgnoredAny>> {
        self.devices
            .get(MANAGED_DEVICES)
            .query("$top", "1")
            .query("$select", "id")
            .operation(op)
            .json()
            .await
    }

    /// Every managed device Graph returns for `serialNumber eq '<serial>'`, all pages. The caller checks
    /// the serials: Graph may ignore a filter and return every device.
    pub(crate) async fn devices_by_serial(
        &self,
        serial: &SerialNumber,
    ) -> Result<Vec<ManagedDevice>> {
        let filter = format!("serialNumber eq '{}'", odata_string(serial.as_str()));
        let http = &self.devices;
        collect_all(
            http.pager(PagingStyle::NextLink),
            managed_device_id,
            |request| {
                let filter = filter.clone();
                async move {
                    let first = || {
                        http.get(MANAGED_DEVICES)
                            .query("$filter", &filter)
                            .query("$select", DEVICE_FIELDS)
                    };
                    fetch_page(http, &request, first, OPS.device_by_serial).await
                }
            },
        )
        .await
    }

    /// One page of the bulk listing.
    pub(crate) async fn device_page(&self, request: &PageRequest) -> Result<Page<ManagedDevice>> {
        let http = &self.devices;
        let first = || http.get(MANAGED_DEVICES).query("$select", DEVICE_FIELDS);
        fetch_page(http, request, first, OPS.list_devices).await
    }

    /// One page of the managed devices that synced after `after` (`lastSyncDateTime gt`; Graph documents
    /// `gt` and `lt` for it, not `ge`), with `lastSyncDateTime` selected so the caller can check the rows.
    pub(crate) async fn changed_device_page(
        &self,
        after: &str,
        request: &PageRequest,
    ) -> Result<Page<ManagedDevice>> {
        let http = &self.devices;
        let filter = format!("lastSyncDateTime gt {after}");
        let first = || {
            http.get(MANAGED_DEVICES)
                .query("$filter", &filter)
                .query("$select", CHANGE_FIELDS)
        };
        fetch_page(http, request, first, OPS.list_changed_devices).await
    }

    /// One whole round of `GET /groups/delta`: from `link` (the previous round's delta link) or from the
    /// start, every page, returning the entries and the next round's delta link.
    pub(crate) async fn group_delta_round(
        &self,
        link: Option<&str>,
    ) -> Result<(Vec<DeltaGroup>, String)> {
        let http = &self.directory;
        let mut entries = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut next = link.map(str::to_owned);
        for _ in 0..mdmkit_core::paging::DEFAULT_MAX_PAGES {
            let request = match &next {
                None => http.get("v1.0/groups/delta").query("$select", DELTA_SELECT),
                Some(url) => http.get_absolute(url),
            };
            let page: DeltaPage = request.operation(GROUPS_DELTA).json().await?;
            entries.extend(page.value);
            match (page.next_link, page.delta_link) {
                (Some(next_link), _) if !next_link.trim().is_empty() => {
                    if !seen.insert(next_link.clone()) {
                        return Err(delta_error("the group delta repeated a next link"));
                    }
                    next = Some(next_link);
                }
                (_, Some(delta)) if !delta.trim().is_empty() => return Ok((entries, delta)),
                _ => {
                    return Err(delta_error(
                        "a group delta page carried neither a next link nor a delta link",
                    ))
                }
            }
        }
        Err(delta_error("the group delta did not end"))
    }

    /// One group's name and security flag; `None` when Graph says it no longer exists.
    pub(crate) async fn group(&self, id: &str) -> Result<Option<Group>> {
        let path = format!("v1.0/groups/{}", path_segment(id));
        match self
            .directory
            .get(&path)
            .query("$select", "id,displayName,securityEnabled")
            .operation(GROUPS_DELTA)
            .json::<Group>()
            .await
        {
            Ok(group) => Ok(Some(group)),
            Err(e) if e.kind() == mdmkit_core::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every managed device's id and Entra device id, for the group join.
    pub(crate) async fn devices_for_join(&self) -> Result<Vec<ManagedDevice>> {
        let http = &self.devices;
        collect_all(
            http.pager(PagingStyle::NextLink),
            managed_device_id,
            |request| async move {
                let first = || http.get(MANAGED_DEVICES).query("$select", JOIN_FIELDS);
                fetch_page(http, &request, first, OPS.groups).await
            },
        )
        .await
    }

    /// Every security group.
    pub(crate) async fn security_groups(&self) -> Result<Vec<Group>> {
        let http = &self.directory;
        collect_all(
            http.pager(PagingStyle::NextLink),
            |g: &Group| Some(g.id.as_str()),
            |request| async move {
                let first = || {
                    http.get("v1.0/groups")
                        .query("$filter", "securityEnabled eq true")
                        .query("$select", "id,displayName,securityEnabled")
                        .query("$top", DIRECTORY_PAGE)
                };
                fetch_page(http, &request, first, OPS.groups).await
            },
        )
        .await
    }

    /// The device members of a group, nested groups included (`transitiveMembers`, cast to devices).
    ///
    /// Graph documents an OData cast on `transitiveMembers` as an advanced query: `ConsistencyLevel:
    /// eventual` (on every page) and `$count=true`. The index behind it may lag recent changes slightly.
    pub(crate) async fn group_devices(&self, group_id: &str) -> Result<Vec<DeviceMember>> {
        let http = &self.directory;
        let path = format!(
            "v1.0/groups/{}/transitiveMembers/microsoft.graph.device",
            path_segment(group_id)
        );
        let headers = [(
            HeaderName::from_static("consistencylevel"),
            HeaderValue::from_static("eventual"),
        )];
        collect_all(
            http.pager(PagingStyle::NextLink),
            |m: &DeviceMember| m.device_id.as_deref(),
            |request| {
                let path = path.clone();
                let headers = headers.clone();
                async move {
                    let first = || {
                        http.get(&path)
                            .query("$select", "id,deviceId")
                            .query("$top", DIRECTORY_PAGE)
                            .query("$count", "true")
                    };
                    fetch_page_with(http, &request, first, &headers, OPS.groups).await
                }
            },
        )
        .await
    }
}

/// A managed device's identity in a listing, for the pager's repeat check.
fn managed_device_id(device: &ManagedDevice) -> Option<&str> {
    Some(&device.id)
}

/// Fetches one page of a next-link listing: `first` builds the first request, later pages are the
/// server's `@odata.nextLink` followed exactly as given (same origin only).
async fn fetch_page<'a, T: DeserializeOwned>(
    http: &'a HttpClient,
    request: &PageRequest,
    first: impl FnOnce() -> RequestBuilder<'a>,
    operation: Operation,
) -> Result<Page<T>> {
    fetch_page_with(http, request, first, &[], operation).await
}

/// [`fetch_page`] with headers sent on every page, the first and the followed links alike.
async fn fetch_page_with<'a, T: DeserializeOwned>(
    http: &'a HttpClient,
    request: &PageRequest,
    first: impl FnOnce() -> RequestBuilder<'a>,
    headers: &[(HeaderName, HeaderValue)],
    operation: Operation,
) -> Result<Page<T>> {
    let mut builder = http.next_link_page(request, operation, first)?;
    for (name, value) in headers {
        builder = builder.header(name.clone(), value.clone());
    }
    let page: Collection<T> = builder.json().await?;
    let info = PageInfo {
        total: page.count,
        next_link: page.next_link.filter(|l| !l.trim().is_empty()),
        ..PageInfo::default()
    };
    Ok(Page::new(page.value, info))
}

fn delta_error(what: &str) -> Error {
    GROUPS_DELTA.error(
        ErrorKind::InvalidResponse,
        format!("{what}; stopped rather than loop"),
    )
}

/// A value inside an OData string literal: single quotes are doubled.
pub(crate) fn odata_string(value: &str) -> String {
    value.replace('\'', "''")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_strings_double_single_quotes() {
        assert_eq!(odata_string("C02X'Y''Z"), "C02X''Y''''Z");
        assert_eq!(odata_string("PLAIN"), "PLAIN");
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("a/b?c#d"), "a%2Fb%3Fc%23d");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(
            path_segment("4f5e-11aa"),
            "4f5e-11aa",
            "GUIDs are unchanged"
        );
    }
}
