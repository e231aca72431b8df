//! The kept cells: read, replaced, or chosen by an SQL condition on obs.

use super::convert::*;
use super::{guarded, session};
use cellstream_steps::keep_where;
use extendr_api::prelude::*;

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
            return Err(format!(
                "the kept-cell vector has {} values but the store has {} cells",
                keep.len(),
                s.store.n_cells()
            ));
        }
        let generation = s.db().set_keep(&keep)?;
        Ok((generation as f64).into())
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

extendr_module! {
    mod keep;
    fn cs_keep;
    fn cs_set_keep;
    fn cs_keep_where;
}
