//! # mdmkit
//!
//! Connect a Rust backend to MDM providers: Jamf, Iru (formerly Kandji), SimpleMDM, Fleet, JumpCloud and
//! Microsoft Intune. This facade re-exports [`mdmkit_core`] and, behind one feature each (all on by
//! default), the provider crates.
#![deny(missing_docs)]

pub use mdmkit_core::*;
