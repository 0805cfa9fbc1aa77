//! # mdmkit-intune
//!
//! The mdmkit provider for **Microsoft Intune**, read through Microsoft Graph v1.0 with an Entra ID app
//! registration (R1: Tenant ID, Client ID, Client Secret).
//!
//! ```no_run
//! use mdmkit_core::http::ClientOptions;
//! use mdmkit_core::{IntuneCloud, IntuneConfig, MdmProvider, MdmProviderExt, SerialNumber};
//! use mdmkit_intune::IntuneProvider;
//!
//! # async fn run() -> mdmkit_core::Result<()> {
//! let mut config = IntuneConfig::new(
//!     "contoso.onmicrosoft.com",
//!     "11111111-2222-3333-4444-555555555555",
//!     "the secret's Value",
//! )?;
//! config.cloud = IntuneCloud::Global;
//! let intune = IntuneProvider::new(config, &ClientOptions::default())?;
//!
//! intune.validate().await?; // R8: a token, then one managed device
//! let serial = SerialNumber::parse("C02XK0AAJG5J")?;
//! if let Some(device) = intune.device_by_serial(&serial).await? {
//!     println!("{:?} {:?}", device.display_name, intune.device_link(&device.device_id));
//! }
//! for group in intune.groups().await? {
//!     println!("{}: {} devices", group.name, group.member_device_ids.len());
//! }
//! # Ok(()) }
//! ```
//!
//! ## What it sends
//!
//! | Operation | Request |
//! |---|---|
//! | token | `POST <login host>/{tenant}/oauth2/v2.0/token`, client credentials, scope `<Graph root>/.default` |
//! | [`validate`](MdmProvider::validate) | `GET /v1.0/deviceManagement/managedDevices?$top=1&$select=id` |
//! | [`devices_by_serial`](MdmProvider::devices_by_serial) | `GET …/managedDevices?$filter=serialNumber eq '<serial>'&$select=…`, every page |
//! | [`list_devices_page`](MdmProvider::list_devices_page) | `GET …/managedDevices?$select=…`, then each `@odata.nextLink` |
//! | [`groups`](MdmProvider::groups) | `GET /v1.0/groups?$filter=securityEnabled eq true`, `GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.device?$select=id,deviceId&$count=true` (with `ConsistencyLevel: eventual`), `GET …/managedDevices?$select=id,azureADDeviceId` |
//!
//! The app needs the application permissions [`permissions::MANAGED_DEVICES`] (devices),
//! [`permissions::GROUP_MEMBERS`] (groups) and [`permissions::DEVICES`] (the `deviceId` of group members),
//! each with admin consent.
//!
//! ## Decisions
//!
//! - **Clouds.** The login host and Graph root come from [`IntuneConfig::cloud`] unless overridden. The
//!   scope follows the Graph root in force ([`graph_scope`]), so an override gets a token for the host it
//!   talks to. Both hosts share one transport (connections, the Intune rate limit, the request count).
//! - **Tokens** are cached and renewed before `expires_in` runs out (core's `TokenCache`); a Graph 401
//!   renews the token once and repeats the request.
//! - **Token errors** are mapped by `AADSTS` code, read from `error_codes` or the description's prefix,
//!   never by wording: 90002 and 900023 name the Tenant ID, 700016 the Client ID, 7000215 (usually the
//!   secret's ID pasted instead of its value) and 7000222 (expired) the Client Secret, all Unauthorized;
//!   70011 and 1002012 (refused scope) are Forbidden. The HTTP status of each is unconfirmed, so it is not
//!   used. Unknown codes fall back on the OAuth `error`.
//! - **Graph refusals** are Forbidden and name the permission of the area refused (devices or groups),
//!   including Intune's JSON-in-a-string messages and the `UnknownError`/`Forbidden` form that comes
//!   with HTTP 401. Intune's internal service URL is cut from messages; operation and activity ids stay.
//! - **Serial lookups** send the normalised (upper-case) serial with single quotes doubled and follow
//!   every next link, then keep only exact matches: Graph may ignore a filter and return every device
//!   (a warning is logged when that happens). Intune's comparison is relied on to be case-insensitive.
//! - **Bulk listing** selects only the fields needed and sends no `$top` (Graph's default page is 1000;
//!   the maximum is unconfirmed). Next links are followed exactly as given, empty pages included.
//! - **Users (R4).** The user is `userId`; `""`, `null`, absent and the zero GUID all mean nobody is
//!   assigned. The display name is `userDisplayName`, else `deviceName` (`userPrincipalName` is not used).
//! - **Groups (R11)** are security groups (`securityEnabled`, re-checked on our side). Members come from
//!   `transitiveMembers`, so devices in nested groups count, as they do for Intune assignments; Graph
//!   documents the device cast on it as an advanced query, so those requests carry
//!   `ConsistencyLevel: eventual` and `$count=true` (its index may lag a change by a little). Members
//!   are joined to managed devices by `deviceId == azureADDeviceId` (case-insensitive; zeroed ids never
//!   match); Entra devices Intune does not manage are left out. Member lists are read four groups at a
//!   time; the managed-device list is read once per call, and not at all when no group has a device
//!   member. A member without a `deviceId` fails the call with Forbidden naming `Device.Read.All`, rather
//!   than silently emptying the group. A group deleted while the call runs fails it too (the next sync
//!   sees the group gone).
//! - **Links (R7)** use the Intune admin centre of the configured cloud
//!   ([`mdmkit_core::links::intune_device`]), not the tenant-scoped form.
//! - **Throttling**: 429 and `Retry-After` are honoured by core, with Intune's default limits (below the
//!   2,000 requests per 20 s per app and tenant). The limits are the tenant's: every provider instance for
//!   one tenant id shares them (Entra token requests included), and tenants never share them, although
//!   all of them talk to the same Graph host.
#![deny(missing_docs)]

mod auth;
mod client;
mod convert;
mod error;
mod wire;

use futures::stream::{self, StreamExt, TryStreamExt};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    async_trait, links, IntuneCloud, IntuneConfig, MdmDevice, MdmGroup, MdmProvider, Page,
    PageRequest, PagingStyle, ProviderKind, Result, SerialNumber, Url,
};

pub use auth::{graph_scope, token_endpoint};
pub use error::permissions;

use client::GraphClient;

/// Group member listings read at once (each is one or more requests).
const MEMBER_LISTINGS_AT_ONCE: usize = 4;

/// Microsoft Intune, read through Microsoft Graph. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct IntuneProvider {
    cloud: IntuneCloud,
    client: GraphClient,
}

impl IntuneProvider {
    /// A provider for `config`. No request is made until an operation runs; the Client Secret is held only
    /// by the token source.
    pub fn new(config: IntuneConfig, options: &ClientOptions) -> Result<Self> {
        Ok(IntuneProvider {
            cloud: config.cloud,
            client: GraphClient::new(&config, options)?,
        })
    }

    /// Tokens requested from Entra ID so far (each is also counted by
    /// [`MdmProvider::request_count`]).
    pub fn token_requests(&self) -> u64 {
        self.client.token_requests()
    }
}

#[async_trait]
impl MdmProvider for IntuneProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Intune
    }

    async fn validate(&self) -> Result<()> {
        self.client.validate().await
    }

    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        let rows = self.client.devices_by_serial(serial).await?;
        let returned = rows.len();
        let exact: Vec<MdmDevice> = rows
            .into_iter()
            .filter(|d| {
                d.serial_number
                    .as_deref()
                    .is_some_and(|s| serial.matches(s))
            })
            .map(convert::device)
            .collect();
        if returned > exact.len() {
            tracing::warn!(
                provider = %ProviderKind::Intune,
                %serial,
                returned,
                exact = exact.len(),
                "Graph returned devices with other serials for a serial filter; kept only exact matches"
            );
        }
        Ok(exact)
    }

    fn device_paging(&self) -> PagingStyle {
        PagingStyle::NextLink
    }

    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        Ok(self.client.device_page(request).await?.map(convert::device))
    }

    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        let groups: Vec<_> = self
            .client
            .security_groups()
            .await?
            .into_iter()
            .filter(|g| g.security_enabled != Some(false))
            .collect();
        let client = &self.client;
        let with_keys: Vec<_> = stream::iter(groups)
            .map(|group| async move {
                let members = client.group_devices(&group.id).await?;
                let keys = convert::member_keys(&group, &members)?;
                Ok::<_, mdmkit_core::Error>((group, keys))
            })
            .buffered(MEMBER_LISTINGS_AT_ONCE)
            .try_collect()
            .await?;
        let index = if with_keys.iter().any(|(_, keys)| !keys.is_empty()) {
            convert::entra_index(&self.client.devices_for_join().await?)
        } else {
            Default::default()
        };
        Ok(with_keys
            .iter()
            .map(|(group, keys)| convert::group(group, keys, &index))
            .collect())
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        links::intune_device(self.cloud, device_id)
    }

    fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        use mdmkit_core::RequestCosts;
        RequestCosts::PAGES_CARRY_EVERYTHING
    }
}
