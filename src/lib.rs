//! # mdmkit
//!
//! Connect a Rust backend to MDM providers: Jamf, Iru (formerly Kandji), SimpleMDM, Fleet, JumpCloud and
//! Microsoft Intune. This facade is the one crate a backend adds. It re-exports [`mdmkit_core`] (the
//! provider trait, normalised devices and groups, errors, configurations, deep links and HTTP machinery),
//! the provider crates behind one feature each, and [`build_provider`], which builds any provider from its
//! configuration. With the `sync` feature it also re-exports [`mdmkit_sync`] as [`sync`] (validate before
//! save, encrypted credentials, throttled refresh, group sync, scheduler) and supplies its real provider
//! factory, [`provider_factory`]. Every feature is on by default; `default-features = false` and a list of
//! provider features builds only what is named. The product rules cited by number (R1–R12) are
//! summarised in [`mdmkit_core`'s docs](mdmkit_core#product-rules).
//!
//! One provider, no storage:
//!
//! ```no_run
//! # async fn demo() -> mdmkit::Result<()> {
//! use mdmkit::http::ClientOptions;
//! use mdmkit::{build_provider, FleetConfig, MdmProviderExt, ProviderConfig, SerialNumber};
//!
//! let config = ProviderConfig::Fleet(FleetConfig::new("fleet.example.com", "api-token")?);
//! let provider = build_provider(config, &ClientOptions::default())?; // no I/O yet
//! provider.validate().await?; // the test call of R8
//! let serial = SerialNumber::parse("C02ZC2QYLVDL")?;
//! if let Some(device) = provider.device_by_serial(&serial).await? {
//!     println!("{:?} -> {:?}", device.display_name, provider.device_link(&device.device_id));
//! }
//! # Ok(()) }
//! ```
//!
//! The product behaviour, with the real factory (here against the in-process sandbox MDM of
//! `mdmkit-sandbox`, whose loopback address needs [`http::ClientOptions::for_local_testing`]):
//!
//! ```
//! use std::sync::Arc;
//! use mdmkit::sync::{MdmSync, Plan, Stores, SystemClock, Vault, WorkspaceId};
//! use mdmkit::{ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::start(SandboxConfig { devices: 3, ..SandboxConfig::default() }).await?;
//! let factory = mdmkit::provider_factory(sandbox.client_options()); // production: ClientOptions::default()
//! let vault = Vault::new("2026-01", &*Vault::generate_key()?)?;    // production: Vault::from_env("MDMKIT_KEYS")
//! let sync = MdmSync::new(factory, vault, Stores::memory(), Arc::new(SystemClock));
//!
//! let ws = WorkspaceId::new("acme");
//! sync.set_plan(&ws, Plan::Pro).await?;
//! let serial = &sandbox.expected_devices(ProviderKind::Fleet)[0].serial_number;
//! sync.add_device(&ws, &SerialNumber::parse(serial)?).await?;
//! sync.connect(&ws, sandbox.config(ProviderKind::Fleet, Access::Full)).await?; // validates, then saves
//! let view = &sync.devices(&ws).await?[0];
//! assert!(view.display_name.is_some());
//! assert_eq!(view.link.as_ref().unwrap().label, "View on Fleet");
//! # Ok(()) }
//! ```
//!
//! Offline, against the `mdmkit-sandbox` crate (a local server that speaks all six APIs), the same
//! calls run for every provider; this example is a doc test:
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit::{build_provider, MdmProviderExt, ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! for kind in ProviderKind::ALL {
//!     let provider = build_provider(sandbox.config(kind, Access::Full), &sandbox.client_options())?;
//!     provider.validate().await?;
//!     let expected = &sandbox.expected_devices(kind)[0];
//!     let device = provider
//!         .device_by_serial(&SerialNumber::parse(&expected.serial_number)?)
//!         .await?
//!         .expect("the sandbox has it");
//!     assert_eq!(device.display_name.as_deref(), Some(expected.display_name.as_str()));
//!     let url = provider.device_url(&device.device_id).expect("every provider links");
//!     assert!(url.as_str().contains(&device.device_id), "{} {url}", kind.link_label());
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

use std::sync::Arc;

pub use mdmkit_core::*;

/// `mdmkit-sync`: the engine ([`sync::MdmSync`]), its stores, vault and scheduler.
#[cfg(feature = "sync")]
pub use mdmkit_sync as sync;

#[cfg(feature = "fleet")]
pub use mdmkit_fleet as fleet;
#[cfg(feature = "intune")]
pub use mdmkit_intune as intune;
#[cfg(feature = "iru")]
pub use mdmkit_iru as iru;
#[cfg(feature = "jamf")]
pub use mdmkit_jamf as jamf;
#[cfg(feature = "jumpcloud")]
pub use mdmkit_jumpcloud as jumpcloud;
#[cfg(feature = "simplemdm")]
pub use mdmkit_simplemdm as simplemdm;

/// What code using mdmkit needs in scope, in one import: `use mdmkit::prelude::*;`.
///
/// Besides the provider trait and the types calls take or return, it brings what the public API uses
/// from other crates, so a backend need not add them itself: `futures`' `StreamExt` and `TryStreamExt`
/// (to read `MdmProviderExt::device_stream`) and `chrono`'s `DateTime`, `Utc` and `TimeDelta` (every
/// timestamp). The whole crates are `mdmkit::futures` and `mdmkit::chrono`, the same versions mdmkit
/// uses. With the `sync` feature the prelude adds the engine's everyday types. It leaves `Result` and
/// `Error` out, so they do not shadow the standard ones: write `mdmkit::Result`.
///
/// ```
/// use mdmkit::prelude::*;
///
/// /// The first `n` devices of any provider, and how long ago the listing started.
/// async fn first_devices(
///     provider: &dyn MdmProvider,
///     n: usize,
/// ) -> mdmkit::Result<(Vec<MdmDevice>, TimeDelta)> {
///     let started: DateTime<Utc> = Utc::now();
///     let devices: Vec<MdmDevice> = provider.device_stream().take(n).try_collect().await?;
///     Ok((devices, Utc::now() - started))
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sandbox = mdmkit_sandbox::Sandbox::start(mdmkit_sandbox::SandboxConfig { devices: 5, ..Default::default() }).await?;
/// # let config = sandbox.config(ProviderKind::Fleet, mdmkit_sandbox::Access::Full);
/// # let provider = build_provider(config, &sandbox.client_options())?;
/// let (devices, _took) = first_devices(&*provider, 3).await?;
/// assert_eq!(devices.len(), 3);
///
/// // The whole crates, for what the prelude leaves out:
/// let epoch: DateTime<Utc> = mdmkit::chrono::DateTime::UNIX_EPOCH;
/// let none: Vec<MdmDevice> = mdmkit::futures::stream::empty().collect().await;
/// assert!(none.is_empty() && epoch.timestamp() == 0);
/// # Ok(()) }
/// ```
pub mod prelude {
    pub use mdmkit_core::chrono::{DateTime, TimeDelta, Utc};
    pub use mdmkit_core::futures::{Stream, StreamExt, TryStreamExt};
    pub use mdmkit_core::http::ClientOptions;
    pub use mdmkit_core::{
        DeviceLink, ErrorKind, MdmDevice, MdmGroup, MdmProvider, MdmProviderExt, ProviderConfig,
        ProviderKind, SerialNumber,
    };

    pub use crate::build_provider;
    #[cfg(feature = "sync")]
    pub use crate::provider_factory;
    #[cfg(feature = "sync")]
    pub use mdmkit_sync::{
        DeviceView, MdmSync, Plan, RefreshOutcome, Stores, SystemClock, Vault, WorkspaceId,
    };
}

/// The README's Rust examples, compiled (and run unless marked `no_run`) as doc tests, so they cannot
/// drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Each crate's own README (what crates.io shows for it), compiled the same way.
#[cfg(doctest)]
mod crate_readme_doctests {
    #[doc = include_str!("../crates/mdmkit-core/README.md")]
    struct Core;
    #[doc = include_str!("../crates/mdmkit-jamf/README.md")]
    struct Jamf;
    #[doc = include_str!("../crates/mdmkit-iru/README.md")]
    struct Iru;
    #[doc = include_str!("../crates/mdmkit-simplemdm/README.md")]
    struct SimpleMdm;
    #[doc = include_str!("../crates/mdmkit-fleet/README.md")]
    struct Fleet;
    #[doc = include_str!("../crates/mdmkit-jumpcloud/README.md")]
    struct JumpCloud;
    #[doc = include_str!("../crates/mdmkit-intune/README.md")]
    struct Intune;
    #[doc = include_str!("../crates/mdmkit-sync/README.md")]
    struct Sync;
    #[doc = include_str!("../crates/mdmkit-sqlx/README.md")]
    struct Sqlx;
    #[doc = include_str!("../crates/mdmkit-sandbox/README.md")]
    struct Sandbox;
}

/// Builds the provider a configuration names, ready to use as `Arc<dyn MdmProvider>`.
///
/// Building does no I/O; call [`MdmProvider::validate`] for the test call. (`mdmkit-sync`'s
/// `MdmSync::connect` is the other step: it validates and then saves.) A provider whose feature is off
/// gives an [`ErrorKind::InvalidConfiguration`] error.
pub fn build_provider(
    config: ProviderConfig,
    options: &http::ClientOptions,
) -> Result<Arc<dyn MdmProvider>> {
    let kind = config.kind();
    let provider: Arc<dyn MdmProvider> = match config {
        #[cfg(feature = "jamf")]
        ProviderConfig::Jamf(c) => Arc::new(jamf::JamfProvider::new(c, options)?),
        #[cfg(feature = "iru")]
        ProviderConfig::Iru(c) => Arc::new(iru::IruProvider::new(c, options)?),
        #[cfg(feature = "simplemdm")]
        ProviderConfig::SimpleMdm(c) => Arc::new(simplemdm::SimpleMdmProvider::new(c, options)?),
        #[cfg(feature = "fleet")]
        ProviderConfig::Fleet(c) => Arc::new(fleet::FleetProvider::new(c, options)?),
        #[cfg(feature = "jumpcloud")]
        ProviderConfig::JumpCloud(c) => Arc::new(jumpcloud::JumpCloudProvider::new(c, options)?),
        #[cfg(feature = "intune")]
        ProviderConfig::Intune(c) => Arc::new(intune::IntuneProvider::new(c, options)?),
        #[allow(unreachable_patterns)]
        _ => {
            return Err(Error::config(format!(
                "this build of mdmkit has no {} support (enable the `{}` feature)",
                kind.display_name(),
                kind.id()
            )))
        }
    };
    Ok(provider)
}

/// The real provider factory of `mdmkit-sync`: builds each provider with [`build_provider`] and the same
/// [`http::ClientOptions`]. Use it through [`provider_factory`].
#[cfg(feature = "sync")]
#[derive(Debug, Clone)]
pub struct DefaultProviderFactory {
    options: http::ClientOptions,
}

#[cfg(feature = "sync")]
impl DefaultProviderFactory {
    /// A factory whose providers use `options` (`ClientOptions::default()` in production).
    pub fn new(options: http::ClientOptions) -> Self {
        DefaultProviderFactory { options }
    }
}

#[cfg(feature = "sync")]
impl sync::ProviderFactory for DefaultProviderFactory {
    fn build(&self, config: &ProviderConfig) -> Result<Arc<dyn MdmProvider>> {
        build_provider(config.clone(), &self.options)
    }
}

/// The factory [`sync::MdmSync::new`] takes, building real providers with `options`.
#[cfg(feature = "sync")]
pub fn provider_factory(options: http::ClientOptions) -> Arc<dyn sync::ProviderFactory> {
    Arc::new(DefaultProviderFactory::new(options))
}
