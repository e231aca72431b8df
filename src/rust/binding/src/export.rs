//! Export: a store (or a subset) written as an h5ad file.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, session};
use cellstream_steps::export_h5ad;
use extendr_api::prelude::*;

#[extendr]
fn cs_write_h5ad(
    store: Robj,
    file: Robj,
    cells: Robj,
    genes: Robj,
    norm_layer: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, genes) = (rust_indices(&cells, "cells")?, rust_indices(&genes, "genes")?);
        let (file, norm_layer) = (path(&file, "path")?, flag(&norm_layer, "normalized")?);
        with_progress(&progress, |monitor| {
            s.read(|db| export_h5ad(&s.store, db, &file, &cells, &genes, norm_layer, monitor))
        })?;
        Ok(().into())
    })
}

extendr_module! {
    mod export;
    fn cs_write_h5ad;
}
