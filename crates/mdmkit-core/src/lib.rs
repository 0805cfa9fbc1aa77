//! # mdmkit-core
//!
//! The contract every mdmkit provider crate implements, and the machinery they share:
//!
//! - [`MdmProvider`], small and object-safe (`Arc<dyn MdmProvider>`), with conveniences in
//!   [`MdmProviderExt`];
//! - the normalised [`MdmDevice`] (serial number, MDM device ID, MDM user ID, MDM display name) and
//!   [`MdmGroup`], with [`SerialNumber`] normalisation and the display-name rule [`display_name`];
//! - one [`Error`] with an [`ErrorKind`] for code and a user-facing [`Category`] (the six of R8);
//! - [`ProviderKind`] (display names, credential fields, fixed endpoints) and typed
//!   [`ProviderConfig`]s, validated however they are built, whose `Debug` and default `Serialize` never
//!   show a secret;
//! - deep links ([`links`]), the paging engine ([`paging`], which stops servers that repeat pages or
//!   overrun their own totals) and the HTTP client ([`http`]) with retries, limits per MDM server, the
//!   OAuth token cache and the host policy;
//! - the optional capabilities behind incremental refresh: listing only changed devices ([`changes`]),
//!   follow-up reads a listing can leave to a caller with a cache ([`resolution`]), and reading groups
//!   by delta ([`group_delta`]).
//!
//! # How a provider crate is laid out
//!
//! Each of the six provider crates (`mdmkit-jamf`, `mdmkit-iru`, `mdmkit-simplemdm`, `mdmkit-fleet`,
//! `mdmkit-jumpcloud`, `mdmkit-intune`) has the same modules, so a seventh can copy the shape:
//!
//! | module | holds |
//! |---|---|
//! | `lib.rs` | the crate docs (a table of the requests each operation makes, the provider's quirks), the `…Provider` struct and its [`MdmProvider`] impl, the re-exported config |
//! | `client` | the `…Client` struct over one [`http::HttpClient`]: paths, query parameters, one method per request, each reading its [`PageRequest`] with the helper of its paging style ([`PageRequest::page_number`], [`offset`](PageRequest::offset), [`cursor`](PageRequest::cursor), [`next_link`](PageRequest::next_link)); the public `PAGE_SIZE` (rows asked for per page of the device listing; Intune has none, as Graph sizes the pages of its managed-device listing itself) |
//! | `wire` | serde types exactly as the API sends them, lenient where the vendor is (with the shared helpers of [`wire`]) |
//! | `convert` | wire types to [`MdmDevice`] and [`MdmGroup`], nothing else |
//! | `error` | `<Provider>ErrorClassifier`, a crate-private [`http::ErrorClassifier`] that turns the vendor's error bodies into an [`ErrorKind`] and a one-line message (tested through [`wire::classify_answer`]) |
//! | `properties` (tests only) | property tests: every parser fed any bytes never panics |
//! | provider-specific | what only that API needs: Jamf `version` (which API generation the server speaks), Intune `auth` and `delta`, Fleet `scim`, Iru and Fleet `changes`, JumpCloud `directory` (the user directory a listing joins, as a compact table) |
//!
//! Shared concerns stay here rather than in each crate: retries, limits and token caching ([`http`]),
//! paging ([`paging`]), path and link encoding ([`http::path_segment`], [`http::plain_id_segment`],
//! [`http::resolve_link`]), deep links ([`links`]), lenient decoding ([`wire`]), and naming the provider
//! and operation on errors raised outside the HTTP client ([`Operation`], one constant per operation),
//! and the exact re-check every serial lookup ends with ([`SerialNumber::exact_matches`]).
//! What every [`MdmProvider`] impl would write alike is a default method of the trait (e.g.
//! [`MdmProvider::request_costs`]) or a helper beside it (e.g. [`filtered_changes_page`] for a changes
//! listing the server filters).
//!
//! # Product rules
//!
//! The crates cite the product rules they keep by number (R1–R12). In short (the full text, with where each
//! rule lives, is `docs/product-rules.md` in the repository):
//!
//! - **R1** six providers and their credentials, shown under exact display names ([`ProviderKind`]);
//! - **R2** fixed endpoints for providers without a host, each still overridable;
//! - **R3** credentials encrypted at rest, keys rotatable, records bound to their workspace; secrets never
//!   in `Debug`, logs, errors or panics;
//! - **R4** devices matched by serial number; stored: MDM device ID, MDM user ID, and a display name that is
//!   the assigned user's name, else the device's ([`display_name`]);
//! - **R5** a device's metadata is refreshed at most once a day;
//! - **R6** the display name is searchable with the serial number;
//! - **R7** a device with an MDM device ID links to its record: "View on &lt;provider&gt;" ([`links`]);
//! - **R8** saving credentials runs a test call first; a failure saves nothing and reads as one of six
//!   [`Category`]s: Unauthorized, Forbidden, Not found, Connection failed, SSL error, Server error;
//! - **R9** a changed connection clears every device's metadata and fetches it again;
//! - **R10** group sync (Pro and Enterprise plans): every six hours, on request at most every fifteen
//!   minutes, at once when the provider is set or changed, one at a time per workspace;
//! - **R11** what a group is per provider: Jamf computer groups, Iru tags, SimpleMDM assignment groups,
//!   Fleet labels, JumpCloud system groups, Intune (Entra ID) security groups;
//! - **R12** each sync reconciles the whole group list: new groups are created as "Managed by
//!   &lt;provider&gt;", names and members follow the MDM (members by MDM device ID), and a group gone
//!   from the MDM is detached, not deleted.
//!
//! ```
//! use mdmkit_core::{display_name, ErrorKind, ProviderKind, SerialNumber};
//!
//! let serial = SerialNumber::parse(" c02zc2qylvdl ").unwrap();
//! assert_eq!(serial.as_str(), "C02ZC2QYLVDL");
//! assert!(SerialNumber::parse("To Be Filled By O.E.M.").is_err());
//! assert_eq!(display_name(None, Some("Ada's MacBook")).as_deref(), Some("Ada's MacBook"));
//! assert_eq!(ProviderKind::Iru.display_name(), "Iru (formerly Kandji)");
//! assert_eq!(ErrorKind::Timeout.category().name(), "Connection failed");
//! ```
#![deny(missing_docs)]

pub mod arena;
pub mod changes;
pub mod config;
pub mod device;
pub mod error;
pub mod group_delta;
pub mod http;
pub mod kind;
pub mod links;
pub mod paging;
pub mod provider;
pub mod resolution;
pub mod wire;

pub use changes::{
    ChangeCursor, ChangeListing, ChangeTracking, ChangedDevices, ChangesPage, Coverage,
    NumberedPosition,
};
pub use config::{
    parse_base_url, ExposedSecrets, FleetConfig, IntuneConfig, IruConfig, JamfConfig,
    JumpCloudConfig, ProviderConfig, SimpleMdmConfig,
};
pub use device::{display_name, MdmDevice, MdmGroup, SerialNumber};
pub use error::{Category, Error, ErrorKind, Operation, ProviderOperations, Result};
pub use group_delta::{GroupDelta, GroupDeltaKind, GroupDeltaToken};
pub use kind::{CredentialField, IntuneCloud, JumpCloudRegion, ProviderKind};
pub use links::DeviceLink;
pub use paging::{Page, PageInfo, PageRequest, Pager, PagingStyle};
pub use provider::{
    device_page_stream, device_page_stream_in_task, device_stream_with, device_stream_with_limit,
    filtered_changes_page, ChangesRequest, MdmProvider, MdmProviderExt, RequestCosts,
};
pub use resolution::{DeviceUser, Resolution, ResolvedUserName, Unresolved, UserRef};

/// Re-exported so provider crates and embedders use the same versions: `chrono` for every timestamp,
/// `futures` for the stream of [`MdmProviderExt::device_stream`].
pub use async_trait::async_trait;
pub use chrono;
pub use futures;
pub use secrecy::{self, ExposeSecret, SecretString};
pub use url::{self, Url};
