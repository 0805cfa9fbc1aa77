//! The requests mdmkit sends to JumpCloud, each on the shared [`HttpClient`].
//!
//! Every request carries `x-api-key`; requests scoped to an organisation also carry `x-org-id` when one
//! is configured. `/api/organizations` never does: JumpCloud does not accept the header there (JumpCloud's
//! own PowerShell module strips it on that route).

use std::sync::Arc;

use mdmkit_core::http::{
    path_segment, ClientOptions, HeaderAuth, HttpClient, RequestBuilder, ServerKey,
};
use mdmkit_core::http::{HeaderName, HeaderValue};
use mdmkit_core::paging::{collect_all, for_each_row};
use mdmkit_core::{
    Error, ErrorKind, JumpCloudConfig, Operation, Page, PageRequest, PagingStyle, ProviderKind,
    ProviderOperations, Result,
};
use serde::de::DeserializeOwned;

use crate::directory::DirectoryBuilder;
use crate::error::JumpCloudErrorClassifier;
use crate::wire::{GraphObject, System, SystemGroup, SystemUser, V1List, V2List};

/// Rows asked for per page of every listing: the most JumpCloud serves (`limit`, V1 and V2: "Limited to
/// 100").
pub const PAGE_SIZE: u32 = 100;

const X_ORG_ID: HeaderName = HeaderName::from_static("x-org-id");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const X_TOTAL_COUNT: &str = "x-total-count";

/// The operations every provider has, named alike ([`ProviderOperations`]), for its requests and
/// errors.
pub(crate) const OPS: ProviderOperations = ProviderOperations::of(ProviderKind::JumpCloud);
pub(crate) const RESOLVE_DEVICE_USERS: Operation =
    Operation::new(ProviderKind::JumpCloud, "resolve_device_users");
pub(crate) const RESOLVE_USER_NAMES: Operation =
    Operation::new(ProviderKind::JumpCloud, "resolve_user_names");

/// JumpCloud's HTTP client: the shared [`HttpClient`] plus the organisation header.
#[derive(Debug, Clone)]
pub(crate) struct JumpCloudClient {
    http: HttpClient,
    org_id: Option<HeaderValue>,
}

impl JumpCloudClient {
    /// A client for `base` (the console root, ending in `/`).
    pub(crate) fn new(
        config: &JumpCloudConfig,
        base: url::Url,
        org_id: Option<String>,
        options: &ClientOptions,
    ) -> Result<Self> {
        let org_header = org_id
            .as_deref()
            .map(|id| {
                HeaderValue::from_str(id).map_err(|_| {
                    Error::config(
                        "the organisation ID contains characters not allowed in an HTTP header",
                    )
                })
            })
            .transpose()?;
        // Every organisation shares JumpCloud's host: limits are per API key and organisation.
        let server = ServerKey::credential(
            ProviderKind::JumpCloud,
            &base,
            &config.api_token,
            org_id.as_deref(),
        );
        let http = HttpClient::for_server(ProviderKind::JumpCloud, base, server, options)?
            .with_auth(Arc::new(HeaderAuth::new(
                X_API_KEY,
                config.api_token.clone(),
            )))
            .with_classifier(Arc::new(JumpCloudErrorClassifier::new(org_id)));
        Ok(JumpCloudClient {
            http,
            org_id: org_header,
        })
    }

    pub(crate) fn request_count(&self) -> u64 {
        self.http.request_count()
    }

    /// How many reads a fan-out (graph reads, directory pages) sends at once.
    pub(crate) fn fan_out(&self) -> usize {
        self.http.max_concurrency()
    }

    /// A GET in the configured organisation (with `x-org-id` when one is set).
    fn get(&self, path: &str, operation: impl Into<&'static str>) -> RequestBuilder<'_> {
        let request = self.http.get(path).operation(operation);
        match &self.org_id {
            Some(org) => request.header(X_ORG_ID, org.clone()),
            None => request,
        }
    }

    /// `GET /api/organizations?limit=1`, without `x-org-id`: proves the key and the host. Returns the
    /// number of organisations the key can see.
    pub(crate) async fn organizations(&self) -> Result<Option<u64>> {
        let list: V1List<serde_json::Value> = self
            .http
            .get("api/organizations")
            .operation(OPS.validate)
            .query("limit", "1")
            .json()
            .await?;
        Ok(list.total_count)
    }

    /// One page of `GET /api/systems`, sorted by `_id` so `skip` neither skips nor repeats rows while
    /// the inventory changes. `filter` is a V1 filter such as `serialNumber:$eq:C02…`.
    pub(crate) async fn systems_page(
        &self,
        operation: &'static str,
        offset: u64,
        limit: u32,
        filter: Option<&str>,
    ) -> Result<Page<System>> {
        let mut request = self.v1_page("api/systems", operation, offset, limit);
        if let Some(filter) = filter {
            request = request.query("filter", filter);
        }
        let list: V1List<System> = request.json().await?;
        Ok(Page::counted(list.results, list.total_count))
    }

    /// Every system whose serial JumpCloud's filter matches (exact on JumpCloud's side, but re-checked
    /// by the caller), over as many pages as it takes.
    pub(crate) async fn systems_by_serial(
        &self,
        operation: &'static str,
        serial: &str,
    ) -> Result<Vec<System>> {
        let filter = format!("serialNumber:$eq:{serial}");
        let pager = self.http.pager(PagingStyle::Offset { limit: PAGE_SIZE });
        collect_all(pager, System::device_id, |request| {
            let filter = filter.as_str();
            async move {
                let (offset, limit) = offset_in(&request, self.http.operation(operation))?;
                self.systems_page(operation, offset, limit, Some(filter))
                    .await
            }
        })
        .await
    }

    /// The whole user directory, `GET /api/systemusers` page by page into `into` (a page's wire records
    /// are dropped once added, so a few pages are held at once).
    pub(crate) async fn user_directory(
        &self,
        operation: &'static str,
        into: &mut DirectoryBuilder,
    ) -> Result<()> {
        // The first page counts the users: the rest are read at the allowed concurrency.
        let pager = self
            .http
            .pager(PagingStyle::Offset { limit: PAGE_SIZE })
            .read_ahead(self.fan_out());
        let read_page = |request| async move {
            let (offset, limit) = offset_in(&request, self.http.operation(operation))?;
            let list: V1List<SystemUser> = self
                .v1_page("api/systemusers", operation, offset, limit)
                .json()
                .await?;
            Ok(Page::counted(list.results, list.total_count))
        };
        for_each_row(pager, SystemUser::user_id, read_page, |user| {
            into.add(&user)
        })
        .await
    }

    /// `GET /api/systemusers/{id}`; `None` when the user does not exist (any other failure is an error).
    pub(crate) async fn system_user(
        &self,
        operation: &'static str,
        id: &str,
    ) -> Result<Option<SystemUser>> {
        let path = format!("api/systemusers/{}", path_segment(id));
        match self.get(&path, operation).json::<SystemUser>().await {
            // A record without an id is not the user asked for (`{}`, an error object): reading it as a
            // nameless user would silently drop the user's name from the device.
            Ok(user) if user.user_id().is_none() => Err(self.http.operation(operation).error(
                ErrorKind::InvalidResponse,
                "the user record has no _id; the answer is not a JumpCloud user",
            )),
            Ok(user) => Ok(Some(user)),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::debug!(
                    user_id = id,
                    "JumpCloud user not found; treated as unassigned"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The systems bound to a user, directly or through groups: `GET /api/v2/users/{id}/systems`.
    pub(crate) async fn bound_systems(
        &self,
        operation: &'static str,
        user_id: &str,
    ) -> Result<Vec<GraphObject>> {
        let path = format!("api/v2/users/{}/systems", path_segment(user_id));
        self.v2_all(operation, &path, GraphObject::object_id).await
    }

    /// The users bound to a system, directly or through user groups:
    /// `GET /api/v2/systems/{id}/users`.
    pub(crate) async fn bound_users(
        &self,
        operation: &'static str,
        system_id: &str,
    ) -> Result<Vec<GraphObject>> {
        let path = format!("api/v2/systems/{}/users", path_segment(system_id));
        self.v2_all(operation, &path, GraphObject::object_id).await
    }

    /// Every system group: `GET /api/v2/systemgroups`.
    pub(crate) async fn system_groups(&self) -> Result<Vec<SystemGroup>> {
        self.v2_all(OPS.groups, "api/v2/systemgroups", |g: &SystemGroup| {
            g.id.as_deref()
        })
        .await
    }

    /// Every system in a group, through nested groups and dynamic membership too:
    /// `GET /api/v2/systemgroups/{id}/membership` (not `/members`, which lists direct members only).
    pub(crate) async fn group_membership(&self, group_id: &str) -> Result<Vec<GraphObject>> {
        let path = format!("api/v2/systemgroups/{}/membership", path_segment(group_id));
        self.v2_all(OPS.groups, &path, GraphObject::object_id).await
    }

    /// One page of a V1 list, sorted by `_id` so `skip` neither skips nor repeats rows while the
    /// directory changes.
    fn v1_page(
        &self,
        path: &str,
        operation: &'static str,
        offset: u64,
        limit: u32,
    ) -> RequestBuilder<'_> {
        self.get(path, operation)
            .query("limit", limit.to_string())
            .query("skip", offset.to_string())
            .query("sort", "_id")
    }

    /// Every row of a V2 list, paged with `limit`/`skip`; the total comes from `x-total-count` (or the
    /// body, if JumpCloud wraps the list). `row_id` is a row's id, for the pager's repeat check.
    async fn v2_all<T: DeserializeOwned>(
        &self,
        operation: impl Into<&'static str>,
        path: &str,
        row_id: fn(&T) -> Option<&str>,
    ) -> Result<Vec<T>> {
        let operation = self.http.operation(operation.into());
        let pager = self.http.pager(PagingStyle::Offset { limit: PAGE_SIZE });
        collect_all(pager, row_id, |request| async move {
            let (offset, limit) = offset_in(&request, operation)?;
            let response = self
                .get(path, operation)
                .query("limit", limit.to_string())
                .query("skip", offset.to_string())
                .send()
                .await?;
            let header_total = response.header_u64(X_TOTAL_COUNT);
            let (items, body_total) = response.json::<V2List<T>>()?.into_parts();
            Ok(Page::counted(items, header_total.or(body_total)))
        })
        .await
    }
}

/// The offset and limit of a request of the device listing (the provider pages it; see
/// [`offset_in`]).
pub(crate) fn offset_of(request: &PageRequest) -> Result<(u64, u32)> {
    offset_in(request, OPS.list_devices)
}

/// The offset and limit of an offset-paged request in `operation`, the limit clamped to what JumpCloud
/// serves; another style is a configuration error.
fn offset_in(request: &PageRequest, operation: Operation) -> Result<(u64, u32)> {
    let (offset, limit) = request.offset(operation)?;
    Ok((offset, limit.clamp(1, PAGE_SIZE)))
}
