//! # mdmkit-simplemdm
//!
//! The [SimpleMDM](https://simplemdm.com) provider for mdmkit: [`SimpleMdmProvider`] implements
//! [`MdmProvider`] on the shared HTTP machinery of `mdmkit-core`.
//!
//! ```no_run
//! use mdmkit_core::http::ClientOptions;
//! use mdmkit_core::{MdmProvider, MdmProviderExt, SerialNumber};
//! use mdmkit_simplemdm::{SimpleMdmConfig, SimpleMdmProvider};
//!
//! # async fn run() -> mdmkit_core::Result<()> {
//! let mut config = SimpleMdmConfig::new("your-api-secret-access-key")?;
//! // Optional: read the assigned user from a custom attribute (off by default).
//! config.user_attribute = Some("email".into());
//! let provider = SimpleMdmProvider::new(config, &ClientOptions::default())?;
//!
//! provider.validate().await?; // the test call made before credentials are saved
//! let serial = SerialNumber::parse("dnfje9dng5mg")?;
//! if let Some(device) = provider.device_by_serial(&serial).await? {
//!     println!("{:?} -> {:?}", device.display_name, provider.device_url(&device.device_id));
//! }
//! for group in provider.groups().await? {
//!     println!("{}: {} devices", group.name, group.member_device_ids.len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The same calls run offline against `mdmkit-sandbox`, a local server that speaks the SimpleMDM API
//! (this example is a doc test):
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//! use mdmkit_simplemdm::SimpleMdmProvider;
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let kind = ProviderKind::SimpleMdm;
//! let ProviderConfig::SimpleMdm(config) = sandbox.config(kind, Access::Full) else {
//!     unreachable!("the sandbox hands out a SimpleMdm configuration for SimpleMdm")
//! };
//! let simplemdm = SimpleMdmProvider::new(config, &sandbox.client_options())?;
//! simplemdm.validate().await?;
//!
//! let expected = sandbox.expected_devices(kind);
//! let serial = SerialNumber::parse(&expected[0].serial_number)?;
//! let device = simplemdm.device_by_serial(&serial).await?.expect("the sandbox has it");
//! assert_eq!(device.device_id, expected[0].device_id);
//! assert_eq!(device.user_id, expected[0].user_id);
//! assert_eq!(device.display_name.as_deref(), Some(expected[0].display_name.as_str()));
//! assert!(simplemdm.device_url(&device.device_id).is_some());
//! assert_eq!(simplemdm.all_devices().await?.len(), expected.len());
//! assert_eq!(simplemdm.groups().await?.len(), sandbox.expected_groups(kind).len());
//!
//! // Wrong credentials are refused by the test call, with the category a person sees.
//! let ProviderConfig::SimpleMdm(wrong) = sandbox.config(kind, Access::WrongSecret) else {
//!     unreachable!()
//! };
//! let refused = SimpleMdmProvider::new(wrong, &sandbox.client_options())?.validate().await.unwrap_err();
//! assert_eq!(refused.kind(), ErrorKind::Unauthorized);
//! # Ok(()) }
//! ```
//!
//! ## What it sends
//!
//! | operation | request |
//! |---|---|
//! | [`validate`](MdmProvider::validate) | `GET /api/v1/account`, then `GET /api/v1/devices?limit=1` |
//! | [`devices_by_serial`](MdmProvider::devices_by_serial) | `GET /api/v1/devices?limit=100&search=SERIAL&include_awaiting_enrollment=true` (cursor-paged) |
//! | [`list_devices_page`](MdmProvider::list_devices_page) | `GET /api/v1/devices?limit=100[&starting_after=ID]&include_awaiting_enrollment=true` |
//! | [`groups`](MdmProvider::groups) | `GET /api/v1/assignment_groups?limit=100[&starting_after=ID]` |
//!
//! Every request carries HTTP Basic credentials: the API key as user name and an empty password. The
//! endpoint is `https://a.simplemdm.com`; [`SimpleMdmConfig::base_url`] overrides it (sandboxes, tests).
//! Lists are cursor-paged ([`PagingStyle::Cursor`]): 100 rows a page (SimpleMDM's maximum), the next page
//! starting after the last row's id, while the server says `has_more`. A listing of N devices therefore
//! takes `max(1, ceil(N / 100))` requests, plus one when N is a multiple of 100 and the server says
//! `has_more` on the last full page.
//!
//! ## Mapping
//!
//! - Device ID: the integer `id`, as text. Serial: `attributes.serial_number`, normalised; records still
//!   awaiting enrollment have none and are listed without one.
//! - Device name: `attributes.name` (the name set in SimpleMDM, as its console shows it), else
//!   `attributes.device_name` (the name the device reports).
//! - User: SimpleMDM has no assigned-user field. When [`SimpleMdmConfig::user_attribute`] names a custom
//!   attribute, its non-blank value on the device is both the MDM user ID and the user's name (the value
//!   is the only handle SimpleMDM has on the user). Off by default: devices then have no user and the
//!   display name is the device name (R4).
//! - Groups (R11): assignment groups, with their members from the embedded
//!   `relationships.devices.data` (duplicates, which live data contains, are removed). Legacy device
//!   groups (`/api/v1/device_groups`, deprecated by SimpleMDM) are never read.
//! - Console link (R7): `https://a.simplemdm.com/admin/devices/ID`, on the overriding base when one is set.
//!
//! ## Decisions where the reference was ambiguous
//!
//! - **Custom attribute values come from the device rows.** The current API embeds them in each row
//!   (`relationships.custom_attribute_values.data[]`, `id` = attribute name, `attributes.value`), as the
//!   SDK models validated against API 1.51 and tools such as simplemdm2snipe read them, so the user
//!   costs no extra request, never one per device. Older documentation (API 1.39) shows rows without
//!   that relationship; such a row simply has no user. Attribute names are compared case-insensitively
//!   (SimpleMDM treats them so); an empty value (`""`, what SimpleMDM returns for an unset attribute) or
//!   `null` means no user.
//! - **Secret custom attributes are not requested** (`include_secret_custom_attributes` stays false), so
//!   secret values never pass through mdmkit. A user attribute marked secret in SimpleMDM therefore
//!   yields no user. If a custom attribute has a default value, SimpleMDM may report that default for
//!   devices without their own value; mdmkit cannot tell the two apart (UNCONFIRMED in the API docs).
//! - **Awaiting-enrollment records are included in both the lookup and the bulk listing**, so the two
//!   strategies of a refresh see the same devices.
//! - **The serial lookup pages through the search results.** `search` is fuzzy over name, UDID, serial,
//!   IMEI, MAC and phone number, so it may return more than a page; the exact match is checked on our
//!   side on every row (`SerialNumber::matches` on `attributes.serial_number`).
//! - **Validation proves device access.** `GET /api/v1/account` is the test call; the one-row device read
//!   that follows makes a key without device permission fail at save time (Forbidden) rather than at the
//!   first refresh. SimpleMDM keys can be restricted per permission domain, so a key refused the account
//!   (403) but allowed to read devices still validates: it can do everything mdmkit needs. Assignment
//!   group access is not probed, because group sync is optional (plan-dependent).
//! - **No "changed since" listing.** The device list documents no filter or ordering by a change time
//!   (only the `starting_after` cursor by id, `direction` and the fuzzy `search`), so
//!   [`MdmProvider::change_tracking`] keeps its default, `Unsupported`, and a refresh lists everything
//!   (about one request per 100 devices). Groups have no delta either.
//! - **An assignment group without a name** is named `Assignment group ID`, so it can still be shown.
//! - **Rate limits:** SimpleMDM documents none but answers 429. The shared client retries a 429 after
//!   `Retry-After`, else `X-RateLimit-Reset` (epoch seconds, or a delay when small) while
//!   `X-RateLimit-Remaining` is 0 or absent, else backoff; a wait beyond the retry budget ends the request
//!   at once. No fixed rate is imposed (SimpleMDM states none): the server's `429`s and `X-RateLimit-*`
//!   headers pace the requests, and the SimpleMDM defaults keep 2 in flight *per account*: all accounts
//!   share SimpleMDM's host, so limits and pacing are keyed by the API key (a hash of it, never the key),
//!   and every provider instance with the same key shares them.
//! - **Errors:** the titles (and details) of `{"errors":[{"title": …}]}` are the message; the status
//!   decides the kind and the R8 category.
#![deny(missing_docs)]

mod client;
mod convert;
mod error;
#[cfg(test)]
mod properties;
mod wire;

use async_trait::async_trait;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::paging::collect_all;
use mdmkit_core::{
    links, ErrorKind, MdmDevice, MdmGroup, MdmProvider, Page, PageRequest, PagingStyle,
    ProviderKind, Result, SerialNumber, Url,
};

pub use mdmkit_core::SimpleMdmConfig;

pub use crate::client::PAGE_SIZE;
use crate::client::{SimpleMdmClient, OPS};

/// A connection to one SimpleMDM account.
///
/// Cheap to share (`Arc<dyn MdmProvider>`); `Debug` shows the endpoint and the user attribute, never the
/// API key.
#[derive(Debug)]
pub struct SimpleMdmProvider {
    client: SimpleMdmClient,
    user_attribute: Option<String>,
}

impl SimpleMdmProvider {
    /// A provider for `config`, with the HTTP `options` (timeouts, retries, limits, host policy).
    ///
    /// No request is sent; call [`MdmProvider::validate`] to test the credentials.
    pub fn new(config: SimpleMdmConfig, options: &ClientOptions) -> Result<Self> {
        // The same checks as the constructors, for a configuration changed after it was built.
        let config = config.validated()?;
        Ok(SimpleMdmProvider {
            client: SimpleMdmClient::new(&config, options)?,
            user_attribute: convert::user_attribute_name(config.user_attribute.as_deref()),
        })
    }

    /// The custom attribute the assigned user is read from, if one is configured.
    pub fn user_attribute(&self) -> Option<&str> {
        self.user_attribute.as_deref()
    }

    /// The API base requests go to (`https://a.simplemdm.com/` unless overridden).
    pub fn base_url(&self) -> &Url {
        self.client.base_url()
    }

    fn to_device(&self, row: wire::Device) -> MdmDevice {
        convert::device(row, self.user_attribute.as_deref())
    }
}

#[async_trait]
impl MdmProvider for SimpleMdmProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::SimpleMdm
    }

    async fn validate(&self) -> Result<()> {
        let probe = PageRequest::Cursor {
            after: None,
            limit: 1,
        };
        match self.client.account().await {
            Ok(account) => {
                tracing::debug!(account = account.name(), "SimpleMDM key accepted");
            }
            // A key may be restricted per permission domain: without the account domain it can still
            // do all mdmkit needs, so the device read decides.
            Err(e) if e.kind() == ErrorKind::Forbidden => {
                tracing::debug!(error = %e, "SimpleMDM key may not read the account; probing devices");
            }
            Err(e) => return Err(e),
        }
        self.client
            .devices_page(None, &probe, OPS.validate)
            .await
            .map(drop)
    }

    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        let rows = collect_all(
            self.client.pager(),
            |row: &wire::Device| Some(row.id.as_str()),
            |request| async move {
                self.client
                    .devices_page(Some(serial.as_str()), &request, OPS.device_by_serial)
                    .await
            },
        )
        .await
        .map_err(OPS.device_by_serial.tagger())?;
        // `search` is fuzzy (name, UDID, serial, IMEI, MAC, phone): keep exact serial matches only.
        Ok(serial
            .exact_matches(rows, |row| row.attributes.serial_number.as_deref())
            .map(|row| self.to_device(row))
            .collect())
    }

    fn device_paging(&self) -> PagingStyle {
        PagingStyle::Cursor { limit: PAGE_SIZE }
    }

    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        let page = self
            .client
            .devices_page(None, request, OPS.list_devices)
            .await?;
        Ok(page.map(|row| self.to_device(row)))
    }

    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        let rows = collect_all(
            self.client.pager(),
            |group: &wire::AssignmentGroup| Some(group.id.as_str()),
            |request| async move { self.client.assignment_groups_page(&request).await },
        )
        .await
        .map_err(OPS.groups.tagger())?;
        Ok(rows.into_iter().map(convert::group).collect())
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        links::simplemdm_device(self.client.base_url(), device_id)
    }

    fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        use mdmkit_core::RequestCosts;
        RequestCosts::PAGES_CARRY_EVERYTHING
    }
}
