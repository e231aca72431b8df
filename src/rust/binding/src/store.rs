//! The store itself: what `print()` and `dim()` show, closing it, SQL on its metadata, ids,
//! the user's own cell annotations.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, session};
use extendr_api::prelude::*;

/// Everything `print()` and `dim()` need, in one call.
#[extendr]
fn cs_store_info(store: Robj) -> Robj {
    guarded(|| {
        let dir = path(&store, "store")?;
        let s = session::open(&dir)?;
        let (n_kept, generation) = s.read(|db| Ok((db.n_kept()?, db.generation()?)))?;
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
            n_kept = n_kept as f64,
            keep_generation = generation as f64,
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
        let query = string(&query, "query")?;
        let table = with_progress(&Robj::from(()), |monitor| {
            s.read(|db| db.user_query(&query, &monitor))
        })?;
        Ok(table_to_list(table))
    })
}

/// Stores `values` (one per cell, store order) as the obs column `name`.
#[extendr]
fn cs_set_obs(store: Robj, name: Robj, values: Robj, levels: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let name = string(&name, "name")?;
        let values = column(&values, &levels, "values")?;
        s.write(|db| cellstream_steps::annotate_cells(db, &name, values))?;
        Ok(().into())
    })
}

/// Cell ids ("cells"), gene ids ("genes") or gene symbols ("symbols") in store order.
#[extendr]
fn cs_ids(store: Robj, which: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let ids = match string(&which, "which")?.as_str() {
            "cells" => s.cell_ids()?,
            "symbols" => s.gene_symbols()?,
            _ => s.gene_ids()?,
        };
        Ok(Strings::from_values(ids.iter().map(String::as_str)).into())
    })
}

extendr_module! {
    mod store;
    fn cs_store_info;
    fn cs_close;
    fn cs_sql;
    fn cs_set_obs;
    fn cs_ids;
}
