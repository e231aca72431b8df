//! cellstream's engine: the on-disk store (chunk files, manifest), ingest from 10x MTX,
//! sub-matrix reads, and a count simulator. No R and no DuckDB in here.

pub mod chunk;
pub mod chunkfile;
pub mod error;
pub mod ingest;
pub mod manifest;
pub mod mtx;
pub mod norm;
pub mod simulate;
pub mod source;
mod spill;
pub mod store;
#[cfg(test)]
mod testdir;
mod textio;

pub use error::{Error, Result};
