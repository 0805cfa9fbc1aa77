//! mdmkit provider for JumpCloud (work in progress).
#![deny(missing_docs)]
