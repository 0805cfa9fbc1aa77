//! Why a store could not be opened.
//!
//! Messages never quote the database URL: it may hold a password.

/// Opening a store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL names no database this crate knows, or one whose feature is not compiled in.
    #[error("{0}")]
    Config(String),
    /// Connecting to the database failed.
    #[error("could not open the {backend} database")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("database migrations failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    pub(crate) fn connect(backend: &'static str, source: sqlx::Error) -> Error {
        Error::Connect { backend, source }
    }
}
