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
//! The same calls run offline against `mdmkit-sandbox`, a local server that speaks Microsoft Graph and the Entra token endpoint
//! (this example is a doc test):
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//! use mdmkit_intune::IntuneProvider;
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let kind = ProviderKind::Intune;
//! let ProviderConfig::Intune(config) = sandbox.config(kind, Access::Full) else {
//!     unreachable!("the sandbox hands out a Intune configuration for Intune")
//! };
//! let intune = IntuneProvider::new(config, &sandbox.client_options())?;
//! intune.validate().await?;
//!
//! let expected = sandbox.expected_devices(kind);
//! let serial = SerialNumber::parse(&expected[0].serial_number)?;
//! let device = intune.device_by_serial(&serial).await?.expect("the sandbox has it");
//! assert_eq!(device.device_id, expected[0].device_id);
//! assert_eq!(device.user_id, expected[0].user_id);
//! assert_eq!(device.display_name.as_deref(), Some(expected[0].display_name.as_str()));
//! assert!(intune.device_url(&device.device_id).is_some());
//! assert_eq!(intune.all_devices().await?.len(), expected.len());
//! assert_eq!(intune.groups().await?.len(), sandbox.expected_groups(kind).len());
//!
//! // Wrong credentials are refused by the test call, with the category a person sees.
//! let ProviderConfig::Intune(wrong) = sandbox.config(kind, Access::WrongSecret) else {
//!     unreachable!()
//! };
//! let refused = IntuneProvider::new(wrong, &sandbox.client_options())?.validate().await.unwrap_err();
//! assert_eq!(refused.kind(), ErrorKind::Unauthorized);
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
//! | [`list_changed_devices_page`](MdmProvider::list_changed_devices_page) | `GET …/managedDevices?$filter=lastSyncDateTime gt <T − 1 ms>&$select=…,lastSyncDateTime`, then each next link; every row checked |
//! | [`groups_delta`](MdmProvider::groups_delta) | `GET /v1.0/groups/delta?$select=displayName,securityEnabled,members` and its links, then `GET /v1.0/groups/{id}` and the member listing below for each group to read again |
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
//! - **Changed since T** uses `lastSyncDateTime gt`, the operator Graph documents for that property
//!   (`ge` is not listed, and an unsupported clause may be ignored). Graph sometimes ignores `$filter`
//!   on managed devices and returns everything, so every row's `lastSyncDateTime` is checked; a row
//!   that synced before T means the filter was ignored, and the listing is read to its end as a full
//!   listing ([`mdmkit_core::Coverage::Everything`]). `lastSyncDateTime` moves with every sync of the device, not
//!   with changes made in the admin centre.
//! - **Groups by delta** ([`MdmProvider::groups_delta`]): see the `delta` module. In short, Graph's
//!   `groups/delta` tells which groups changed (direct members, names, deletions); those groups and
//!   every group containing one of them (nesting learnt from the delta and carried in the token) are
//!   read again in full, so memberships stay transitive and joined as in `groups()`. HTTP 410
//!   (`syncStateNotFound`) falls back to a full read.
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
mod delta;
mod error;
#[cfg(test)]
mod properties;
mod wire;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use mdmkit_core::changes::rfc3339_millis;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    async_trait, filtered_changes_page, links, ChangeTracking, ChangesPage, ChangesRequest,
    GroupDelta, GroupDeltaToken, MdmDevice, MdmGroup, MdmProvider, Page, PageRequest, PagingStyle,
    ProviderKind, Result, SerialNumber, Url,
};

pub use auth::{graph_scope, token_endpoint};
pub use error::permissions;
pub use mdmkit_core::{IntuneCloud, IntuneConfig};

use client::GraphClient;

/// Reading groups, for the errors raised outside the HTTP client.
use crate::client::OPS;

/// Group member listings read at once (each is one or more requests).
const MEMBER_LISTINGS_AT_ONCE: usize = 4;

/// Intune lists changes by the last sync.
const CHANGE_TRACKING: ChangeTracking = ChangeTracking::supported(
    "lastSyncDateTime",
    "each sync of the device with Intune (several times a day while it is online), so a listing holds \
     the devices online since the time asked for; a primary user changed in the admin centre does not \
     move it",
    Duration::from_secs(300),
);

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
        // The same checks as the constructors, for a configuration changed after it was built.
        let config = config.validated()?;
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

    /// Security groups with their transitive device members, joined to managed devices.
    async fn with_members(&self, groups: Vec<wire::Group>) -> Result<Vec<MdmGroup>> {
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

    /// A first delta round: every security group, and the token for the next round.
    async fn full_delta(&self) -> Result<GroupDelta> {
        let (entries, link) = self.client.group_delta_round(None).await?;
        let round = delta::Round::new(entries);
        let token = delta::DeltaToken {
            link,
            parents: delta::nesting_of(&round),
        };
        let groups = self.with_members(round.security_groups()).await?;
        Ok(GroupDelta::full(groups, Some(token.encode())))
    }
}

#[async_trait]
impl MdmProvider for IntuneProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Intune
    }

    /// A token, then one managed device's id: a registration without the device permission fails here,
    /// at save time, rather than at the first refresh.
    async fn validate(&self) -> Result<()> {
        self.client.one_device_id(OPS.validate).await.map(drop)
    }

    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        let rows = self.client.devices_by_serial(serial).await?;
        let returned = rows.len();
        let exact: Vec<MdmDevice> = serial
            .exact_matches(rows, |d| d.serial_number.as_deref())
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
        self.with_members(groups).await
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        links::intune_device(self.cloud, device_id)
    }

    fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    fn change_tracking(&self) -> ChangeTracking {
        CHANGE_TRACKING
    }

    /// `$filter=lastSyncDateTime gt <since − 1 ms>` (Graph documents `gt`/`lt` for it), following next
    /// links. Graph sometimes ignores `$filter` on managed devices, so every row's `lastSyncDateTime` is
    /// checked: one before `since` (or without one) makes the listing a full one
    /// ([`mdmkit_core::Coverage::Everything`]), read to its end.
    async fn list_changed_devices_page(&self, request: &ChangesRequest) -> Result<ChangesPage> {
        let after = request.since - mdmkit_core::chrono::Duration::milliseconds(1);
        let link = PageRequest::NextLink {
            url: request.cursor.as_ref().map(|c| c.as_str().to_owned()),
        };
        let page = self
            .client
            .changed_device_page(&rfc3339_millis(after), &link)
            .await?;
        let next = page.info.next_link.map(mdmkit_core::ChangeCursor::new);
        let synced: Vec<Option<String>> = page
            .items
            .iter()
            .map(|d| d.last_sync_date_time.clone())
            .collect();
        let devices = page.items.into_iter().map(convert::device).collect();
        Ok(filtered_changes_page(
            ProviderKind::Intune,
            devices,
            next,
            synced.iter().map(Option::as_deref),
            |t| t > after,
        ))
    }

    fn supports_group_delta(&self) -> bool {
        true
    }

    /// Entra groups by delta (see "Groups by delta" in the crate docs): a first round reads every
    /// security group; later rounds read again only the groups the delta names and the groups
    /// containing them. An expired link (HTTP 410) or a token that does not parse starts a first round.
    async fn groups_delta(&self, token: Option<&GroupDeltaToken>) -> Result<GroupDelta> {
        let Some(mut state) = token.and_then(delta::DeltaToken::parse) else {
            if token.is_some() {
                tracing::warn!("the group delta token does not parse; reading every group");
            }
            return self.full_delta().await;
        };
        let entries = match self.client.group_delta_round(Some(&state.link)).await {
            Ok((entries, link)) => {
                state.link = link;
                entries
            }
            Err(e) if e.status() == Some(410) => {
                tracing::info!(error = %e, "the group delta link expired; reading every group");
                return self.full_delta().await;
            }
            Err(e) => return Err(e),
        };
        let round = delta::Round::new(entries);
        round.update_nesting(&mut state.parents);
        let affected: Vec<String> = round.affected(&state.parents).into_iter().collect();
        let client = &self.client;
        let found: Vec<(String, Option<wire::Group>)> =
            stream::iter(affected.clone())
                .map(|id| async move {
                    Ok::<_, mdmkit_core::Error>((id.clone(), client.group(&id).await?))
                })
                .buffered(MEMBER_LISTINGS_AT_ONCE)
                .try_collect()
                .await?;
        let mut removed: BTreeSet<String> = round.removed.clone();
        let mut not_security = Vec::new();
        let mut keep = HashMap::new();
        for (id, group) in found {
            match group {
                None => {
                    removed.insert(id);
                }
                Some(g) if g.security_enabled == Some(false) => not_security.push(id),
                Some(g) => {
                    keep.insert(id, g);
                }
            }
        }
        let groups = self.with_members(delta::in_order(&affected, &keep)).await?;
        delta::changes(groups, removed, not_security, &state)
    }
}
