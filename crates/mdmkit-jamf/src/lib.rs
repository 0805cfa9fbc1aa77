//! # mdmkit-jamf
//!
//! The Jamf Pro provider for mdmkit: computers (serial lookups and the bulk listing), their assigned
//! users, computer groups with their members, and console links, over the Jamf Pro API (plus the Classic
//! API where the Jamf Pro API has no equivalent).
//!
//! ```no_run
//! use mdmkit_core::http::ClientOptions;
//! use mdmkit_core::{JamfConfig, MdmProvider, MdmProviderExt, SerialNumber};
//! use mdmkit_jamf::JamfProvider;
//!
//! # async fn run() -> mdmkit_core::Result<()> {
//! let config = JamfConfig::new("https://acme.jamfcloud.com", "client-id", "client-secret")?;
//! let jamf = JamfProvider::new(config, &ClientOptions::default())?;
//! jamf.validate().await?; // R8: before the credentials are saved
//! if let Some(mac) = jamf.device_by_serial(&SerialNumber::parse("C02ZC2QYLVDL")?).await? {
//!     println!("{} -> {:?}", mac.device_id, jamf.device_url(&mac.device_id));
//! }
//! let everything = jamf.all_devices().await?; // 2000 computers a request
//! let groups = jamf.groups().await?;
//! # let _ = (everything, groups);
//! # Ok(())
//! # }
//! ```
//!
//! The same calls run offline against `mdmkit-sandbox`, a local server that speaks the Jamf Pro API
//! (this example is a doc test):
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//! use mdmkit_jamf::JamfProvider;
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let kind = ProviderKind::Jamf;
//! let ProviderConfig::Jamf(config) = sandbox.config(kind, Access::Full) else {
//!     unreachable!("the sandbox hands out a Jamf configuration for Jamf")
//! };
//! let jamf = JamfProvider::new(config, &sandbox.client_options())?;
//! jamf.validate().await?;
//!
//! let expected = sandbox.expected_devices(kind);
//! let serial = SerialNumber::parse(&expected[0].serial_number)?;
//! let device = jamf.device_by_serial(&serial).await?.expect("the sandbox has it");
//! assert_eq!(device.device_id, expected[0].device_id);
//! assert_eq!(device.user_id, expected[0].user_id);
//! assert_eq!(device.display_name.as_deref(), Some(expected[0].display_name.as_str()));
//! assert!(jamf.device_url(&device.device_id).is_some());
//! assert_eq!(jamf.all_devices().await?.len(), expected.len());
//! assert_eq!(jamf.groups().await?.len(), sandbox.expected_groups(kind).len());
//!
//! // Wrong credentials are refused by the test call, with the category a person sees.
//! let ProviderConfig::Jamf(wrong) = sandbox.config(kind, Access::WrongSecret) else {
//!     unreachable!()
//! };
//! let refused = JamfProvider::new(wrong, &sandbox.client_options())?.validate().await.unwrap_err();
//! assert_eq!(refused.kind(), ErrorKind::Unauthorized);
//! # Ok(()) }
//! ```
//!
//! ## How it talks to Jamf Pro
//!
//! | What | Request |
//! |---|---|
//! | Token | `POST /api/v1/oauth/token` (form fields `grant_type`, `client_id`, `client_secret`), `/api/oauth/token` if that is 404; cached, renewed before `expires_in` runs out and once after a 401 |
//! | Validate | a token, `GET /api/v1/jamf-pro-version`, then one inventory row (`page-size=1`), which needs "Read Computers" |
//! | Serial lookup | `GET /api/vN/computers-inventory?section=GENERAL&section=HARDWARE&section=USER_AND_LOCATION&filter=hardware.serialNumber=="…"&sort=id:asc`, then an exact match here |
//! | Bulk listing | the same collection with `page`/`page-size=2000`, ended by `totalCount`; the pages after the first read together, at the client's concurrency ([`MdmProvider::device_pages_at_once`]) |
//! | Changed since T | the same with `filter=general.reportDate>="T"` (RSQL, `T` in RFC 3339 with milliseconds) |
//! | Users | `GET /api/v1/users` (1000 a page) once per listing, its first page alongside the listing's first computers (a fleet without users spends that one request); `filter=username=="…"` for lookups |
//! | Groups | `GET /api/v1/computer-groups`; smart members from `/api/v{3,2}/computer-groups/smart-group-membership/{id}`; static members from Classic `/JSSResource/computergroups/id/{id}` or one `GROUP_MEMBERSHIPS` inventory pass |
//! | Link | `https://HOST/computers.html?id=ID&o=r` |
//!
//! Requests go through [`mdmkit_core::http::HttpClient`], which keeps at most 5 in flight per server,
//! across every provider instance for it and token requests included (Jamf's own guidance), retries 5xx and connection failures, and maps statuses to error kinds. The
//! `JamfErrorClassifier` puts the `ApiError` codes (`INVALID_TOKEN`, `INVALID_PRIVILEGE`, …) into the
//! messages.
//!
//! ## Decisions where the documentation leaves room
//!
//! - **Endpoint versions.** The server version (`11.30.1-t…`, only `major.minor.patch` read) picks the
//!   newest collection it has: computers inventory v4 from 11.30, else v3, else v1; smart-group
//!   membership v3 from 11.28, else v2, else the Classic group record. Each candidate that answers 404
//!   moves on to the next (so an unreadable version still works), and the one that answered is kept. A
//!   kept inventory version that later answers 404 (the server was upgraded) is chosen again, and
//!   whether the server has the user API is learnt again too. A kept membership endpoint that answers
//!   404 for every smart group has the version read again and is chosen again in the same read; only
//!   when no candidate answers is the read an error (never groups emptied).
//! - **Computers only.** Groups are computer groups (R11), so the listing is of computers; mobile devices
//!   are not read.
//! - **Page size.** 2000 rows, Jamf's silent cap. A listing ends when `totalCount` rows have been read (a
//!   server capping pages lower still yields every row, since it caps the offset the same way), or at an
//!   empty page.
//! - **Serial lookups** send the normalised serial (upper case, no inner spaces), quoted for RSQL with `"`
//!   and `\` escaped. Jamf's `==` may match wildcards (`*`) or ignore case, so only exact matches after
//!   normalising both sides are kept. A serial stored with inner spaces (some virtual machines) is found
//!   by the bulk listing, not by a lookup.
//! - **User IDs.** With `/api/v1/users` (Jamf Pro 11.26 and later) the MDM user ID is the user record's
//!   id, looked up by the computer's `userAndLocation.username` (exact match, else the only match
//!   ignoring case). A username without a record gets no user ID (its name still counts for R4). Without
//!   that API (older servers, or a 404) the username is the user ID. A client without the "Read User"
//!   privilege (403) also falls back to usernames, with a warning in the log, rather than failing the
//!   sync: validation does not ask for that privilege.
//! - **Memory of a listing.** A listing holds the pages of computers in flight (2000 rows each; the
//!   first alone, then as many as the client's concurrency, five by default) and the user directory,
//!   which it reads page by page (the first page counts the users; the rest are read at the allowed
//!   concurrency, a few pages held at once) into a compact table (no wire records): about 32 bytes
//!   plus each user's text (username twice, id, real name), some 70 bytes a user, so 7 MB for 100,000
//!   users.
//!   Nothing else held grows with the fleet.
//! - **Display name (R4).** The computer's `userAndLocation.realname`, else the user record's `realname`,
//!   else the username, else the computer's name.
//! - **Changed since T** ([`MdmProvider::list_changed_devices_page`]): computers whose last inventory
//!   report (`general.reportDate`) is at or after T, in id order (a computer that reports while the
//!   listing runs repeats a row rather than pushing one past a page boundary; one deleted meanwhile can
//!   push a row past it, which the next full listing sees). A console-side change (a reassigned user)
//!   does not move `reportDate`, so a full listing must still run now and then. Users are looked up for
//!   the page's usernames (one request per 50) unless a page has more than 200, when the directory is
//!   read.
//! - **Static group members.** The Jamf Pro API cannot list them. With one static group the Classic
//!   record is read; with more, one request learns the computer count and the cheaper of "one Classic
//!   request per group" and "ceil(computers / 2000) inventory pages with `GROUP_MEMBERSHIPS`" is used. A
//!   server that refuses that section (HTTP 400) gets the Classic requests. A group listed without its
//!   `smartGroup` flag is read like a static group (both ways list the members of either kind).
//! - **Groups deleted mid-sync.** A group whose members answer 404 was deleted after the list was read
//!   and is left out. If *every* group of a kind answers 404 the endpoint is missing, and `groups()`
//!   fails with Not found instead of reporting empty groups (a sync would detach them all).
//! - **Token endpoint.** Both token URLs are tried in order on every renewal (the core's
//!   `ClientCredentials`), so servers older than `/api/v1/oauth/token` spend one extra 404 per renewal.
//!   A refused token request (400 or 401 with an RFC 6749 body) is Unauthorized; `invalid_scope` is
//!   Forbidden.
#![deny(missing_docs)]

mod client;
mod convert;
mod error;
#[cfg(test)]
mod properties;
mod version;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    links, ChangeTracking, ChangesPage, ChangesRequest, MdmDevice, MdmGroup, MdmProvider, Page,
    PageRequest, PagingStyle, ProviderKind, Result, SerialNumber, Url,
};

pub use crate::client::PAGE_SIZE;
use crate::client::{JamfClient, OPS};
pub use mdmkit_core::JamfConfig;

pub use crate::version::JamfProVersion;

/// A Jamf Pro server, read through an API client's credentials (API Roles and Clients, Jamf Pro 10.49
/// and later).
///
/// Cheap to share behind an `Arc`; it remembers what it learnt about the server (its version, which
/// endpoint versions answer) for its lifetime. `Debug` never shows the client secret or tokens.
#[derive(Debug)]
pub struct JamfProvider {
    client: JamfClient,
}

impl JamfProvider {
    /// A provider for the server and API client in `config`. Makes no request.
    pub fn new(config: JamfConfig, options: &ClientOptions) -> Result<Self> {
        // The same checks as the constructors, for a configuration changed after it was built.
        JamfClient::new(&config.validated()?, options).map(|client| JamfProvider { client })
    }

    /// The Jamf Pro server's URL, as requests and device links use it.
    pub fn base_url(&self) -> &Url {
        self.client.base_url()
    }
}

#[async_trait]
impl MdmProvider for JamfProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Jamf
    }

    /// Gets a token, reads the version (needs no privilege), then one inventory row: that needs "Read
    /// Computers", so a client without it fails here, at save time, rather than at the first refresh.
    async fn validate(&self) -> Result<()> {
        self.client.sign_in().await?;
        self.client.probe_version(OPS.validate).await?;
        self.client.read_one_computer(OPS.validate).await
    }

    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        self.client.by_serial(serial).await
    }

    fn device_paging(&self) -> PagingStyle {
        PagingStyle::PageNumber {
            first: 0,
            size: PAGE_SIZE,
        }
    }

    /// The pages after the first are independent (the user directory is read once, behind a lock), so
    /// a listing reads them at the client's concurrency.
    fn device_pages_at_once(&self) -> usize {
        self.client.max_concurrency()
    }

    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        self.client.list_page(request).await
    }

    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        self.client.groups().await
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        links::jamf_computer(self.base_url(), device_id)
    }

    fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    // `request_costs` keeps the default: a lookup may read its user's record and a listing reads the
    // user directory (1000 a page), and the two extras roughly cancel.

    fn change_tracking(&self) -> ChangeTracking {
        CHANGE_TRACKING
    }

    /// `general.reportDate>="<since>"` on the computers inventory, 2000 a page, in id order.
    async fn list_changed_devices_page(&self, request: &ChangesRequest) -> Result<ChangesPage> {
        let cursor = request.cursor.as_ref();
        self.client.changed_page(request.since, cursor).await
    }
}

/// Jamf lists changes by the last inventory report.
const CHANGE_TRACKING: ChangeTracking = ChangeTracking::supported(
    "general.reportDate",
    "each inventory report the Jamf binary submits (on the server's inventory schedule, daily by \
     default); check-ins without inventory and changes made in the console (a user reassigned by an \
     administrator) do not move it",
    Duration::from_secs(300),
);
