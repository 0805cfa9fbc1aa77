//! mdmkit provider for SimpleMDM (work in progress).
#![deny(missing_docs)]
