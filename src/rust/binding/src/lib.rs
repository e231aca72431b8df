//! The R binding: converts R values to engine types and back, and maps every error and panic
//! to a classed condition string that the R side raises with `stop()`. No logic lives here.

use cellstream_engine::ingest::{ingest, IngestOptions};
use cellstream_engine::manifest::{StagedStore, META_FILE};
use cellstream_engine::mtx::{MtxFiles, MtxSource};
use cellstream_engine::simulate::{barcode, simulate_10x, SimOptions};
use cellstream_meta::{MetaDb, NewObs, NewVar};
use extendr_api::prelude::*;

mod convert;
mod session;
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
fn cs_simulate(dir: Robj, n_cells: Robj, n_genes: Robj, n_clusters: Robj, seed: Robj, median_library: Robj, library_sdlog: Robj, theta: Robj, damaged_fraction: Robj, v3: Robj) -> Robj {
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
            v3: flag(&v3, "gzip")?,
        };
        if !(o.theta > 0.0 && o.median_library > 0.0 && o.library_sdlog >= 0.0 && (0.0..=1.0).contains(&o.damaged_fraction)) {
            return Err("theta and median_library must be positive, library_sdlog >= 0, damaged_fraction within [0, 1]".into());
        }
        let sim = simulate_10x(&path(&dir, "path")?, &o, &user_interrupted).map_err(|e| e.to_string())?;
        Ok(list!(
            nnz = sim.nnz as f64,
            cell_id = (0..o.n_cells).map(barcode).collect::<Vec<String>>(),
            cluster = sim.cluster.iter().map(|&c| c as i32 + 1).collect::<Vec<i32>>(),
            damaged = sim.damaged
        )
        .into())
    })
}

#[extendr]
#[allow(clippy::too_many_arguments)] // mirrors ingest_mtx()
fn cs_ingest_mtx(matrix: Robj, features: Robj, barcodes: Robj, store: Robj, min_cells: Robj, min_genes: Robj, min_counts: Robj, target_sum: Robj) -> Robj {
    guarded(|| {
        let matrix = path(&matrix, "path")?;
        let files = if features.is_null() && barcodes.is_null() {
            MtxFiles::in_dir(&matrix).map_err(|e| e.to_string())?
        } else {
            MtxFiles { matrix, features: path(&features, "features")?, barcodes: path(&barcodes, "barcodes")? }
        };
        let opts = IngestOptions {
            min_cells: count(&min_cells, "min_cells")? as u32,
            min_genes: count(&min_genes, "min_genes")? as u32,
            min_counts: count(&min_counts, "min_counts")?,
            target_sum: number(&target_sum, "target_sum")?,
            ..Default::default()
        };
        let target = path(&store, "store")?;
        let staged = StagedStore::begin(&target).map_err(|e| e.to_string())?;
        let mut source = MtxSource::open(files).map_err(|e| e.to_string())?;
        let done = ingest(&mut source, staged.dir(), &opts, &user_interrupted).map_err(|e| e.to_string())?;
        MetaDb::create(
            &staged.dir().join(META_FILE),
            &NewObs { cell_id: &done.obs.cell_id, n_counts: &done.obs.n_counts, n_genes: &done.obs.n_genes },
            &NewVar { gene_id: &done.var.gene_id, symbol: &done.var.symbol, feature_type: &done.var.feature_type, n_cells: &done.var.n_cells, n_counts: &done.var.n_counts },
        )?;
        staged.commit(&done.manifest).map_err(|e| e.to_string())?;
        Ok(target.to_string_lossy().into_owned().into())
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

extendr_module! {
    mod cellstream;
    fn cs_simulate;
    fn cs_ingest_mtx;
    fn cs_store_info;
    fn cs_close;
    fn cs_sql;
    fn cs_ids;
    fn cs_counts;
    fn cs_gene_values;
    fn cs_keep;
    fn cs_set_keep;
}
