//! cellstream's engine: the on-disk store (chunk files, manifest), ingest from 10x MTX, 10x
//! HDF5 and h5ad (one or several samples), h5ad export,
//! sub-matrix reads, streaming passes (QC metrics, highly variable genes), and a count
//! simulator. No R and no DuckDB in here.

pub mod cellfile;
pub mod chunk;
pub mod chunkfile;
pub mod combine;
pub mod error;
pub mod frame;
pub mod genestats;
pub mod graph;
pub mod h5;
pub mod h5ad;
mod h5ad_frame;
pub mod h5ad_write;
pub mod h5matrix;
pub mod hvg;
pub mod ingest;
pub mod loess;
pub mod manifest;
pub mod mtx;
pub mod norm;
pub mod outlier;
pub mod pca;
pub mod qc;
mod regroup;
pub mod scan;
pub mod simulate;
pub mod source;
mod spill;
pub mod store;
pub mod umap;
pub mod tenx_h5;
#[cfg(test)]
mod testdir;
mod textio;

pub use error::{Error, Result};
