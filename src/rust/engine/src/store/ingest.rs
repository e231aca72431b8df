//! The one ingest writer every reader feeds. Filters run in Seurat's order (`CreateSeuratObject`,
//! and scanpy's tutorial: `filter_cells`, then `filter_genes`):
//! 1. pre-scan (which also validates the whole input): each cell is kept when it has at least
//!    `min_genes` genes and `min_counts` counts over **all** genes (Seurat's `min.features`),
//!    and cells detected per gene are counted over the **kept** cells;
//! 2. gene filter: genes detected in at least `min_cells` kept cells (Seurat's `min.cells`);
//! 3. write pass: per kept cell, drop filtered genes, compute library size and genes detected
//!    over the kept genes (Seurat's `nCount_RNA` / `nFeature_RNA`, so a kept cell may fall
//!    below `min_genes` here), normalise, write the CSR chunk, and spill (cell, gene, count) to
//!    one file per block of genes;
//! 4. transpose: each gene block's spill (bounded by `genes_block_entries`) is sorted by gene
//!    in memory and written as CSC chunks. Memory does not grow with the number of cells
//!    beyond per-cell vectors of a few bytes.

use crate::error::{Error, IoContext, Result};
use crate::frame::Frame;
use crate::input::{check_names, CellBatch, CellSource};
use crate::monitor::Monitor;
use crate::store::chunkfile::{compress_chunk, Axis, ChunkWriter};
use crate::store::manifest::{
    store_tag, IngestRecord, Manifest, CELLS_FILE, GENES_FILE, STORE_MAGIC, STORE_VERSION,
};
use crate::store::norm::log_normalise;
use crate::store::spill::{block_path, read_block, SpillWriter};
use half::f16;
use rayon::prelude::*;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Keep genes detected in at least this many kept cells (Seurat `min.cells`).
    pub min_cells: u32,
    /// Keep cells with at least this many genes detected over all genes (`min.features`).
    pub min_genes: u32,
    /// Keep cells with at least this many counts over all genes (scanpy `min_counts`).
    pub min_counts: u64,
    /// Normalisation target (Seurat `scale.factor`, default 1e4).
    pub target_sum: f64,
    /// Non-zeros held in memory at once while transposing to gene-major chunks.
    pub genes_block_entries: u64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            min_cells: 0,
            min_genes: 0,
            min_counts: 0,
            target_sum: 1e4,
            genes_block_entries: 8 << 20,
        }
    }
}

/// Per-cell and per-gene results of an ingest, for the metadata database.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CellTable {
    pub cell_id: Vec<String>,
    pub n_counts: Vec<u64>,
    pub n_genes: Vec<u32>,
    /// The input's own per-cell annotation, for the kept cells.
    pub extra: Frame,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct GeneTable {
    pub gene_id: Vec<String>,
    pub symbol: Vec<String>,
    pub feature_type: Vec<String>,
    pub n_cells: Vec<u32>,
    pub n_counts: Vec<u64>,
    /// The input's own per-gene annotation, for the kept genes.
    pub extra: Frame,
}

pub struct Ingested {
    pub obs: CellTable,
    pub var: GeneTable,
    pub manifest: Manifest,
}

/// Writes `cells.chunks` and `genes.chunks` of a new store into `dir`, asking `interrupted`
/// between batches.
pub fn ingest(
    source: &mut dyn CellSource,
    dir: &Path,
    opts: &IngestOptions,
    monitor: Monitor,
) -> Result<Ingested> {
    if !(opts.target_sum > 0.0 && opts.target_sum.is_finite()) {
        return Err(Error::Request(format!(
            "target_sum must be a positive number, not {}",
            opts.target_sum
        )));
    }
    check_names(source.labels(), &source.describe())?;
    let n_input_cells = source.labels().cell_ids.len();
    let n_input_genes = source.labels().features.len();

    let by_cell_dir = dir.join("by-cell.tmp");
    // A source that is not grouped by cell (or, combined, each such sample) is grouped once.
    let scan = loop {
        match prescan(source, n_input_cells, n_input_genes, opts, monitor) {
            Err(Error::NotGroupedByCell(_)) => source.group_by_cell(&by_cell_dir, monitor)?,
            other => break other?,
        }
    };
    if !scan.keep_cell.contains(&true) {
        return Err(Error::Input(format!(
            "all {n_input_cells} cells were filtered away: none has at least min_genes = {} genes and \
                min_counts = {} counts; lower the filters",
            opts.min_genes, opts.min_counts
        )));
    }
    let cells_per_gene = &scan.cells_per_gene;
    let kept_genes: Vec<u32> = (0..n_input_genes as u32)
        .filter(|&g| cells_per_gene[g as usize] >= opts.min_cells)
        .collect();
    if kept_genes.is_empty() {
        return Err(Error::Input(format!(
            "no gene is detected in at least min_cells = {} of the kept cells; lower min_cells",
            opts.min_cells
        )));
    }
    let mut new_gene = vec![u32::MAX; n_input_genes];
    kept_genes
        .iter()
        .enumerate()
        .for_each(|(new, &old)| new_gene[old as usize] = new as u32);
    let kept_nnz: Vec<u64> = kept_genes
        .iter()
        .map(|&g| cells_per_gene[g as usize] as u64)
        .collect();
    let plan = GenePlan {
        new_gene,
        n_kept: kept_genes.len(),
        blocks: GeneBlocks::plan(&kept_nnz, opts.genes_block_entries),
    };

    let store_id = crate::store::manifest::new_store_id();
    let spill_dir = dir.join("by-gene.tmp");
    let out = Destination {
        dir,
        spill_dir: &spill_dir,
        store_tag: store_tag(&store_id),
    };
    let written = write_cells(source, &out, &plan, &scan.keep_cell, opts, monitor)?;
    let n_cells = written.source_cell.len();
    let gene_counts = transpose(&out, &plan.blocks, &written, opts.target_sum, monitor)?;
    let gene_cells = written.nnz_per_gene.iter().map(|&n| n as u32).collect();
    std::fs::remove_dir_all(&spill_dir).ctx("cannot remove", &spill_dir)?;
    if by_cell_dir.exists() {
        std::fs::remove_dir_all(&by_cell_dir).ctx("cannot remove", &by_cell_dir)?;
    }

    let ids = &source.labels().cell_ids;
    let obs = CellTable {
        cell_id: written
            .source_cell
            .iter()
            .map(|&c| ids[c as usize].clone())
            .collect(),
        n_counts: written.n_counts,
        n_genes: written.n_genes,
        extra: source.labels().obs.take(&written.source_cell),
    };
    let f = &source.labels().features;
    let pick = |v: &Vec<String>| kept_genes.iter().map(|&g| v[g as usize].clone()).collect();
    let var = GeneTable {
        gene_id: pick(&f.ids),
        symbol: pick(&f.symbols),
        feature_type: pick(&f.types),
        n_cells: gene_cells,
        n_counts: gene_counts,
        extra: f.extra.take(&kept_genes),
    };
    let manifest = Manifest {
        magic: STORE_MAGIC.into(),
        format_version: STORE_VERSION,
        created_by: format!("cellstream {}", env!("CARGO_PKG_VERSION")),
        store_id,
        n_cells: n_cells as u64,
        n_genes: kept_genes.len() as u64,
        nnz: written.nnz,
        target_sum: opts.target_sum,
        ingest: IngestRecord {
            source: source.describe(),
            input_cells: n_input_cells as u64,
            input_genes: n_input_genes as u64,
            min_cells: opts.min_cells,
            min_genes: opts.min_genes,
            min_counts: opts.min_counts,
        },
    };
    Ok(Ingested { obs, var, manifest })
}

/// The cell filter's decision and, over the kept cells, the cells detected per gene.
struct Prescan {
    keep_cell: Vec<bool>,
    cells_per_gene: Vec<u32>,
}

fn prescan(
    source: &mut dyn CellSource,
    n_cells: usize,
    n_genes: usize,
    opts: &IngestOptions,
    monitor: Monitor,
) -> Result<Prescan> {
    let passes = |n_genes: usize, library_size: u64| {
        n_genes as u64 >= opts.min_genes as u64 && library_size >= opts.min_counts
    };
    // Cells without any entry never reach a batch.
    let mut keep_cell = vec![passes(0, 0); n_cells];
    let mut cells_per_gene = vec![0u32; n_genes];
    let task = "Ingest: checking cells";
    source.pass(&mut |batch: CellBatch| {
        monitor.tick(task, batch.cells.first().map_or(0, |&c| c as u64), n_cells as u64)?;
        for k in 0..batch.len() {
            let (cell, genes, counts) = batch.cell(k);
            let kept = passes(genes.len(), counts.iter().map(|&c| c as u64).sum());
            keep_cell[cell as usize] = kept;
            if kept {
                genes.iter().for_each(|&g| cells_per_gene[g as usize] += 1);
            }
        }
        Ok(())
    })?;
    monitor.report(task, n_cells as u64, n_cells as u64);
    Ok(Prescan {
        keep_cell,
        cells_per_gene,
    })
}

/// What the gene filter decided: each input gene's new index (u32::MAX when dropped), the
/// number kept, and the gene blocks of the transpose.
struct GenePlan {
    new_gene: Vec<u32>,
    n_kept: usize,
    blocks: GeneBlocks,
}

/// Contiguous ranges of (new) gene indices whose non-zeros fit the transpose budget.
struct GeneBlocks {
    starts: Vec<u32>,
    block_of_gene: Vec<u32>,
}

impl GeneBlocks {
    fn plan(nnz_per_gene: &[u64], budget: u64) -> Self {
        let mut starts = vec![0u32];
        let mut block_of_gene = Vec::with_capacity(nnz_per_gene.len());
        let mut filled = 0u64;
        for (g, &n) in nnz_per_gene.iter().enumerate() {
            if filled > 0 && filled + n > budget {
                starts.push(g as u32);
                filled = 0;
            }
            filled += n;
            block_of_gene.push(starts.len() as u32 - 1);
        }
        GeneBlocks {
            starts,
            block_of_gene,
        }
    }
    fn len(&self) -> usize {
        self.starts.len()
    }
    fn range(&self, b: usize, n_genes: usize) -> std::ops::Range<usize> {
        self.starts[b] as usize..self.starts.get(b + 1).map_or(n_genes, |&s| s as usize)
    }
}

struct WrittenCells {
    /// Source position of each written cell (ids are looked up once, at the end).
    source_cell: Vec<u32>,
    n_counts: Vec<u64>,
    n_genes: Vec<u32>,
    nnz: u64,
    /// Exact non-zeros per kept gene among the written cells.
    nnz_per_gene: Vec<u64>,
}

/// A cell after gene filtering, ready to append: its CSR chunk and its entries for the spill.
struct PreparedCell {
    source_cell: u32,
    genes: Vec<u32>,
    counts: Vec<u32>,
    library_size: u64,
    compressed: Vec<u8>,
    payload_len: usize,
}

/// Where an ingest writes: the staging folder, its spill folder, and the new store's tag.
struct Destination<'a> {
    dir: &'a Path,
    spill_dir: &'a Path,
    store_tag: u64,
}

fn write_cells(
    source: &mut dyn CellSource,
    out: &Destination,
    plan: &GenePlan,
    keep_cell: &[bool],
    opts: &IngestOptions,
    monitor: Monitor,
) -> Result<WrittenCells> {
    let (new_gene, n_genes, blocks) = (&plan.new_gene, plan.n_kept, &plan.blocks);
    let n_source_cells = source.labels().cell_ids.len() as u32;
    let csr_path = out.dir.join(CELLS_FILE);
    let mut csr = ChunkWriter::create(&csr_path, Axis::Cells, n_genes as u64, out.store_tag)?;
    let mut spills = SpillWriter::create(out.spill_dir, blocks.len())?;
    let mut out = WrittenCells {
        source_cell: Vec::new(),
        n_counts: Vec::new(),
        n_genes: Vec::new(),
        nnz: 0,
        nnz_per_gene: vec![0; n_genes],
    };
    let mut next_source_cell = 0u32;

    let mut append = |cell: PreparedCell, out: &mut WrittenCells, csr: &mut ChunkWriter| -> Result<()> {
        let new_cell = out.source_cell.len() as u32;
        csr.push_compressed(&cell.compressed, cell.payload_len, cell.genes.len())?;
        for (&g, &c) in cell.genes.iter().zip(&cell.counts) {
            out.nnz_per_gene[g as usize] += 1;
            spills.push(blocks.block_of_gene[g as usize] as usize, [new_cell, g, c])?;
        }
        out.nnz += cell.genes.len() as u64;
        out.source_cell.push(cell.source_cell);
        out.n_counts.push(cell.library_size);
        out.n_genes.push(cell.genes.len() as u32);
        Ok(())
    };
    let empty_cell = |c: u32| PreparedCell {
        source_cell: c,
        genes: vec![],
        counts: vec![],
        library_size: 0,
        compressed: compress_chunk(&[], &[], &[], &mut Vec::new()).0,
        payload_len: crate::store::chunk::payload_len(0, 2),
    };

    let task = "Ingest: writing cells";
    source.pass(&mut |batch: CellBatch| {
        monitor.tick(
            task,
            batch.cells.first().map_or(0, |&c| c as u64),
            n_source_cells as u64,
        )?;
        let prepared: Vec<Option<PreparedCell>> = (0..batch.len())
            .into_par_iter()
            .map_init(Vec::new, |scratch, k| {
                keep_cell[batch.cells[k] as usize].then(|| prepare_cell(&batch, k, new_gene, opts, scratch))
            })
            .collect();
        for (k, cell) in prepared.into_iter().enumerate() {
            let source_cell = batch.cells[k];
            for c in (next_source_cell..source_cell).filter(|&c| keep_cell[c as usize]) {
                append(empty_cell(c), &mut out, &mut csr)?;
            }
            next_source_cell = source_cell + 1;
            if let Some(cell) = cell {
                append(cell, &mut out, &mut csr)?;
            }
        }
        Ok(())
    })?;
    for c in (next_source_cell..n_source_cells).filter(|&c| keep_cell[c as usize]) {
        append(empty_cell(c), &mut out, &mut csr)?;
    }
    spills.finish()?;
    csr.finish()?;
    monitor.report(task, n_source_cells as u64, n_source_cells as u64);
    Ok(out)
}

/// Filters genes of (kept) cell `k`, normalises and compresses its chunk.
fn prepare_cell(
    batch: &CellBatch,
    k: usize,
    new_gene: &[u32],
    opts: &IngestOptions,
    scratch: &mut Vec<u8>,
) -> PreparedCell {
    let (source_cell, genes, counts) = batch.cell(k);
    let mut kept_genes = Vec::with_capacity(genes.len());
    let mut kept_counts = Vec::with_capacity(genes.len());
    for (&g, &c) in genes.iter().zip(counts) {
        let new = new_gene[g as usize];
        if new != u32::MAX {
            kept_genes.push(new);
            kept_counts.push(c);
        }
    }
    let library_size: u64 = kept_counts.iter().map(|&c| c as u64).sum();
    let norm: Vec<f16> = kept_counts
        .iter()
        .map(|&c| log_normalise(c, library_size, opts.target_sum))
        .collect();
    let (compressed, payload_len) = compress_chunk(&kept_genes, &kept_counts, &norm, scratch);
    PreparedCell {
        source_cell,
        genes: kept_genes,
        counts: kept_counts,
        library_size,
        compressed,
        payload_len,
    }
}

/// Writes the gene-major file from the spills, one gene block in memory at a time.
/// Returns the total counts per gene.
fn transpose(
    out: &Destination,
    blocks: &GeneBlocks,
    cells: &WrittenCells,
    target_sum: f64,
    monitor: Monitor,
) -> Result<Vec<u64>> {
    let n_genes = cells.nnz_per_gene.len();
    let (spill_dir, n_cells) = (out.spill_dir, cells.source_cell.len() as u64);
    let mut csc = ChunkWriter::create(&out.dir.join(GENES_FILE), Axis::Genes, n_cells, out.store_tag)?;
    let mut gene_counts = vec![0u64; n_genes];
    let library = &cells.n_counts;
    let task = "Ingest: writing genes";
    for b in 0..blocks.len() {
        let genes = blocks.range(b, n_genes);
        monitor.tick(task, genes.start as u64, n_genes as u64)?;
        let mut offsets = Vec::with_capacity(genes.len() + 1);
        offsets.push(0usize);
        for g in genes.clone() {
            offsets.push(offsets.last().unwrap() + cells.nnz_per_gene[g] as usize);
        }
        let total = *offsets.last().unwrap();
        let mut cell_of = vec![0u32; total];
        let mut count_of = vec![0u32; total];
        let mut fill = offsets.clone();
        read_block(spill_dir, b, |[cell, gene, count]| {
            let local = gene as usize - genes.start;
            cell_of[fill[local]] = cell;
            count_of[fill[local]] = count;
            fill[local] += 1;
        })?;
        let done = block_path(spill_dir, b);
        std::fs::remove_file(&done).ctx("cannot remove", &done)?;
        let chunks: Vec<(Vec<u8>, usize, u64)> = (0..genes.len())
            .into_par_iter()
            .map_init(Vec::new, |scratch, local| {
                let r = offsets[local]..offsets[local + 1];
                let norm: Vec<f16> = r
                    .clone()
                    .map(|i| log_normalise(count_of[i], library[cell_of[i] as usize], target_sum))
                    .collect();
                let (bytes, len) = compress_chunk(&cell_of[r.clone()], &count_of[r.clone()], &norm, scratch);
                (bytes, len, count_of[r].iter().map(|&c| c as u64).sum())
            })
            .collect();
        for (local, (bytes, len, sum)) in chunks.into_iter().enumerate() {
            let nnz = offsets[local + 1] - offsets[local];
            csc.push_compressed(&bytes, len, nnz)?;
            gene_counts[genes.start + local] = sum;
        }
    }
    csc.finish()?;
    monitor.report(task, n_genes as u64, n_genes as u64);
    Ok(gene_counts)
}

#[cfg(test)]
mod tests;
