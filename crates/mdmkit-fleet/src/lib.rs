//! mdmkit provider for Fleet (work in progress).
#![deny(missing_docs)]
