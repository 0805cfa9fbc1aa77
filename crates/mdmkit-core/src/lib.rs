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

pub use changes::{
    ChangeCursor, ChangeListing, ChangeTracking, ChangedDevices, ChangesPage, Coverage,
    NumberedPosition,
};
pub use config::{
    parse_base_url, ExposedSecrets, FleetConfig, IntuneConfig, IruConfig, JamfConfig,
    JumpCloudConfig, ProviderConfig, SimpleMdmConfig,
};
pub use device::{display_name, MdmDevice, MdmGroup, SerialNumber};
pub use error::{Category, Error, ErrorKind, Result};
pub use group_delta::{GroupDelta, GroupDeltaKind, GroupDeltaToken};
pub use kind::{CredentialField, IntuneCloud, JumpCloudRegion, ProviderKind};
pub use paging::{Page, PageInfo, PageRequest, Pager, PagingStyle};
pub use provider::{
    device_stream_with, device_stream_with_limit, MdmProvider, MdmProviderExt, RequestCosts,
};
pub use resolution::{DeviceUser, Resolution, ResolvedUserName, Unresolved, UserRef};

/// Re-exported so provider crates and embedders use the same versions.
pub use async_trait::async_trait;
pub use chrono;
pub use secrecy::{self, ExposeSecret, SecretString};
pub use url::{self, Url};
