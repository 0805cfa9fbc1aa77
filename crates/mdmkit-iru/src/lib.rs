//! mdmkit provider for Iru (formerly Kandji) (work in progress).
#![deny(missing_docs)]
