//! AnnData h5ad reader. The count matrix may be `X`, `raw/X` or a layer, stored as CSR
//! (cell-major: streamed in slices), CSC (gene-major: grouped by cell through temporary block
//! files first) or dense (read in blocks of rows); never read whole. obs and var columns come
//! along with their types.

use crate::error::{Error, Result};
use crate::frame::Column;
use crate::input::h5;
use crate::input::h5ad_frame::{self, DataFrame};
use crate::input::h5matrix::{to_counts, Compressed, Dense, Rounding, SLICE_ENTRIES};
use crate::input::isolated::survives;
use crate::input::regroup::{sort_within_cells, CellBlocks, CELL_BLOCK_ENTRIES};
use crate::input::{first_repeat, CellBatch, CellSource, Features, Labels};
use crate::monitor::Monitor;
use hdf5::Group;
use std::path::{Path, PathBuf};

/// Where raw counts are looked for when `counts = "auto"`, in order.
const AUTO_ORDER: [&str; 3] = ["layers/counts", "raw/X", "X"];
/// Values checked to decide whether a matrix holds counts (`auto`).
const PROBE_ENTRIES: usize = 1 << 20;
/// var columns that hold gene ids, symbols and feature types (scanpy, CELLxGENE, cellstream).
const GENE_ID_COLUMNS: [&str; 2] = ["gene_ids", "gene_id"];
const SYMBOL_COLUMNS: [&str; 4] = ["symbol", "gene_symbols", "feature_name", "gene_name"];
const TYPE_COLUMNS: [&str; 2] = ["feature_types", "feature_type"];

#[derive(Debug, Clone)]
pub struct H5adOptions {
    /// "auto", "X", "raw/X" or "layers/<name>".
    pub counts: String,
    pub rounding: Rounding,
}

enum Matrix {
    Csr(Compressed),
    Csc(Compressed),
    Dense(Dense),
}

pub struct H5adSource {
    path: PathBuf,
    matrix: Matrix,
    labels: Labels,
    /// The matrix the counts were read from, and why when chosen automatically.
    pub counts_from: String,
    /// How the counts were chosen, and the annotation columns left out.
    notes: Vec<String>,
    rounding: Rounding,
    /// Values rounded to whole numbers during the last pass.
    rounded: u64,
    by_cell: Option<CellBlocks>,
}

impl H5adSource {
    /// Opens the file, first in a separate process (see `isolated`): a damaged file can crash
    /// the HDF5 library.
    pub fn open(path: &Path, opts: &H5adOptions) -> Result<Self> {
        survives(path, || drop(Self::open_here(path, opts)))?;
        Self::open_here(path, opts)
    }

    fn open_here(path: &Path, opts: &H5adOptions) -> Result<Self> {
        let file = h5::open(path, "h5ad file")?;
        let root: &Group = &file;
        let (counts_from, note) = match opts.counts.as_str() {
            "auto" => choose_counts(root, path, opts.rounding)?,
            named => {
                if !root.link_exists(named) {
                    let present: Vec<&str> = AUTO_ORDER
                        .iter()
                        .copied()
                        .filter(|c| root.link_exists(c))
                        .collect();
                    return Err(Error::Input(format!(
                        "'{}' has no matrix '{named}' (it holds {present:?}); \
                        `counts` is \"auto\", \"X\", \"raw/X\" or \"layers/<name>\"",
                        path.display()
                    )));
                }
                (named.to_owned(), None)
            }
        };
        let obs = h5ad_frame::read(&h5::group(root, "obs", path)?, path)?;
        let var_group = if counts_from == "raw/X" { "raw/var" } else { "var" };
        let var = h5ad_frame::read(&h5::group(root, var_group, path)?, path)?;
        let matrix = open_matrix(
            root,
            &counts_from,
            path,
            obs.index.len(),
            var.index.len(),
            var_group,
        )?;
        if let Some(i) = first_repeat(&obs.index) {
            return Err(Error::Input(format!(
                "'{}': cell name '{}' appears twice in obs; cell names must be \
                unique (obs_names_make_unique() in anndata)",
                path.display(),
                obs.index[i]
            )));
        }
        let notes = note
            .into_iter()
            .chain(obs.left_out)
            .chain(var.left_out.clone())
            .collect();
        let features = features_of(var, path)?;
        Ok(H5adSource {
            path: path.to_path_buf(),
            matrix,
            labels: Labels {
                cell_ids: obs.index,
                features,
                obs: obs.columns,
            },
            counts_from,
            notes,
            rounding: opts.rounding,
            rounded: 0,
            by_cell: None,
        })
    }
}

/// The first of layers/counts, raw/X, X that holds whole numbers (judged on its first values;
/// the ingest checks every value).
fn choose_counts(root: &Group, path: &Path, rounding: Rounding) -> Result<(String, Option<String>)> {
    let mut findings = Vec::new();
    for name in AUTO_ORDER {
        if !root.link_exists(name) {
            findings.push(format!("{name} is absent"));
            continue;
        }
        match first_fraction(root, name, path)? {
            None => {
                let why = if findings.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", findings.join(", "))
                };
                return Ok((name.to_owned(), Some(format!("counts read from {name}{why}"))));
            }
            Some(v) => findings.push(format!("{name} holds non-integer values such as {v}")),
        }
    }
    if rounding == Rounding::Nearest && root.link_exists("X") {
        return Ok((
            "X".to_owned(),
            Some(format!(
                "counts read from X and rounded to whole numbers ({})",
                findings.join(", ")
            )),
        ));
    }
    Err(Error::Input(format!(
        "'{}' holds no raw counts where they usually are: {}. The data look normalised; give `counts` = \
            \"layers/<name>\" if raw counts are stored elsewhere, or allow_non_integer = TRUE to round",
        path.display(),
        findings.join(", ")
    )))
}

/// A non-integer value among the first values of matrix `name`, if any.
fn first_fraction(root: &Group, name: &str, path: &Path) -> Result<Option<f64>> {
    let values_ds = if h5::is_group(root, name) {
        h5::dataset(&h5::group(root, name, path)?, "data", path)?
    } else {
        h5::dataset(root, name, path)?
    };
    if h5::is_integer_type(&values_ds) == Some(true) {
        return Ok(None);
    }
    let n: usize = values_ds.shape().iter().product();
    let values = if values_ds.ndim() == 1 {
        h5::read_range::<f64>(&values_ds, 0..n.min(PROBE_ENTRIES), path)?
    } else {
        let dense = Dense::open(values_ds, path)?;
        let rows = (PROBE_ENTRIES / dense.n_cols.max(1)).clamp(1, dense.n_rows);
        dense.read(0..rows)?
    };
    Ok(values.into_iter().find(|v| v.fract() != 0.0))
}

fn open_matrix(
    root: &Group,
    name: &str,
    path: &Path,
    n_obs: usize,
    n_vars: usize,
    var_group: &str,
) -> Result<Matrix> {
    let mismatch = |rows: usize, cols: usize| {
        Error::Input(format!(
            "'{}': matrix '{name}' is {rows} x {cols} but obs has {n_obs} cells and \
            {var_group} has {n_vars} genes",
            path.display()
        ))
    };
    if !h5::is_group(root, name) {
        let dense = Dense::open(h5::dataset(root, name, path)?, path)?;
        if (dense.n_rows, dense.n_cols) != (n_obs, n_vars) {
            return Err(mismatch(dense.n_rows, dense.n_cols));
        }
        return Ok(Matrix::Dense(dense));
    }
    let g = h5::group(root, name, path)?;
    let encoding = h5::attr_string(&g, "encoding-type")
        .or_else(|| h5::attr_string(&g, "h5sparse_format").map(|f| format!("{f}_matrix")));
    let shape = h5::attr_ints(&g, "shape").or_else(|| h5::attr_ints(&g, "h5sparse_shape"));
    let (rows, cols) = match shape.as_deref() {
        Some(&[r, c]) if r >= 0 && c >= 0 => (r as usize, c as usize),
        _ => {
            return Err(Error::Input(format!(
                "'{}': sparse matrix '{name}' has no valid shape attribute",
                path.display()
            )))
        }
    };
    if (rows, cols) != (n_obs, n_vars) {
        return Err(mismatch(rows, cols));
    }
    match encoding.as_deref() {
        Some("csr_matrix") => Ok(Matrix::Csr(Compressed::open(&g, path, rows, cols)?)),
        Some("csc_matrix") => Ok(Matrix::Csc(Compressed::open(&g, path, cols, rows)?)),
        other => Err(Error::Input(format!(
            "'{}': matrix '{name}' has encoding {:?}; cellstream reads csr_matrix, csc_matrix and dense \
                arrays",
            path.display(),
            other.unwrap_or("(none)")
        ))),
    }
}

/// Gene ids, symbols and types from var (scanpy keeps Ensembl ids in `gene_ids` and symbols
/// in the index; CELLxGENE keeps ids in the index and symbols in `feature_name`); the other
/// columns stay as annotation.
fn features_of(var: DataFrame, path: &Path) -> Result<Features> {
    let DataFrame {
        index,
        columns: mut extra,
        ..
    } = var;
    let text = |c: Column| -> Option<Vec<String>> { c.to_text().into_iter().collect() };
    let id_column = GENE_ID_COLUMNS.iter().find(|n| {
        extra
            .column(n)
            .and_then(|c| text(c.clone()))
            .is_some_and(|v| first_repeat(&v).is_none())
    });
    let (ids, symbols) = match id_column {
        Some(name) => (text(extra.remove(name).unwrap()).unwrap(), index),
        None => {
            let symbols = SYMBOL_COLUMNS
                .iter()
                .find(|n| extra.column(n).is_some())
                .and_then(|n| text(extra.remove(n).unwrap()));
            (index.clone(), symbols.unwrap_or(index))
        }
    };
    if let Some(i) = first_repeat(&ids) {
        return Err(Error::Input(format!(
            "'{}': gene '{}' appears twice in var; gene names must be unique \
            (var_names_make_unique() in anndata)",
            path.display(),
            ids[i]
        )));
    }
    let types = TYPE_COLUMNS
        .iter()
        .find(|n| extra.column(n).is_some())
        .and_then(|n| text(extra.remove(n).unwrap()))
        .unwrap_or_else(|| vec!["Gene Expression".to_owned(); ids.len()]);
    Ok(Features {
        ids,
        symbols,
        types,
        extra,
    })
}

impl CellSource for H5adSource {
    fn describe(&self) -> String {
        format!("{} ({})", self.path.display(), self.counts_from)
    }
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        if self.rounded > 0 {
            notes.push(format!(
                "{} values of {} were not whole numbers and were rounded",
                self.rounded, self.counts_from
            ));
        }
        notes
    }

    fn pass(&mut self, visit: &mut dyn FnMut(CellBatch) -> Result<()>) -> Result<()> {
        let what = self.describe();
        if let Some(blocks) = &self.by_cell {
            return blocks.pass(&what, visit);
        }
        self.rounded = 0;
        match &self.matrix {
            Matrix::Csr(m) => {
                for cells in m.batches(SLICE_ENTRIES) {
                    let (mut batch, rounded) = m.read_counts(cells, self.rounding)?;
                    self.rounded += rounded;
                    sort_within_cells(&mut batch, &what)?;
                    visit(batch)?;
                }
                Ok(())
            }
            Matrix::Dense(m) => {
                for rows in m.batches(SLICE_ENTRIES) {
                    let values = m.read(rows.clone())?;
                    let (counts, rounded) = to_counts(&values, self.rounding, &|| {
                        format!("'{}': {}", self.path.display(), self.counts_from)
                    })?;
                    self.rounded += rounded;
                    let mut batch = CellBatch::new();
                    for (r, row) in rows.zip(counts.chunks(m.n_cols)) {
                        for (g, &c) in row.iter().enumerate().filter(|e| *e.1 > 0) {
                            batch.push(g as u32, c);
                        }
                        batch.end_cell(r as u32);
                    }
                    visit(batch)?;
                }
                Ok(())
            }
            Matrix::Csc(_) => Err(Error::NotGroupedByCell(format!(
                "'{what}' is stored gene-major (CSC)"
            ))),
        }
    }

    /// A CSC matrix is read once, gene slice by gene slice, into cell-block files.
    fn group_by_cell(&mut self, scratch: &Path, monitor: Monitor) -> Result<()> {
        let Matrix::Csc(m) = &self.matrix else {
            return Err(Error::Input(format!(
                "'{}': entries are not grouped by cell",
                self.describe()
            )));
        };
        let mut rounded = 0;
        let blocks = CellBlocks::write(
            scratch,
            self.labels.cell_ids.len(),
            m.nnz(),
            CELL_BLOCK_ENTRIES,
            |spill| {
                for genes in m.batches(SLICE_ENTRIES) {
                    monitor.check()?;
                    let (batch, r) = m.read_counts(genes, self.rounding)?;
                    rounded += r;
                    for k in 0..batch.len() {
                        let (gene, cells, counts) = batch.cell(k);
                        for (&cell, &count) in cells.iter().zip(counts) {
                            spill.push(cell, gene, count)?;
                        }
                    }
                }
                Ok(())
            },
        )?;
        self.rounded = rounded;
        self.by_cell = Some(blocks);
        Ok(())
    }
}
