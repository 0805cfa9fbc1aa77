//! # mdmkit-iru
//!
//! The mdmkit provider for **Iru, formerly Kandji** (R1: Host, API Token). It implements
//! [`MdmProvider`] on the shared HTTP machinery of `mdmkit-core`, so retries (429 and 5xx, honouring
//! `Retry-After`), the rate limit (the tenant allows 10,000 requests an hour shared by all its tokens;
//! the core default stays well below), the host policy and the status mapping are not written here.
//!
//! ```no_run
//! use mdmkit_core::http::ClientOptions;
//! use mdmkit_core::{MdmProvider, MdmProviderExt, SerialNumber};
//! use mdmkit_iru::{IruConfig, IruProvider};
//!
//! # async fn run() -> mdmkit_core::Result<()> {
//! // Any of the four host forms, with or without `https://`, a trailing `/` or `/api/v1`.
//! let config = IruConfig::new("acme.api.kandji.io", "0b7ab6e3-…-api-token")?;
//! let iru = IruProvider::new(config, &ClientOptions::default())?;
//!
//! iru.validate().await?; // GET /api/v1/devices?limit=1 before saving (R8)
//! if let Some(device) = iru.device_by_serial(&SerialNumber::parse("c02zc2qylvdl")?).await? {
//!     println!("{:?} {:?}", device.display_name, iru.device_url(&device.device_id));
//! }
//! for group in iru.groups().await? {
//!     println!("tag {}: {} devices", group.name, group.member_device_ids.len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The same calls run offline against `mdmkit-sandbox`, a local server that speaks the Iru (Kandji) API
//! (this example is a doc test):
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//! use mdmkit_iru::IruProvider;
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let kind = ProviderKind::Iru;
//! let ProviderConfig::Iru(config) = sandbox.config(kind, Access::Full) else {
//!     unreachable!("the sandbox hands out a Iru configuration for Iru")
//! };
//! let iru = IruProvider::new(config, &sandbox.client_options())?;
//! iru.validate().await?;
//!
//! let expected = sandbox.expected_devices(kind);
//! let serial = SerialNumber::parse(&expected[0].serial_number)?;
//! let device = iru.device_by_serial(&serial).await?.expect("the sandbox has it");
//! assert_eq!(device.device_id, expected[0].device_id);
//! assert_eq!(device.user_id, expected[0].user_id);
//! assert_eq!(device.display_name.as_deref(), Some(expected[0].display_name.as_str()));
//! assert!(iru.device_url(&device.device_id).is_some());
//! assert_eq!(iru.all_devices().await?.len(), expected.len());
//! assert_eq!(iru.groups().await?.len(), sandbox.expected_groups(kind).len());
//!
//! // Wrong credentials are refused by the test call, with the category a person sees.
//! let ProviderConfig::Iru(wrong) = sandbox.config(kind, Access::WrongSecret) else {
//!     unreachable!()
//! };
//! let refused = IruProvider::new(wrong, &sandbox.client_options())?.validate().await.unwrap_err();
//! assert_eq!(refused.kind(), ErrorKind::Unauthorized);
//! # Ok(()) }
//! ```
//!
//! ## What it calls
//!
//! | operation | request |
//! |---|---|
//! | `validate` | `GET /api/v1/devices?limit=1` |
//! | `device_by_serial` | `GET /api/v1/devices?limit=300&offset=…&ordering=device_id&serial_number=SERIAL` |
//! | `list_devices` | `GET /api/v1/devices?limit=300&offset=…&ordering=device_id` |
//! | `list_changed_devices` | `GET /api/v1/devices?limit=300&offset=…&ordering=-last_check_in`, until a device checked in before T (see [`changes`](crate#changed-since-t)) |
//! | `groups` | `GET /api/v1/tags` following `next`, then one device listing as above |
//!
//! Every request carries `Authorization: Bearer <token>`. Device links point to the console host derived
//! from the API host ([`mdmkit_core::links::iru_device`]): `T.api.kandji.io` → `https://T.kandji.io/devices/ID`,
//! `T.api.eu.kandji.io` → `T.eu.kandji.io`, `T.api.iru.com` and `T.api.eu.iru.com` → `T.iru.com`.
//!
//! ## Decisions where the reference is open
//!
//! - **Hosts.** The four forms `TENANT.api.kandji.io`, `TENANT.api.eu.kandji.io`, `TENANT.api.iru.com` and
//!   `TENANT.api.eu.iru.com` are accepted by [`IruConfig::new`]; whether the last exists is disputed, so it
//!   is accepted and the first call decides. Legacy `*.clients.*.kandji.io` hosts are refused.
//!   [`IruConfig::with_base_url`] takes any base (sandboxes, test servers).
//! - **Serial lookup.** The `serial_number` filter matches substrings, so results are kept only when
//!   their serial equals the asked one once both are normalised (case-insensitive). The filter carries
//!   the normalised serial (upper case, inner spaces removed). The lookup is paged
//!   like the bulk listing, so an exact match can never hide beyond the first 300 substring matches. A
//!   bare device object where an array is documented is read as a one-row list (everywhere).
//! - **Bulk listing.** `limit=300` (the hard maximum), `offset`, and `ordering=device_id`: the device id is
//!   unique, so ties cannot reorder rows between pages (serials can be blank or repeated). The API sends
//!   no total; the listing ends at a short or empty page. Asking for more than 300 rows a page is refused,
//!   since the server would cap the page and the pager would take it for the last one.
//! - **Changed since T.** Iru has no "since" filter; devices are read newest first by `last_check_in`
//!   and the listing stops at the first device that checked in before T. `last_check_in` moves on every
//!   check-in, so the listing holds the devices *active* since T, not only those whose record changed;
//!   console changes do not move it. A device checking in meanwhile repeats a row at a page boundary but
//!   never hides one. Should the times not come newest first (the server ignored `ordering`), the
//!   listing goes on to the end and reports [`mdmkit_core::Coverage::Everything`]. Devices that never
//!   checked in are listed and do not stop it.
//! - **Rows.** A row without a `device_id` fails the page as an invalid response rather than being
//!   skipped: skipping would shift the offset paging and hide a device. A missing or placeholder serial
//!   is kept as `None` (the device is listed but cannot be matched).
//! - **Users.** `user` is an object when a user is assigned and `""` when none is; `null`, a missing field,
//!   or any other non-object also mean "unassigned". When `user` names nobody, `assigned_user` (the name
//!   the details endpoint uses) is read. User id = `user.id` (string or number); display name per R4 =
//!   `user.name`, else `device_name` (computed by [`mdmkit_core::display_name`]); the e-mail is not used.
//! - **Groups (R11: tags).** Tags come from `/api/v1/tags`, following `next` to the end (a relative link is
//!   resolved, an `http://` link to the configured `https://` host is upgraded, a link to any other host
//!   is refused). Device rows carry tag *names*, so members are gathered in one bulk device pass and
//!   matched to tags by exact, case-sensitive name (the API's own tag filters are case-sensitive); an
//!   object `{id, name}` in `tags` is matched by id. If two tags share a name, their members are read with
//!   `?tag_id=` listings instead (only in that case). A tag name on a device that matches no listed tag
//!   (created between the two reads) is ignored until the next sync. No tags means no device pass.
//!   Blueprints are not groups here. Requests for a sync: the tag pages plus `floor(devices / 300) + 1`.
//! - **Errors.** Bodies are `{"detail": …}`, a bare array of strings, field errors or an HTML page; all
//!   become a one-line message (`IruErrorClassifier`). Both 401 and 403 are authorisation failures; a 403
//!   whose detail is an authentication failure ("Authentication credentials were not provided.",
//!   "Invalid token.") is reported as Unauthorized, any other 403 as Forbidden with a hint about the
//!   token's per-endpoint permissions.
//! - **Validation** checks the "Device list" permission only; a token without the tag permission is
//!   reported as Forbidden by the first group sync, since groups are optional (R10 plans).
#![deny(missing_docs)]

mod changes;
mod client;
mod convert;
mod error;
#[cfg(test)]
mod properties;
mod wire;

use async_trait::async_trait;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    links, ChangeTracking, ChangesPage, ChangesRequest, MdmDevice, MdmGroup, MdmProvider, Page,
    PageRequest, PagingStyle, ProviderKind, Result, SerialNumber, Url,
};

use crate::client::IruClient;
use crate::convert::{Membership, TagIndex};

pub use mdmkit_core::config::IRU_HOST_FORMS;
pub use mdmkit_core::IruConfig;

pub use crate::client::PAGE_SIZE;

/// An Iru (formerly Kandji) tenant as an [`MdmProvider`].
///
/// `Debug` shows the tenant's base URL, never the token.
#[derive(Debug, Clone)]
pub struct IruProvider {
    client: IruClient,
}

impl IruProvider {
    /// A provider for the tenant in `config`. No request is sent until a method is called.
    pub fn new(config: IruConfig, options: &ClientOptions) -> Result<Self> {
        // The same checks as the constructors, for a configuration changed after it was built.
        IruClient::new(&config.validated()?, options).map(|client| IruProvider { client })
    }

    /// The tenant's API base URL.
    pub fn base_url(&self) -> &Url {
        self.client.http().base_url()
    }
}

// The operations, named once for requests and for the errors raised outside the HTTP client.
use crate::client::OPS;

#[async_trait]
impl MdmProvider for IruProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Iru
    }

    async fn validate(&self) -> Result<()> {
        self.client.validate().await
    }

    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        let rows = self
            .client
            .all_devices(
                &[("serial_number", serial.as_str())],
                OPS.device_by_serial.name(),
            )
            .await?;
        serial
            .exact_matches(rows, convert::reported_serial)
            .map(|row| convert::device(row).map_err(OPS.device_by_serial.tagger()))
            .collect()
    }

    fn device_paging(&self) -> PagingStyle {
        PagingStyle::Offset { limit: PAGE_SIZE }
    }

    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        let page = self
            .client
            .devices_page(request, &[], OPS.list_devices.name())
            .await?;
        let items = page
            .items
            .into_iter()
            .map(convert::device)
            .collect::<Result<Vec<_>>>()
            .map_err(OPS.list_devices.tagger())?;
        Ok(Page::new(items, page.info))
    }

    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        let index = TagIndex::new(self.client.all_tags().await?);
        if index.is_empty() {
            return Ok(Vec::new());
        }
        let ambiguous = index.ambiguous_ids();
        let mut membership = Membership::new(index);
        for row in self.client.all_devices(&[], OPS.groups.name()).await? {
            membership.add_row(&row);
        }
        for tag_id in &ambiguous {
            let rows = self
                .client
                .all_devices(&[("tag_id", tag_id.as_str())], OPS.groups.name())
                .await?;
            for row in &rows {
                membership.add_member(tag_id, row);
            }
        }
        if membership.unresolved() > 0 {
            tracing::debug!(
                unresolved = membership.unresolved(),
                "Iru device rows named tags missing from the tag list or shared by several tags"
            );
        }
        Ok(membership.into_groups())
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        links::iru_device(self.base_url(), device_id)
    }

    fn request_count(&self) -> u64 {
        self.client.http().request_count()
    }

    fn change_tracking(&self) -> ChangeTracking {
        changes::TRACKING
    }

    /// `GET /api/v1/devices?ordering=-last_check_in`, newest first, until a device checked in before
    /// `since` (see [changed since T](crate#changed-since-t)).
    async fn list_changed_devices_page(&self, request: &ChangesRequest) -> Result<ChangesPage> {
        changes::page(&self.client, request.since, request.cursor.as_ref()).await
    }
}
