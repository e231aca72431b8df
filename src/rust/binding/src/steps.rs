//! The record of analysis steps and whether each result is current.

use super::convert::*;
use super::{guarded, session};
use cellstream_steps::{rerun_hint, Column, Frame};
use extendr_api::prelude::*;

/// The recorded analysis steps, with whether each is current.
#[extendr]
fn cs_steps(store: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let steps = s.read(|db| db.steps())?;
        let mut t = Frame::default();
        t.push(
            "step",
            Column::Text(steps.iter().map(|s| Some(s.step.clone())).collect()),
        );
        t.push(
            "params",
            Column::Text(steps.iter().map(|s| Some(s.params.clone())).collect()),
        );
        t.push(
            "generation",
            Column::Int(steps.iter().map(|s| s.generation).collect()),
        );
        t.push(
            "current",
            Column::Bool(steps.iter().map(|s| Some(s.stale.is_none())).collect()),
        );
        t.push(
            "stale_because",
            Column::Text(steps.iter().map(|s| s.stale.clone()).collect()),
        );
        t.push(
            "rerun",
            Column::Text(steps.iter().map(|s| Some(rerun_hint(&s.step))).collect()),
        );
        t.push(
            "columns",
            Column::Text(steps.iter().map(|s| Some(s.columns.join(","))).collect()),
        );
        Ok(table_to_list(t))
    })
}

/// TRUE when `step` has a current result; an error naming what to rerun otherwise.
#[extendr]
fn cs_require_current(store: Robj, step: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let step = string(&step, "step")?;
        s.read(|db| db.require_current(&step))?;
        Ok(true.into())
    })
}

extendr_module! {
    mod steps;
    fn cs_steps;
    fn cs_require_current;
}
