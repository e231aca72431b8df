//! The on-disk store: the chunk format and chunk files (cell-major CSR, gene-major CSC), the
//! manifest and its atomic staging, per-cell result files, temporary spill files, the one
//! ingest writer every reader feeds, streaming passes over the chunks, and reads of
//! sub-matrices. See inst/FORMAT.md for the bytes.
//!
//! This file: an opened store (manifest plus both chunk files, and reads of sub-matrices through the
//! layout that suits the request: cell subsets from CSR, gene subsets from CSC).

pub mod cellfile;
pub mod chunk;
pub mod chunkfile;
pub mod ingest;
pub mod lock;
pub mod manifest;
pub mod norm;
pub mod scan;
pub(crate) mod spill;

use crate::error::{Error, Result};
use crate::store::chunk::Chunk;
use crate::store::chunkfile::{Axis, ChunkReader, ReadBuffers};
use crate::store::manifest::{Manifest, CELLS_FILE, GENES_FILE};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Raw,
    Norm,
}

/// A genes x cells matrix in compressed-column form (R's dgCMatrix layout, 0-based).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseColumns {
    pub n_rows: usize,
    pub n_cols: usize,
    pub col_ptr: Vec<usize>,
    pub row: Vec<u32>,
    pub value: Vec<f64>,
}

pub struct Store {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub cells: ChunkReader,
    pub genes: ChunkReader,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        let manifest = Manifest::read(path)?;
        let cells = ChunkReader::open(&path.join(CELLS_FILE))?;
        let genes = ChunkReader::open(&path.join(GENES_FILE))?;
        let consistent = cells.axis() == Axis::Cells
            && genes.axis() == Axis::Genes
            && cells.n_major() as u64 == manifest.n_cells
            && genes.n_major() as u64 == manifest.n_genes
            && cells.n_minor() as u64 == manifest.n_genes
            && genes.n_minor() as u64 == manifest.n_cells
            && cells.nnz() == manifest.nnz
            && genes.nnz() == manifest.nnz;
        for (file, name) in [(&cells, CELLS_FILE), (&genes, GENES_FILE)] {
            if file.store_tag() != manifest.tag() {
                return Err(Error::Corrupt(format!(
                    "{name} of store '{}' belongs to another store (its files were mixed); ingest the \
                        input again",
                    path.display()
                )));
            }
        }
        if !consistent {
            return Err(Error::Corrupt(format!(
                "store '{}' is inconsistent: its chunk files disagree with its manifest",
                path.display()
            )));
        }
        Ok(Store {
            path: path.to_path_buf(),
            manifest,
            cells,
            genes,
        })
    }

    /// What a per-cell result file of this store must match to be read.
    pub fn expect<'a>(&self, name: &'a str, rerun: &'a str) -> cellfile::Expect<'a> {
        cellfile::Expect {
            name,
            store_tag: self.manifest.tag(),
            n_cells: self.manifest.n_cells,
            rerun,
        }
    }

    /// Names and sizes in bytes of the files in the store directory.
    pub fn files(&self) -> Result<Vec<(String, u64)>> {
        let entries = std::fs::read_dir(&self.path)
            .map_err(|e| Error::io(format!("cannot list '{}'", self.path.display()), e))?;
        Ok(entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                Some((
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().ok()?.len(),
                ))
            })
            .collect())
    }

    pub fn n_cells(&self) -> usize {
        self.manifest.n_cells as usize
    }
    pub fn n_genes(&self) -> usize {
        self.manifest.n_genes as usize
    }

    /// Rows `genes`, columns `cells` (0-based, each without repeats, in the order given).
    pub fn submatrix(&self, cells: &[u32], genes: &[u32], layer: Layer) -> Result<SparseColumns> {
        let cell_slot = slots(cells, self.n_cells(), "cell")?;
        let gene_slot = slots(genes, self.n_genes(), "gene")?;
        let via_cells: u64 = cells.iter().map(|&c| self.cells.nnz_of(c as usize) as u64).sum();
        let via_genes: u64 = genes.iter().map(|&g| self.genes.nnz_of(g as usize) as u64).sum();
        if via_cells <= via_genes {
            self.by_cells(cells, &gene_slot, genes.len(), layer)
        } else {
            self.by_genes(genes, &cell_slot, cells.len(), layer)
        }
    }

    fn by_cells(
        &self,
        cells: &[u32],
        gene_slot: &[u32],
        n_rows: usize,
        layer: Layer,
    ) -> Result<SparseColumns> {
        let columns: Vec<Vec<(u32, f64)>> = cells
            .par_iter()
            .map_init(
                || (ReadBuffers::default(), Chunk::default()),
                |(buf, chunk), &c| {
                    self.cells.read_into(c as usize, buf, chunk)?;
                    let mut col: Vec<(u32, f64)> = (0..chunk.nnz())
                        .filter_map(|k| {
                            let slot = gene_slot[chunk.indices[k] as usize];
                            (slot != u32::MAX).then(|| (slot, value(chunk, k, layer)))
                        })
                        .collect();
                    col.sort_unstable_by_key(|e| e.0);
                    Ok(col)
                },
            )
            .collect::<Result<_>>()?;
        let mut m = SparseColumns {
            n_rows,
            n_cols: cells.len(),
            col_ptr: vec![0],
            ..Default::default()
        };
        for col in columns {
            for (r, v) in col {
                m.row.push(r);
                m.value.push(v);
            }
            m.col_ptr.push(m.row.len());
        }
        Ok(m)
    }

    fn by_genes(
        &self,
        genes: &[u32],
        cell_slot: &[u32],
        n_cols: usize,
        layer: Layer,
    ) -> Result<SparseColumns> {
        let rows: Vec<Vec<(u32, f64)>> = genes
            .par_iter()
            .map_init(
                || (ReadBuffers::default(), Chunk::default()),
                |(buf, chunk), &g| {
                    self.genes.read_into(g as usize, buf, chunk)?;
                    Ok((0..chunk.nnz())
                        .filter_map(|k| {
                            let slot = cell_slot[chunk.indices[k] as usize];
                            (slot != u32::MAX).then(|| (slot, value(chunk, k, layer)))
                        })
                        .collect())
                },
            )
            .collect::<Result<_>>()?;
        let mut col_ptr = vec![0usize; n_cols + 1];
        rows.iter()
            .flatten()
            .for_each(|&(c, _)| col_ptr[c as usize + 1] += 1);
        for i in 0..n_cols {
            col_ptr[i + 1] += col_ptr[i];
        }
        let nnz = col_ptr[n_cols];
        let (mut row, mut val) = (vec![0u32; nnz], vec![0f64; nnz]);
        let mut fill = col_ptr.clone();
        // Genes are visited in output-row order, so rows end up ascending within each column.
        for (r, entries) in rows.iter().enumerate() {
            for &(c, v) in entries {
                let at = &mut fill[c as usize];
                row[*at] = r as u32;
                val[*at] = v;
                *at += 1;
            }
        }
        Ok(SparseColumns {
            n_rows: genes.len(),
            n_cols,
            col_ptr,
            row,
            value: val,
        })
    }

    /// Dense values of a few genes over all cells (one CSC chunk each).
    pub fn gene_values(&self, genes: &[u32], layer: Layer) -> Result<Vec<Vec<f64>>> {
        slots(genes, self.n_genes(), "gene")?;
        genes
            .par_iter()
            .map(|&g| {
                let chunk = self.genes.read(g as usize)?;
                let mut dense = vec![0f64; self.n_cells()];
                (0..chunk.nnz()).for_each(|k| dense[chunk.indices[k] as usize] = value(&chunk, k, layer));
                Ok(dense)
            })
            .collect()
    }
}

fn value(chunk: &Chunk, k: usize, layer: Layer) -> f64 {
    match layer {
        Layer::Raw => chunk.counts[k] as f64,
        Layer::Norm => chunk.norm[k].to_f64(),
    }
}

/// Maps each index to its position in `wanted` (u32::MAX where absent); rejects repeats and
/// out-of-range indices.
fn slots(wanted: &[u32], n: usize, what: &str) -> Result<Vec<u32>> {
    let mut slot = vec![u32::MAX; n];
    for (k, &i) in wanted.iter().enumerate() {
        let s = slot.get_mut(i as usize).ok_or_else(|| {
            Error::Request(format!(
                "{what} index {} is out of range (the store has {n} {what}s)",
                i as u64 + 1
            ))
        })?;
        if *s != u32::MAX {
            return Err(Error::Request(format!(
                "{what} {} is requested twice",
                i as u64 + 1
            )));
        }
        *s = k as u32;
    }
    Ok(slot)
}
