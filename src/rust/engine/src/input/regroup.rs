//! Grouping non-zeros that arrive in any order (an MTX file not sorted by cell, an h5ad
//! matrix stored gene-major) into whole cells, in bounded memory: one pass writes every entry
//! to the temporary file of its block of cells; each later pass reads the blocks in cell order
//! and groups one block in memory at a time.

use crate::error::{Error, Result};
use crate::input::CellBatch;
use crate::store::spill::{read_block, SpillWriter};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Entries per cell block (~100 MB in memory while a block is grouped).
pub const CELL_BLOCK_ENTRIES: u64 = 8 << 20;
/// Entries per batch handed on from a cell block.
const BATCH_ENTRIES: usize = 1 << 20;

/// Temporary files of (cell, gene, count) records, one per range of `cells_per_block` cells.
pub struct CellBlocks {
    dir: PathBuf,
    n_blocks: usize,
    cells_per_block: usize,
}

/// Receives entries in any order while the block files are written.
pub struct CellBlockWriter {
    spill: SpillWriter,
    cells_per_block: usize,
}

impl CellBlockWriter {
    pub fn push(&mut self, cell: u32, gene: u32, count: u32) -> Result<()> {
        self.spill
            .push(cell as usize / self.cells_per_block, [cell, gene, count])
    }
}

impl CellBlocks {
    /// Creates `dir` and spills into it the `nnz` entries that `feed` pushes, `block_entries`
    /// per block on average.
    pub fn write(
        dir: &Path,
        n_cells: usize,
        nnz: u64,
        block_entries: u64,
        feed: impl FnOnce(&mut CellBlockWriter) -> Result<()>,
    ) -> Result<Self> {
        let n_blocks = nnz.div_ceil(block_entries.max(1)).clamp(1, n_cells.max(1) as u64) as usize;
        let cells_per_block = n_cells.div_ceil(n_blocks).max(1);
        let mut writer = CellBlockWriter {
            spill: SpillWriter::create(dir, n_blocks)?,
            cells_per_block,
        };
        feed(&mut writer)?;
        writer.spill.finish()?;
        Ok(CellBlocks {
            dir: dir.to_path_buf(),
            n_blocks,
            cells_per_block,
        })
    }

    #[cfg(test)]
    pub fn n_blocks(&self) -> usize {
        self.n_blocks
    }

    /// Reads the block files in cell order, groups each block's records by cell with a
    /// counting sort and hands them on in batches. The files stay for the next pass; the
    /// ingest removes the directory. `what` names the input in messages.
    pub fn pass(&self, what: &str, visit: &mut dyn FnMut(CellBatch) -> Result<()>) -> Result<()> {
        for b in 0..self.n_blocks {
            let first_cell = (b * self.cells_per_block) as u32;
            let (mut cells, mut genes, mut counts) = (Vec::new(), Vec::new(), Vec::new());
            read_block(&self.dir, b, |[c, g, n]| {
                cells.push(c - first_cell);
                genes.push(g);
                counts.push(n);
            })?;
            let mut offsets = vec![0usize; self.cells_per_block + 1];
            cells.iter().for_each(|&c| offsets[c as usize + 1] += 1);
            for i in 0..self.cells_per_block {
                offsets[i + 1] += offsets[i];
            }
            let mut fill = offsets.clone();
            let (mut by_cell_genes, mut by_cell_counts) = (vec![0u32; genes.len()], vec![0u32; genes.len()]);
            for k in 0..cells.len() {
                let at = &mut fill[cells[k] as usize];
                by_cell_genes[*at] = genes[k];
                by_cell_counts[*at] = counts[k];
                *at += 1;
            }
            drop((cells, genes, counts));
            let mut batch = CellBatch::new();
            for local in 0..self.cells_per_block {
                let r = offsets[local]..offsets[local + 1];
                if r.is_empty() {
                    continue;
                }
                batch.genes.extend_from_slice(&by_cell_genes[r.clone()]);
                batch.counts.extend_from_slice(&by_cell_counts[r]);
                batch.end_cell(first_cell + local as u32);
                if batch.genes.len() >= BATCH_ENTRIES {
                    sort_within_cells(&mut batch, what)?;
                    visit(std::mem::replace(&mut batch, CellBatch::new()))?;
                }
            }
            if !batch.is_empty() {
                sort_within_cells(&mut batch, what)?;
                visit(batch)?;
            }
        }
        Ok(())
    }
}

/// Sorts each cell's entries by gene (in parallel) and refuses a gene that appears twice.
pub fn sort_within_cells(batch: &mut CellBatch, what: &str) -> Result<()> {
    let mut slices: Vec<(&mut [u32], &mut [u32])> = Vec::with_capacity(batch.cells.len());
    let (mut genes, mut counts) = (&mut batch.genes[..], &mut batch.counts[..]);
    for w in batch.offsets.windows(2) {
        let (g, g_rest) = genes.split_at_mut(w[1] - w[0]);
        let (c, c_rest) = counts.split_at_mut(w[1] - w[0]);
        slices.push((g, c));
        genes = g_rest;
        counts = c_rest;
    }
    let duplicate = slices.par_iter_mut().enumerate().find_map_any(|(k, (g, c))| {
        if !g.windows(2).all(|w| w[0] < w[1]) {
            let mut pairs: Vec<(u32, u32)> = g.iter().copied().zip(c.iter().copied()).collect();
            pairs.sort_unstable_by_key(|p| p.0);
            for (i, (gene, count)) in pairs.into_iter().enumerate() {
                g[i] = gene;
                c[i] = count;
            }
            if let Some(w) = g.windows(2).find(|w| w[0] == w[1]) {
                return Some((k, w[0]));
            }
        }
        None
    });
    if let Some((k, gene)) = duplicate {
        return Err(Error::Input(format!(
            "'{what}': gene {} of cell {} appears twice; each gene/cell pair may appear once",
            gene + 1,
            batch.cells[k] + 1
        )));
    }
    Ok(())
}
