//! 10x MTX reader (v2: matrix.mtx, genes.tsv, barcodes.tsv; v3: the same gzipped with
//! features.tsv.gz). The matrix is genes x cells; entries must be grouped by cell in
//! increasing column order, as Cell Ranger writes them. A thread decompresses/reads blocks of
//! text while rayon parses the previous ones.

use crate::error::{Error, Result};
use crate::input::regroup::{sort_within_cells, CellBlocks, CELL_BLOCK_ENTRIES};
use crate::input::textio::read_tsv;
use crate::input::{first_repeat, CellBatch, CellSource, Features, Labels};
use crate::monitor::Monitor;
use std::path::{Path, PathBuf};

mod text;
use text::{for_each_parsed, read_header, Parsed};

/// The three files of a 10x matrix directory.
#[derive(Debug, Clone)]
pub struct MtxFiles {
    pub matrix: PathBuf,
    pub features: PathBuf,
    pub barcodes: PathBuf,
}

impl MtxFiles {
    /// Finds matrix.mtx[.gz], features.tsv[.gz] or genes.tsv[.gz], barcodes.tsv[.gz] in `dir`.
    pub fn in_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Input(format!("'{}' is not a directory", dir.display())));
        }
        let find = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
        let missing = |what: &str| {
            Error::Input(format!(
                "'{}' has no {what} file; a 10x matrix directory holds matrix.mtx(.gz), \
                features.tsv(.gz) or genes.tsv, and barcodes.tsv(.gz)",
                dir.display()
            ))
        };
        Ok(MtxFiles {
            matrix: find(&["matrix.mtx.gz", "matrix.mtx"]).ok_or_else(|| missing("matrix.mtx"))?,
            features: find(&["features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"])
                .ok_or_else(|| missing("features.tsv / genes.tsv"))?,
            barcodes: find(&["barcodes.tsv.gz", "barcodes.tsv"]).ok_or_else(|| missing("barcodes.tsv"))?,
        })
    }
}

pub struct MtxSource {
    files: MtxFiles,
    labels: Labels,
    /// Set once an unsorted file has been grouped by cell into temporary block files.
    by_cell: Option<CellBlocks>,
    cell_block_entries: u64,
}

impl MtxSource {
    pub fn open(files: MtxFiles) -> Result<Self> {
        for p in [&files.matrix, &files.features, &files.barcodes] {
            if !p.is_file() {
                return Err(Error::Input(format!("file '{}' does not exist", p.display())));
            }
        }
        let (header, _) = read_header(&files.matrix)?;
        let features = read_features(&files.features)?;
        let cell_ids = read_barcodes(&files.barcodes)?;
        if features.len() as u64 != header.n_genes || cell_ids.len() as u64 != header.n_cells {
            return Err(Error::Input(format!(
                "dimension mismatch: '{}' declares {} genes x {} cells, but '{}' lists {} features and '{}' \
                    lists {} barcodes",
                files.matrix.display(),
                header.n_genes,
                header.n_cells,
                files.features.display(),
                features.len(),
                files.barcodes.display(),
                cell_ids.len()
            )));
        }
        if header.n_cells == 0 || header.n_genes == 0 || header.nnz == 0 {
            return Err(Error::Input(format!(
                "'{}' is an empty matrix ({} genes x {} cells, {} non-zeros)",
                files.matrix.display(),
                header.n_genes,
                header.n_cells,
                header.nnz
            )));
        }
        Ok(MtxSource {
            files,
            labels: Labels {
                cell_ids,
                features,
                ..Default::default()
            },
            by_cell: None,
            cell_block_entries: CELL_BLOCK_ENTRIES,
        })
    }
}

fn read_features(path: &Path) -> Result<Features> {
    let mut f = Features::default();
    for row in read_tsv(path)? {
        let id = row[0].clone();
        f.symbols.push(row.get(1).cloned().unwrap_or_else(|| id.clone()));
        f.types.push(
            row.get(2)
                .cloned()
                .unwrap_or_else(|| "Gene Expression".to_owned()),
        );
        f.ids.push(id);
    }
    if let Some(n) = first_repeat(&f.ids) {
        return Err(Error::Input(format!(
            "'{}' line {}: gene id '{}' appears twice; gene ids must be unique",
            path.display(),
            n + 1,
            f.ids[n]
        )));
    }
    Ok(f)
}

fn read_barcodes(path: &Path) -> Result<Vec<String>> {
    let ids: Vec<String> = read_tsv(path)?
        .into_iter()
        .map(|mut row| row.swap_remove(0))
        .collect();
    if let Some(n) = first_repeat(&ids) {
        return Err(Error::Input(format!(
            "'{}' line {}: barcode '{}' appears twice; barcodes must be unique",
            path.display(),
            n + 1,
            ids[n]
        )));
    }
    Ok(ids)
}

/// Groups parsed entries into whole cells, enforcing increasing cell order.
struct CellGrouper {
    last_cell: Option<u32>,
    pending: Parsed,
}

impl CellGrouper {
    /// Appends entries; returns the batch of cells that are complete (all but the last cell
    /// seen, unless `end`). Sorting within cells and duplicate detection happen in parallel.
    fn push(&mut self, parsed: Vec<Parsed>, end: bool, path: &Path, near_line: u64) -> Result<CellBatch> {
        for block in parsed {
            for k in 0..block.cells.len() {
                let cell = block.cells[k];
                if let Some(last) = self.last_cell {
                    if cell < last {
                        return Err(Error::NotGroupedByCell(format!(
                            "'{}': entries are not grouped by cell in increasing column order (column {} \
                                after column {}, near line {})",
                            path.display(),
                            cell + 1,
                            last + 1,
                            near_line
                        )));
                    }
                }
                self.last_cell = Some(cell);
                self.pending.genes.push(block.genes[k]);
                self.pending.cells.push(cell);
                self.pending.counts.push(block.counts[k]);
            }
        }
        let n = self.pending.cells.len();
        let take = if end || n == 0 {
            n
        } else {
            self.pending
                .cells
                .iter()
                .rposition(|&c| c != self.pending.cells[n - 1])
                .map_or(0, |i| i + 1)
        };
        let mut batch = CellBatch {
            genes: self.pending.genes.drain(..take).collect(),
            counts: self.pending.counts.drain(..take).collect(),
            offsets: vec![0],
            cells: Vec::new(),
        };
        let cells: Vec<u32> = self.pending.cells.drain(..take).collect();
        for (k, &c) in cells.iter().enumerate() {
            if k + 1 == cells.len() || cells[k + 1] != c {
                batch.cells.push(c);
                batch.offsets.push(k + 1);
            }
        }
        sort_within_cells(&mut batch, &path.display().to_string())?;
        Ok(batch)
    }
}

impl CellSource for MtxSource {
    fn describe(&self) -> String {
        self.files.matrix.display().to_string()
    }
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn pass(&mut self, visit: &mut dyn FnMut(CellBatch) -> Result<()>) -> Result<()> {
        let path = self.files.matrix.clone();
        if let Some(blocks) = &self.by_cell {
            return blocks.pass(&path.display().to_string(), visit);
        }
        let mut grouper = CellGrouper {
            last_cell: None,
            pending: Parsed::default(),
        };
        for_each_parsed(&path, |parsed, end, near_line| {
            let batch = grouper.push(parsed, end, &path, near_line)?;
            if batch.is_empty() {
                Ok(())
            } else {
                visit(batch)
            }
        })
    }

    /// One pass that writes every entry to the file of its block of cells.
    fn group_by_cell(&mut self, scratch: &Path, monitor: Monitor) -> Result<()> {
        let path = self.files.matrix.clone();
        let (header, _) = read_header(&path)?;
        let blocks = CellBlocks::write(
            scratch,
            self.labels.cell_ids.len(),
            header.nnz,
            self.cell_block_entries,
            |spill| {
                for_each_parsed(&path, |parsed, _, _| {
                    monitor.check()?;
                    for p in parsed {
                        for k in 0..p.cells.len() {
                            spill.push(p.cells[k], p.genes[k], p.counts[k])?;
                        }
                    }
                    Ok(())
                })
            },
        )?;
        self.by_cell = Some(blocks);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
