//! One error type for the engine. Every message is meant to be read by a biologist in the R
//! console: it names the file or input and says what is wrong and, where possible, what to do.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input data that cannot be ingested (wrong shape, bad values, missing files).
    #[error("{0}")]
    Input(String),
    /// An input whose entries are not grouped by cell; the ingest then asks the source to
    /// group them (`CellSource::group_by_cell`) and starts again.
    #[error("{0}")]
    NotGroupedByCell(String),
    /// A store that is damaged, incomplete or of another format version.
    #[error("{0}")]
    Corrupt(String),
    /// A request that does not fit the store (index out of range, unknown gene, ...).
    #[error("{0}")]
    Request(String),
    /// The user interrupted a long operation; nothing was left behind.
    #[error("interrupted by the user; nothing was written")]
    Interrupted,
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Adds "while doing X with file F" context to `std::io` results.
pub trait IoContext<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(format!("{what} '{}'", path.display()), e))
    }
}

/// The message a caught panic carried (empty when it carried no text).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
