//! mdmkit provider for Microsoft Intune (work in progress).
#![deny(missing_docs)]
