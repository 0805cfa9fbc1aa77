//! mdmkit provider for Jamf (work in progress).
#![deny(missing_docs)]
