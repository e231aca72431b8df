//! Sub-matrices and gene values read from the chunk files.

use super::convert::*;
use super::{guarded, session};
use extendr_api::prelude::*;

#[extendr]
fn cs_counts(store: Robj, cells: Robj, genes: Robj, layer: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, genes) = (rust_indices(&cells, "cells")?, rust_indices(&genes, "genes")?);
        let m = s
            .store
            .submatrix(&cells, &genes, layer_of(&layer)?)
            .map_err(|e| e.to_string())?;
        let pick =
            |ids: &[String], at: &[u32]| Strings::from_values(at.iter().map(|&i| ids[i as usize].as_str()));
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
        let values = s
            .store
            .gene_values(&rust_indices(&genes, "genes")?, layer_of(&layer)?)
            .map_err(|e| e.to_string())?;
        Ok(List::from_values(values).into())
    })
}

extendr_module! {
    mod matrix;
    fn cs_counts;
    fn cs_gene_values;
}
