//! Writing a store (or a subset of it) as an AnnData h5ad file (encoding of anndata ≥ 0.8):
//! `X` = raw counts as a float32 CSR matrix, optionally `layers/logcounts` = the log-normalised
//! values, `obs`/`var` data frames with their types. Cells are streamed from the cell-major
//! chunks in batches and appended, so memory does not grow with the number of cells. The file
//! is written under a hidden name and renamed into place when complete.

use crate::error::{Error, Result};
use crate::frame::{Column, Frame};
use crate::monitor::Monitor;
use crate::store::{Layer, Store};
use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, Group, H5Type, Location};
use std::path::{Path, PathBuf};

/// Cells per batch read from the store and appended to the file.
const CELLS_PER_BATCH: usize = 20_000;
const CHUNK: usize = 1 << 16;
/// The h5ad layer that holds the log-normalised values.
pub const NORM_LAYER: &str = "logcounts";

/// A data frame to write: row names and typed columns.
pub struct FrameOut<'a> {
    pub index: &'a [String],
    pub columns: &'a Frame,
}

pub struct H5adContent<'a> {
    /// Store cells and genes to write (0-based), in output order.
    pub cells: &'a [u32],
    pub genes: &'a [u32],
    pub obs: FrameOut<'a>,
    pub var: FrameOut<'a>,
    /// Also write the log-normalised values as `layers/logcounts`.
    pub norm_layer: bool,
}

/// Removes the partial file unless the write completed.
struct Partial(PathBuf, bool);

/// Removes the partial files in `dir` (`.<name>.partial-<pid>`) of processes that are gone.
fn remove_abandoned_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".partial-"))
            .and_then(|(_, pid)| pid.parse::<i32>().ok());
        // SAFETY: signal 0 only asks whether the process exists.
        if owner.is_some_and(|pid| unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

pub fn write_h5ad(store: &Store, path: &Path, content: &H5adContent, monitor: Monitor) -> Result<()> {
    if path.exists() {
        return Err(Error::Request(format!(
            "'{}' already exists; choose another path or remove it first",
            path.display()
        )));
    }
    let name = path
        .file_name()
        .ok_or_else(|| Error::Request(format!("'{}' is not a file path", path.display())))?;
    remove_abandoned_partials(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    let mut partial = Partial(
        path.with_file_name(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        )),
        false,
    );
    let h5err = |e: hdf5::Error| {
        Error::Input(format!(
            "cannot write '{}': {}",
            path.display(),
            crate::input::h5::short(&e)
        ))
    };
    let file = hdf5::File::create(&partial.0).map_err(h5err)?;
    encoding(&file, "anndata", "0.1.0").map_err(h5err)?;
    write_matrix(
        store,
        &file.create_group("X").map_err(h5err)?,
        content,
        Layer::Raw,
        monitor,
        &h5err,
    )?;
    let layers = file.create_group("layers").map_err(h5err)?;
    encoding(&layers, "dict", "0.1.0").map_err(h5err)?;
    if content.norm_layer {
        write_matrix(
            store,
            &layers.create_group(NORM_LAYER).map_err(h5err)?,
            content,
            Layer::Norm,
            monitor,
            &h5err,
        )?;
    }
    write_frame(&file.create_group("obs").map_err(h5err)?, &content.obs).map_err(h5err)?;
    write_frame(&file.create_group("var").map_err(h5err)?, &content.var).map_err(h5err)?;
    for empty in ["obsm", "varm", "obsp", "varp", "uns"] {
        encoding(&*file.create_group(empty).map_err(h5err)?, "dict", "0.1.0").map_err(h5err)?;
    }
    file.close().map_err(h5err)?;
    std::fs::rename(&partial.0, path).map_err(|e| {
        Error::io(
            format!("cannot rename the finished file to '{}'", path.display()),
            e,
        )
    })?;
    partial.1 = true;
    Ok(())
}

fn text(s: &str) -> hdf5::Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>()
        .map_err(|e| hdf5::Error::from(format!("string '{s}' cannot be stored: {e}")))
}

fn attr_text(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    loc.new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&text(value)?)
}

fn encoding(loc: &Location, kind: &str, version: &str) -> hdf5::Result<()> {
    attr_text(loc, "encoding-type", kind)?;
    attr_text(loc, "encoding-version", version)
}

/// An appendable 1-D dataset.
fn growing<T: H5Type>(g: &Group, name: &str) -> hdf5::Result<Dataset> {
    g.new_dataset::<T>().chunk(CHUNK).shape(0..).create(name)
}

fn append<T: H5Type>(ds: &Dataset, values: &[T], at: &mut usize) -> hdf5::Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    ds.resize(*at + values.len())?;
    ds.write_slice(values, *at..*at + values.len())?;
    *at += values.len();
    Ok(())
}

fn write_matrix(
    store: &Store,
    g: &Group,
    c: &H5adContent,
    layer: Layer,
    monitor: Monitor,
    h5err: &dyn Fn(hdf5::Error) -> Error,
) -> Result<()> {
    encoding(g, "csr_matrix", "0.1.0").map_err(h5err)?;
    g.new_attr::<i64>()
        .shape(2)
        .create("shape")
        .and_then(|a| a.write_raw(&[c.cells.len() as i64, c.genes.len() as i64]))
        .map_err(h5err)?;
    // scipy needs indices and indptr of one integer type: int32 while the non-zeros fit (as
    // scipy writes them), else int64. The bound counts the cells' non-zeros over all genes.
    let bound: u64 = c
        .cells
        .iter()
        .map(|&cell| store.cells.nnz_of(cell as usize) as u64)
        .sum();
    if bound <= i32::MAX as u64 {
        write_csr(store, g, c, layer, monitor, h5err, |i| i as i32)
    } else {
        write_csr(store, g, c, layer, monitor, h5err, |i| i as i64)
    }
}

fn write_csr<I: H5Type + Copy>(
    store: &Store,
    g: &Group,
    c: &H5adContent,
    layer: Layer,
    monitor: Monitor,
    h5err: &dyn Fn(hdf5::Error) -> Error,
    index: impl Fn(usize) -> I,
) -> Result<()> {
    let data = growing::<f32>(g, "data").map_err(h5err)?;
    let indices = growing::<I>(g, "indices").map_err(h5err)?;
    let mut indptr: Vec<I> = Vec::with_capacity(c.cells.len() + 1);
    indptr.push(index(0));
    let (mut at_data, mut at_indices) = (0, 0);
    let task = if layer == Layer::Raw {
        "h5ad: writing counts"
    } else {
        "h5ad: writing normalised values"
    };
    let total = c.cells.len() as u64;
    for (b, cells) in c.cells.chunks(CELLS_PER_BATCH).enumerate() {
        monitor.tick(task, (b * CELLS_PER_BATCH) as u64, total)?;
        // genes x cells by columns = cells x genes by rows (CSR).
        let m = store.submatrix(cells, c.genes, layer)?;
        let values: Vec<f32> = m.value.iter().map(|&v| v as f32).collect();
        let rows: Vec<I> = m.row.iter().map(|&r| index(r as usize)).collect();
        append(&data, &values, &mut at_data).map_err(h5err)?;
        append(&indices, &rows, &mut at_indices).map_err(h5err)?;
        let base = at_indices - m.row.len();
        indptr.extend(m.col_ptr[1..].iter().map(|&p| index(base + p)));
    }
    g.new_dataset_builder()
        .with_data(&indptr[..])
        .create("indptr")
        .map_err(h5err)?;
    monitor.report(task, total, total);
    Ok(())
}

fn write_frame(g: &Group, f: &FrameOut) -> hdf5::Result<()> {
    encoding(g, "dataframe", "0.2.0")?;
    attr_text(g, "_index", "_index")?;
    let order: Vec<VarLenUnicode> = f
        .columns
        .names
        .iter()
        .map(|n| text(n))
        .collect::<hdf5::Result<_>>()?;
    g.new_attr::<VarLenUnicode>()
        .shape(order.len())
        .create("column-order")?
        .write_raw(&order)?;
    write_strings(g, "_index", f.index.iter().map(|s| Some(s.as_str())))?;
    for (name, col) in f.columns.names.iter().zip(&f.columns.columns) {
        write_column(g, name, col)?;
    }
    Ok(())
}

fn write_strings<'a>(
    g: &Group,
    name: &str,
    values: impl Iterator<Item = Option<&'a str>>,
) -> hdf5::Result<()> {
    let v: Vec<VarLenUnicode> = values
        .map(|s| text(s.unwrap_or("")))
        .collect::<hdf5::Result<_>>()?;
    let ds = g.new_dataset_builder().with_data(&v[..]).create(name)?;
    encoding(&ds, "string-array", "0.2.0")
}

fn write_array<T: H5Type>(g: &Group, name: &str, values: &[T]) -> hdf5::Result<()> {
    let ds = g.new_dataset_builder().with_data(values).create(name)?;
    encoding(&ds, "array", "0.2.0")
}

/// Values with a missing-value mask (anndata's nullable-integer / nullable-boolean).
fn write_nullable<T: H5Type + Copy + Default>(
    g: &Group,
    name: &str,
    kind: &str,
    v: &[Option<T>],
) -> hdf5::Result<()> {
    let cg = g.create_group(name)?;
    encoding(&cg, kind, "0.1.0")?;
    write_array(
        &cg,
        "values",
        &v.iter().map(|x| x.unwrap_or_default()).collect::<Vec<T>>(),
    )?;
    write_array(&cg, "mask", &v.iter().map(Option::is_none).collect::<Vec<bool>>())
}

fn write_categorical(
    g: &Group,
    name: &str,
    codes: &[Option<u32>],
    levels: &[String],
    ordered: bool,
) -> hdf5::Result<()> {
    let cg = g.create_group(name)?;
    encoding(&cg, "categorical", "0.2.0")?;
    cg.new_attr::<bool>().create("ordered")?.write_scalar(&ordered)?;
    write_array(
        &cg,
        "codes",
        &codes
            .iter()
            .map(|c| c.map_or(-1, |c| c as i32))
            .collect::<Vec<i32>>(),
    )?;
    write_strings(&cg, "categories", levels.iter().map(|s| Some(s.as_str())))
}

fn write_column(g: &Group, name: &str, col: &Column) -> hdf5::Result<()> {
    let complete = |n: usize| n == col.len();
    match col {
        Column::Bool(v) if complete(v.iter().flatten().count()) => {
            write_array(g, name, &v.iter().flatten().copied().collect::<Vec<_>>())
        }
        Column::Bool(v) => write_nullable(g, name, "nullable-boolean", v),
        Column::Int(v) if complete(v.iter().flatten().count()) => {
            write_array(g, name, &v.iter().flatten().copied().collect::<Vec<_>>())
        }
        Column::Int(v) => write_nullable(g, name, "nullable-integer", v),
        Column::Real(v) => write_array(
            g,
            name,
            &v.iter().map(|x| x.unwrap_or(f64::NAN)).collect::<Vec<_>>(),
        ),
        Column::Text(v) if complete(v.iter().flatten().count()) => {
            write_strings(g, name, v.iter().map(|s| s.as_deref()))
        }
        // Text with missing values: pandas' missing strings are best kept as a categorical.
        Column::Text(v) => {
            let (codes, levels) = text_codes(v);
            write_categorical(g, name, &codes, &levels, false)
        }
        Column::Category {
            codes,
            levels,
            ordered,
        } => write_categorical(g, name, codes, levels, *ordered),
    }
}

/// Codes and levels (in order of first appearance) of a text column.
fn text_codes(v: &[Option<String>]) -> (Vec<Option<u32>>, Vec<String>) {
    let mut levels: Vec<String> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let codes = v
        .iter()
        .map(|s| {
            s.as_ref().map(|s| {
                *index.entry(s.clone()).or_insert_with(|| {
                    levels.push(s.clone());
                    levels.len() as u32 - 1
                })
            })
        })
        .collect();
    (codes, levels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::h5ad::{H5adOptions, H5adSource};
    use crate::input::h5matrix::Rounding;
    use crate::input::mtx::{MtxFiles, MtxSource};
    use crate::input::{CellBatch, CellSource};
    use crate::simulate::{simulate_10x, SimOptions};
    use crate::store::ingest::{ingest, IngestOptions};
    use crate::store::manifest::StagedStore;
    use crate::testdir::TestDir;

    #[test]
    fn a_written_h5ad_reads_back_with_the_same_counts_and_columns() {
        let dir = TestDir::new();
        let sim = dir.path().join("sim");
        simulate_10x(
            &sim,
            &SimOptions {
                n_cells: 400,
                n_genes: 150,
                ..Default::default()
            },
            Monitor::quiet(),
        )
        .unwrap();
        let target = dir.path().join("store");
        let staged = StagedStore::begin(&target).unwrap();
        let done = ingest(
            &mut MtxSource::open(MtxFiles::in_dir(&sim).unwrap()).unwrap(),
            staged.dir(),
            &IngestOptions::default(),
            Monitor::quiet(),
        )
        .unwrap();
        staged.commit(&done.manifest).unwrap();
        let store = Store::open(&target).unwrap();

        let cells: Vec<u32> = (0..400).rev().step_by(3).collect();
        let genes: Vec<u32> = (0..150).step_by(2).collect();
        let mut obs = Frame::default();
        obs.push(
            "group",
            Column::Category {
                codes: cells.iter().map(|&c| (c % 4 != 0).then_some(c % 3)).collect(),
                levels: vec!["a".into(), "b".into(), "c".into()],
                ordered: false,
            },
        );
        obs.push(
            "depth",
            Column::Int(cells.iter().map(|&c| (c % 5 != 0).then_some(c as i64)).collect()),
        );
        obs.push(
            "note",
            Column::Text(
                cells
                    .iter()
                    .map(|&c| (c % 7 != 0).then(|| format!("n{c}")))
                    .collect(),
            ),
        );
        let cell_ids: Vec<String> = cells
            .iter()
            .map(|&c| done.obs.cell_id[c as usize].clone())
            .collect();
        let gene_ids: Vec<String> = genes
            .iter()
            .map(|&g| done.var.gene_id[g as usize].clone())
            .collect();
        let var = Frame::default();
        let out = dir.path().join("x.h5ad");
        let content = H5adContent {
            cells: &cells,
            genes: &genes,
            obs: FrameOut {
                index: &cell_ids,
                columns: &obs,
            },
            var: FrameOut {
                index: &gene_ids,
                columns: &var,
            },
            norm_layer: true,
        };
        write_h5ad(&store, &out, &content, Monitor::quiet()).unwrap();
        assert!(write_h5ad(&store, &out, &content, Monitor::quiet())
            .unwrap_err()
            .to_string()
            .contains("already exists"));

        let mut back = H5adSource::open(
            &out,
            &H5adOptions {
                counts: "auto".into(),
                rounding: Rounding::Refuse,
            },
        )
        .unwrap();
        assert_eq!(back.counts_from, "X");
        assert_eq!(back.labels().cell_ids, cell_ids);
        assert_eq!(back.labels().features.ids, gene_ids);
        assert_eq!(back.labels().obs.columns[0], obs.columns[0]);
        assert_eq!(back.labels().obs.columns[1], obs.columns[1]);
        // Text with missing values is written as a categorical: same values.
        assert_eq!(back.labels().obs.columns[2].to_text(), obs.columns[2].to_text());
        let expected = store.submatrix(&cells, &genes, Layer::Raw).unwrap();
        let mut seen = vec![Vec::new(); cells.len()];
        back.pass(&mut |b: CellBatch| {
            for k in 0..b.len() {
                let (c, g, n) = b.cell(k);
                seen[c as usize] = g.iter().zip(n).map(|(&g, &n)| (g, n as f64)).collect();
            }
            Ok(())
        })
        .unwrap();
        for (k, got) in seen.iter().enumerate() {
            let r = expected.col_ptr[k]..expected.col_ptr[k + 1];
            let want: Vec<(u32, f64)> = expected.row[r.clone()]
                .iter()
                .copied()
                .zip(expected.value[r].iter().copied())
                .collect();
            assert_eq!(got, &want, "cell {k}");
        }
    }
}
