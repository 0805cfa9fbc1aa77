//! # mdmkit
//!
//! Connect a Rust backend to MDM providers: Jamf, Iru (formerly Kandji), SimpleMDM, Fleet, JumpCloud and
//! Microsoft Intune. This facade re-exports [`mdmkit_core`] (the provider trait, normalised devices and
//! groups, errors, configurations, deep links and HTTP machinery), the provider crates behind one feature
//! each (all on by default), and [`connect`], which builds any provider from its configuration.
//!
//! ```no_run
//! # async fn demo() -> mdmkit::Result<()> {
//! use mdmkit::http::ClientOptions;
//! use mdmkit::{connect, FleetConfig, MdmProviderExt, ProviderConfig, SerialNumber};
//!
//! let config = ProviderConfig::Fleet(FleetConfig::new("fleet.example.com", "api-token")?);
//! let provider = connect(config, &ClientOptions::default())?;
//! provider.validate().await?; // the test call of R8
//! let serial = SerialNumber::parse("C02ZC2QYLVDL")?;
//! if let Some(device) = provider.device_by_serial(&serial).await? {
//!     println!("{:?} -> {:?}", device.display_name, provider.device_url(&device.device_id));
//! }
//! # Ok(()) }
//! ```
//!
//! Offline, against the `mdmkit-sandbox` crate (a local server that speaks all six APIs), the same
//! calls run for every provider; this example is a doc test:
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit::{connect, MdmProviderExt, ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! for kind in ProviderKind::ALL {
//!     let provider = connect(sandbox.config(kind, Access::Full), &sandbox.client_options())?;
//!     provider.validate().await?;
//!     let expected = &sandbox.expected_devices(kind)[0];
//!     let device = provider
//!         .device_by_serial(&SerialNumber::parse(&expected.serial)?)
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

/// Builds the provider a configuration names, ready to use as `Arc<dyn MdmProvider>`.
///
/// Building does no I/O; call [`MdmProvider::validate`] for the test call. A provider whose feature is
/// off gives an [`ErrorKind::InvalidConfiguration`] error.
pub fn connect(
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
