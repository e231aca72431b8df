//! The R binding: converts R values to engine types and back, and maps every error and panic
//! to a classed condition string that the R side raises with `stop()`. No logic lives here.

use cellstream_engine::combine::one_or_combined;
use cellstream_engine::h5ad::{H5adOptions, H5adSource};
use cellstream_engine::h5matrix::Rounding;
use cellstream_engine::mtx::{MtxFiles, MtxSource};
use cellstream_engine::simulate::{barcode, simulate_10x, SimOptions};
use cellstream_engine::source::CellSource;
use cellstream_engine::tenx_h5::{TenxH5Options, TenxH5Source};
use cellstream_engine::hvg::Method;
use cellstream_engine::outlier::{Direction, Rule};
use cellstream_engine::pca::{PcaOptions, Solver, DEFAULT_SOLVER};
use cellstream_meta::{create_store, export_h5ad, find_hvg, find_outliers, keep_where, pca_embedding, run_pca, run_qc, Column, Frame, HvgRequest, MetricRule, PcaRequest, QcRequest};
use extendr_api::prelude::*;

mod convert;
mod graph;
mod session;
mod umap;
use convert::*;

type Res<T> = std::result::Result<T, String>;

extern "C" {
    /// src/interrupt.c: true when the user pressed Ctrl-C (checked on R's main thread).
    fn cellstream_interrupt_pending() -> std::os::raw::c_int;
}

fn user_interrupted() -> bool {
    // SAFETY: called only from the R main thread, between batches of work.
    unsafe { cellstream_interrupt_pending() != 0 }
}

/// Progress for the R console through message(). It runs outside the R calls' condition
/// handlers (extendr evaluates at top level), so `verbose = FALSE` is what silences it.
fn report(verbose: bool, text: &str) {
    if verbose {
        // A failing message() handler must not stop the computation.
        let _ = call!("message", text);
    }
}

/// Runs `body`, turning errors and panics into a `cellstream_error` string for R.
fn guarded(body: impl FnOnce() -> Res<Robj>) -> Robj {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    let message = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(message)) => message,
        Err(panic) => {
            let what = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            format!("internal error in cellstream (please report it): {what}")
        }
    };
    let mut r = Robj::from(message);
    r.set_class(&["cellstream_error"]).expect("setting a class on a fresh string");
    r
}

#[extendr]
#[allow(clippy::too_many_arguments)] // mirrors simulate_counts()
fn cs_simulate(dir: Robj, n_cells: Robj, n_genes: Robj, n_clusters: Robj, seed: Robj, median_library: Robj, library_sdlog: Robj, theta: Robj, damaged_fraction: Robj, empty_fraction: Robj, v3: Robj) -> Robj {
    guarded(|| {
        let o = SimOptions {
            n_cells: count(&n_cells, "n_cells")? as usize,
            n_genes: count(&n_genes, "n_genes")? as usize,
            n_clusters: count(&n_clusters, "n_clusters")? as usize,
            seed: count(&seed, "seed")?,
            median_library: number(&median_library, "median_library")?,
            library_sdlog: number(&library_sdlog, "library_sdlog")?,
            theta: number(&theta, "theta")?,
            damaged_fraction: number(&damaged_fraction, "damaged_fraction")?,
            empty_fraction: number(&empty_fraction, "empty_fraction")?,
            v3: flag(&v3, "gzip")?,
        };
        if !(o.theta > 0.0 && o.median_library > 0.0 && o.library_sdlog >= 0.0 && (0.0..=1.0).contains(&o.damaged_fraction)) {
            return Err("theta and median_library must be positive, library_sdlog >= 0, damaged_fraction within [0, 1]".into());
        }
        let sim = simulate_10x(&path(&dir, "path")?, &o, &user_interrupted).map_err(|e| e.to_string())?;
        Ok(list!(
            nnz = sim.nnz as f64,
            cell_id = (0..o.n_cells).map(barcode).collect::<Vec<String>>(),
            cluster = sim.cluster.iter().map(|c| c.map_or(Rint::na(), |k| Rint::from(k as i32 + 1))).collect::<Integers>(),
            damaged = sim.damaged
        )
        .into())
    })
}

/// Opens every input, combines them when named (several samples), and builds the store.
/// Returns the store path and the notes for the user.
fn build_store(store: &Robj, samples: &Robj, genes: &Robj, filters: &Robj, open: &dyn Fn(usize) -> Res<Box<dyn CellSource>>, n_inputs: usize) -> Res<Robj> {
    let target = path(store, "store")?;
    let opts = ingest_options(filters)?;
    let sources = (0..n_inputs).map(open).collect::<Res<Vec<_>>>()?;
    let mut source = one_or_combined(optional_strings(samples, "samples")?, sources, gene_universe(genes)?).map_err(|e| e.to_string())?;
    let notes = create_store(&target, source.as_mut(), &opts, &user_interrupted)?;
    Ok(list!(path = target.to_string_lossy().into_owned(), notes = notes).into())
}

#[extendr]
fn cs_ingest_mtx(matrix: Robj, features: Robj, barcodes: Robj, samples: Robj, genes: Robj, store: Robj, filters: Robj) -> Robj {
    guarded(|| {
        let matrix = paths(&matrix, "path")?;
        let explicit = !features.is_null();
        let (features, barcodes) = if explicit { (paths(&features, "features")?, paths(&barcodes, "barcodes")?) } else { (vec![], vec![]) };
        let open = |i: usize| -> Res<Box<dyn CellSource>> {
            let files = if explicit {
                MtxFiles { matrix: matrix[i].clone(), features: features[i].clone(), barcodes: barcodes[i].clone() }
            } else {
                MtxFiles::in_dir(&matrix[i]).map_err(|e| e.to_string())?
            };
            Ok(Box::new(MtxSource::open(files).map_err(|e| e.to_string())?))
        };
        build_store(&store, &samples, &genes, &filters, &open, matrix.len())
    })
}

#[extendr]
fn cs_ingest_h5ad(files: Robj, counts: Robj, allow_non_integer: Robj, samples: Robj, genes: Robj, store: Robj, filters: Robj) -> Robj {
    guarded(|| {
        let files = paths(&files, "path")?;
        let rounding = if flag(&allow_non_integer, "allow_non_integer")? { Rounding::Nearest } else { Rounding::Refuse };
        let opts = H5adOptions { counts: string(&counts, "counts")?, rounding };
        let open = |i: usize| -> Res<Box<dyn CellSource>> { Ok(Box::new(H5adSource::open(&files[i], &opts).map_err(|e| e.to_string())?)) };
        build_store(&store, &samples, &genes, &filters, &open, files.len())
    })
}

#[extendr]
fn cs_ingest_10x_h5(files: Robj, genome: Robj, feature_types: Robj, samples: Robj, genes: Robj, store: Robj, filters: Robj) -> Robj {
    guarded(|| {
        let files = paths(&files, "path")?;
        let opts = TenxH5Options {
            genome: if genome.is_null() { None } else { Some(string(&genome, "genome")?) },
            feature_types: optional_strings(&feature_types, "feature_types")?.unwrap_or_default(),
        };
        let open = |i: usize| -> Res<Box<dyn CellSource>> { Ok(Box::new(TenxH5Source::open(&files[i], &opts).map_err(|e| e.to_string())?)) };
        build_store(&store, &samples, &genes, &filters, &open, files.len())
    })
}

#[extendr]
fn cs_write_h5ad(store: Robj, file: Robj, cells: Robj, genes: Robj, norm_layer: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, genes) = (rust_indices(&cells, "cells")?, rust_indices(&genes, "genes")?);
        export_h5ad(&s.store, &s.db(), &path(&file, "path")?, &cells, &genes, flag(&norm_layer, "normalized")?, &user_interrupted)?;
        Ok(().into())
    })
}

/// Everything `print()` and `dim()` need, in one call.
#[extendr]
fn cs_store_info(store: Robj) -> Robj {
    guarded(|| {
        let dir = path(&store, "store")?;
        let s = session::open(&dir)?;
        let db = s.db();
        let files = s.store.files().map_err(|e| e.to_string())?;
        let m = &s.store.manifest;
        Ok(list!(
            n_cells = m.n_cells as f64,
            n_genes = m.n_genes as f64,
            nnz = m.nnz as f64,
            target_sum = m.target_sum,
            source = m.ingest.source.clone(),
            input_cells = m.ingest.input_cells as f64,
            input_genes = m.ingest.input_genes as f64,
            min_cells = m.ingest.min_cells as f64,
            min_genes = m.ingest.min_genes as f64,
            min_counts = m.ingest.min_counts as f64,
            n_kept = db.n_kept()? as f64,
            keep_generation = db.generation()? as f64,
            file_names = files.iter().map(|f| f.0.clone()).collect::<Vec<String>>(),
            file_bytes = files.iter().map(|f| f.1 as f64).collect::<Vec<f64>>()
        )
        .into())
    })
}

#[extendr]
fn cs_close(store: Robj) -> Robj {
    guarded(|| Ok(session::close(&path(&store, "store")?).into()))
}

#[extendr]
fn cs_sql(store: Robj, query: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let table = s.db().query(&string(&query, "query")?)?;
        Ok(table_to_list(table))
    })
}

/// Cell ids ("cells") or gene ids ("genes") in store order.
#[extendr]
fn cs_ids(store: Robj, which: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let ids = match string(&which, "which")?.as_str() {
            "cells" => s.cell_ids()?,
            _ => s.gene_ids()?,
        };
        Ok(Strings::from_values(ids.iter().map(String::as_str)).into())
    })
}

#[extendr]
fn cs_counts(store: Robj, cells: Robj, genes: Robj, layer: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, genes) = (rust_indices(&cells, "cells")?, rust_indices(&genes, "genes")?);
        let m = s.store.submatrix(&cells, &genes, layer_of(&layer)?).map_err(|e| e.to_string())?;
        let pick = |ids: &[String], at: &[u32]| Strings::from_values(at.iter().map(|&i| ids[i as usize].as_str()));
        Ok(list!(
            i = m.row.iter().map(|&r| r as i32).collect::<Vec<i32>>(),
            p = m.col_ptr.iter().map(|&p| p as f64).collect::<Vec<f64>>(),
            x = m.value,
            dim = vec![m.n_rows as i32, m.n_cols as i32],
            gene_ids = pick(s.gene_ids()?, &genes),
            cell_ids = pick(s.cell_ids()?, &cells)
        )
        .into())
    })
}

#[extendr]
fn cs_gene_values(store: Robj, genes: Robj, layer: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let values = s.store.gene_values(&rust_indices(&genes, "genes")?, layer_of(&layer)?).map_err(|e| e.to_string())?;
        Ok(List::from_values(values).into())
    })
}

#[extendr]
fn cs_keep(store: Robj) -> Robj {
    guarded(|| Ok(session::open(&path(&store, "store")?)?.db().keep()?.into()))
}

#[extendr]
fn cs_set_keep(store: Robj, keep: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let keep = flags(&keep, "keep")?;
        if keep.len() != s.store.n_cells() {
            return Err(format!("the kept-cell vector has {} values but the store has {} cells", keep.len(), s.store.n_cells()));
        }
        let generation = s.db().set_keep(&keep)?;
        Ok((generation as f64).into())
    })
}

#[extendr]
fn cs_qc(store: Robj, set_names: Robj, set_genes: Robj, top_n: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let names = optional_strings(&set_names, "gene set names")?.unwrap_or_default();
        let genes = set_genes.as_list().ok_or("gene sets must be a list")?;
        let sets = names.into_iter().zip(genes.values()).map(|(n, g)| Ok((n, rust_indices(&g, "gene set")?))).collect::<Res<Vec<_>>>()?;
        let req = QcRequest { sets, top_n: positive_counts(&top_n, "top_n")? };
        let per_cell = run_qc(&s.store, &mut s.db(), &req, &user_interrupted)?;
        Ok(table_to_list(per_cell))
    })
}

/// One rule per metric: direction "none" means fixed thresholds only; NA min / max: none.
#[extendr]
#[allow(clippy::too_many_arguments)] // mirrors find_outliers()
fn cs_outliers(store: Robj, metrics: Robj, directions: Robj, nmads: Robj, log: Robj, min: Robj, max: Robj, by: Robj, column: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let metrics = optional_strings(&metrics, "metrics")?.unwrap_or_default();
        let directions = optional_strings(&directions, "directions")?.unwrap_or_default();
        let (log, min, max) = (flags(&log, "log")?, optional_numbers(&min, "min")?, optional_numbers(&max, "max")?);
        let nmads = number(&nmads, "nmads")?;
        let rules = (0..metrics.len())
            .map(|k| {
                let mad = match directions[k].as_str() {
                    "none" => None,
                    d => Some((nmads, Direction::parse(d).map_err(|e| e.to_string())?)),
                };
                Ok(MetricRule { metric: metrics[k].clone(), rule: Rule { mad, log: log[k], min: min[k], max: max[k] } })
            })
            .collect::<Res<Vec<_>>>()?;
        let (by, column) = (optional_string(&by, "by")?, optional_string(&column, "column")?);
        let (flags, bounds) = find_outliers(&mut s.db(), &rules, by.as_deref(), column.as_deref())?;
        Ok(list!(flags = table_to_list(flags), bounds = table_to_list(bounds)).into())
    })
}

#[extendr]
fn cs_keep_where(store: Robj, condition: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let mut db = s.db();
        let n = keep_where(&mut db, &string(&condition, "cells")?)?;
        Ok(list!(n_kept = n as f64, generation = db.generation()? as f64).into())
    })
}

#[extendr]
fn cs_hvg(store: Robj, method: Robj, n: Robj, batch: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let method = match string(&method, "method")?.as_str() {
            "vst" => Method::Vst,
            "dispersion" => Method::Dispersion,
            other => return Err(format!("`method` must be \"vst\" or \"dispersion\", not \"{other}\"")),
        };
        let batch = optional_string(&batch, "batch")?;
        let req = HvgRequest { method, n: count(&n, "n")? as usize, batch: batch.as_deref(), target_sum: s.store.manifest.target_sum };
        let genes = find_hvg(&s.store, &mut s.db(), &req, &user_interrupted)?;
        Ok(table_to_list(genes))
    })
}

/// `genes`: NULL for the highly variable genes, else 0-based indices.
#[extendr]
#[allow(clippy::too_many_arguments)] // mirrors run_pca()
fn cs_pca(store: Robj, n_pcs: Robj, scale: Robj, clip: Robj, method: Robj, seed: Robj, genes: Robj, verbose: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let solver = match string(&method, "method")?.as_str() {
            "randomized" => DEFAULT_SOLVER,
            "exact" => Solver::Exact,
            other => return Err(format!("`method` must be \"randomized\" or \"exact\", not \"{other}\"")),
        };
        let options = PcaOptions { n_pcs: count(&n_pcs, "n_pcs")? as usize, scale: flag(&scale, "scale")?, clip: number(&clip, "clip")?, solver, seed: count(&seed, "seed")? };
        let genes = if genes.is_null() { None } else { Some(rust_indices(&genes, "genes")?) };
        let verbose = flag(&verbose, "verbose")?;
        run_pca(&s.store, &mut s.db(), &PcaRequest { options, genes }, &user_interrupted, &|text: &str| report(verbose, text))?;
        Ok(true.into())
    })
}

/// The current PCA's cells (1-based) and embedding (a cells x PCs double matrix).
#[extendr]
fn cs_pca_embedding(store: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, e) = pca_embedding(&s.store, &s.db())?;
        Ok(embedding_to_r(&cells, &e))
    })
}

/// The recorded analysis steps, with whether each is current.
#[extendr]
fn cs_steps(store: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let steps = s.db().steps()?;
        let mut t = Frame::default();
        t.push("step", Column::Text(steps.iter().map(|s| Some(s.step.clone())).collect()));
        t.push("params", Column::Text(steps.iter().map(|s| Some(s.params.clone())).collect()));
        t.push("generation", Column::Int(steps.iter().map(|s| s.generation).collect()));
        t.push("current", Column::Bool(steps.iter().map(|s| Some(s.stale.is_none())).collect()));
        t.push("stale_because", Column::Text(steps.iter().map(|s| s.stale.clone()).collect()));
        t.push("rerun", Column::Text(steps.iter().map(|s| Some(cellstream_meta::rerun_hint(&s.step))).collect()));
        t.push("columns", Column::Text(steps.iter().map(|s| Some(s.columns.join(","))).collect()));
        Ok(table_to_list(t))
    })
}

/// TRUE when `step` has a current result; an error naming what to rerun otherwise.
#[extendr]
fn cs_require_current(store: Robj, step: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        s.db().require_current(&string(&step, "step")?)?;
        Ok(true.into())
    })
}

extendr_module! {
    mod cellstream;
    use graph;
    use umap;
    fn cs_simulate;
    fn cs_ingest_mtx;
    fn cs_ingest_h5ad;
    fn cs_ingest_10x_h5;
    fn cs_write_h5ad;
    fn cs_store_info;
    fn cs_close;
    fn cs_sql;
    fn cs_ids;
    fn cs_counts;
    fn cs_gene_values;
    fn cs_keep;
    fn cs_set_keep;
    fn cs_qc;
    fn cs_outliers;
    fn cs_keep_where;
    fn cs_hvg;
    fn cs_steps;
    fn cs_require_current;
    fn cs_pca;
    fn cs_pca_embedding;
}
