//! cellstream's engine: pure Rust, no R and no DuckDB. The map of its folders:
//!
//! - `store`: the on-disk store (chunk files, manifest, per-cell result files), the ingest
//!   writer, streaming passes and sub-matrix reads;
//! - `input`: readers of 10x MTX, 10x HDF5 and h5ad, one sample or several combined;
//! - `output`: writers for other tools (h5ad);
//! - `qc`: per-cell quality metrics and outlier calls;
//! - `hvg`: highly variable genes (vst with loess, dispersion);
//! - `pca`: principal components of the scaled values, never densified;
//! - `graph`: kNN, sNN and fuzzy graphs, Leiden clustering;
//! - `grn`: gene regulatory networks from tree ensembles over quantised TF codes;
//! - `umap`: UMAP layouts from a stored kNN;
//! - `harmony`: Harmony integration of an embedding across batches, and LISI;
//! - `gpu`: the wgpu compute path (any vendor; exact kNN), with its CPU fallback chosen by
//!   the caller;
//! - `aggregate`: expression summarised per group of cells, pseudobulk sums;
//! - `markers`: marker genes and differential expression (Wilcoxon, ROC, t), cells as
//!   observations;
//! - `simulate`: simulated 10x data (and a planted regulatory network) for tests, demo and
//!   vignettes;
//! - `frame`: typed obs / var columns; `error`: the one error type; `monitor`: interrupts and
//!   progress of long passes;
//! - `fuzz` (tests only): the fuzz suite, damaged files of every kind cellstream reads.

pub mod aggregate;
pub mod error;
pub mod frame;
#[cfg(test)]
mod fuzz;
pub mod gpu;
pub mod graph;
pub mod grn;
pub mod harmony;
pub mod hvg;
pub mod input;
pub mod markers;
pub mod monitor;
pub mod output;
pub mod pca;
pub mod qc;
pub mod simulate;
pub mod store;
#[cfg(test)]
mod testdir;
pub mod umap;

pub use error::{Error, Result};
