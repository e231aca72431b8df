//! The kept cells: read, replaced, or chosen by an SQL condition on obs.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, session};
use cellstream_steps::cells_where;
use extendr_api::prelude::*;

#[extendr]
fn cs_keep(store: Robj) -> Robj {
    guarded(|| {
        Ok(session::open(&path(&store, "store")?)?
            .read(|db| db.keep())?
            .into())
    })
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
        let generation = s.write(|db| db.set_keep(&keep))?;
        Ok((generation as f64).into())
    })
}

#[extendr]
fn cs_keep_where(store: Robj, condition: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let condition = string(&condition, "cells")?;
        let (n, generation) = with_progress(&Robj::from(()), |monitor| {
            s.write(|writer| {
                // The writer published the current state, so the snapshot holds it.
                let keep = s.read(|reader| cells_where(reader, &condition, &monitor))?;
                Ok((keep.iter().filter(|&&k| k).count(), writer.set_keep(&keep)?))
            })
        })?;
        Ok(list!(n_kept = n as f64, generation = generation as f64).into())
    })
}

extendr_module! {
    mod keep;
    fn cs_keep;
    fn cs_set_keep;
    fn cs_keep_where;
}
