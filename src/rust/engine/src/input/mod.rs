//! Inputs a store is ingested from: 10x MTX, 10x HDF5 and h5ad readers, several samples
//! combined into one, and the [`CellSource`] trait they all implement for the ingest writer
//! (`store::ingest`).
//!
//! This file: what an ingest reader hands the writer, batches of whole cells in increasing cell order.
//! Readers (10x MTX, 10x HDF5, h5ad, and several samples combined) implement [`CellSource`]; one writer
//! (`ingest`) does pre-scan, filtering, normalisation, CSR and CSC for all of them.

pub mod combine;
pub mod h5;
pub mod h5ad;
mod h5ad_frame;
pub mod h5matrix;
mod isolated;
pub mod mtx;
mod regroup;
pub mod tenx_h5;
mod textio;

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::monitor::Monitor;
use std::path::Path;

/// Consecutive cells (by increasing index; cells absent from a batch hold no counts).
/// Within a cell, genes are strictly increasing and counts are > 0.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CellBatch {
    pub cells: Vec<u32>,
    /// `offsets[k]..offsets[k + 1]` are the entries of `cells[k]`.
    pub offsets: Vec<usize>,
    pub genes: Vec<u32>,
    pub counts: Vec<u32>,
}

impl CellBatch {
    pub fn new() -> Self {
        CellBatch {
            offsets: vec![0],
            ..Default::default()
        }
    }
    pub fn push(&mut self, gene: u32, count: u32) {
        self.genes.push(gene);
        self.counts.push(count);
    }
    /// Pushes entries with genes renamed through `map` (`u32::MAX`: dropped).
    pub fn push_mapped(&mut self, genes: &[u32], counts: &[u32], map: &[u32]) {
        for (&g, &c) in genes.iter().zip(counts) {
            if map[g as usize] != u32::MAX {
                self.push(map[g as usize], c);
            }
        }
    }
    /// Closes `cell` with the entries pushed since the previous cell; a cell without entries
    /// is left out.
    pub fn end_cell(&mut self, cell: u32) {
        if self.genes.len() > *self.offsets.last().unwrap_or(&0) {
            self.cells.push(cell);
            self.offsets.push(self.genes.len());
        }
    }
    pub fn len(&self) -> usize {
        self.cells.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    pub fn cell(&self, k: usize) -> (u32, &[u32], &[u32]) {
        let r = self.offsets[k]..self.offsets[k + 1];
        (self.cells[k], &self.genes[r.clone()], &self.counts[r])
    }
}

/// The position of the first value that repeats an earlier one.
pub fn first_repeat(values: &[String]) -> Option<usize> {
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    values.iter().position(|v| !seen.insert(v.as_str()))
}

/// An error naming the first name in `labels` that R and DuckDB cannot hold unaltered: one
/// with a NUL byte (text stops there), or an empty cell or gene id.
pub fn check_names(labels: &Labels, source: &str) -> crate::error::Result<()> {
    let lists = [
        ("cell id", &labels.cell_ids),
        ("gene id", &labels.features.ids),
        ("gene symbol", &labels.features.symbols),
    ];
    for (what, names) in lists {
        if let Some(at) = names.iter().position(|n| n.contains('\0')) {
            return Err(crate::error::Error::Input(format!(
                "{source}: {what} number {} ({:?}) contains a NUL byte, which names cannot hold; fix the \
                    input",
                at + 1,
                names[at].replace('\0', "\\0")
            )));
        }
        if what != "gene symbol" {
            if let Some(at) = names.iter().position(|n| n.is_empty()) {
                return Err(crate::error::Error::Input(format!(
                    "{source}: {what} number {} is empty; every {what} must be a non-empty name",
                    at + 1
                )));
            }
        }
    }
    Ok(())
}

/// Gene annotation as read from the input (ids are unique; symbols may repeat).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Features {
    pub ids: Vec<String>,
    pub symbols: Vec<String>,
    pub types: Vec<String>,
    /// Further per-gene annotation (e.g. h5ad var columns, genome).
    pub extra: Frame,
}

impl Features {
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// What a source knows before its counts are read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Labels {
    /// Unique cell ids, in input order.
    pub cell_ids: Vec<String>,
    pub features: Features,
    /// Per-cell annotation of the input (e.g. h5ad obs columns), one row per cell or none.
    pub obs: Frame,
}

pub trait CellSource {
    /// A short description for messages and the manifest (e.g. the input path).
    fn describe(&self) -> String;
    fn labels(&self) -> &Labels;
    /// What the user should hear about the reading (choices made, values rounded).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// One streaming pass over all non-zeros, in increasing cell order. Called twice by the
    /// ingest (pre-scan, then write); every pass must yield the same data.
    fn pass(&mut self, visit: &mut dyn FnMut(CellBatch) -> Result<()>) -> Result<()>;
    /// Called when a pass failed with [`Error::NotGroupedByCell`]: rearrange the input (in
    /// bounded memory, using `scratch`, a directory to create) so later passes are grouped,
    /// asking `interrupted` between batches.
    fn group_by_cell(&mut self, _scratch: &Path, _monitor: Monitor) -> Result<()> {
        Err(Error::Input(format!(
            "'{}': entries are not grouped by cell",
            self.describe()
        )))
    }
}
