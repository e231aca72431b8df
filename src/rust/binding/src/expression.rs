//! Expression per group of cells and pseudobulk sums.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, session};
use cellstream_engine::aggregate::summary::Statistic;
use cellstream_engine::aggregate::Value;
use cellstream_steps::{aggregate_expression, pseudobulk, AggregateRequest};
use extendr_api::prelude::*;

fn statistic(name: &str) -> Result<Statistic, String> {
    Ok(match name {
        "sum" => Statistic::Sum,
        "mean" => Statistic::Mean,
        "count_nonzero" => Statistic::CountNonzero,
        "pct" => Statistic::Pct,
        "max" => Statistic::Max,
        "var" => Statistic::Var,
        "mean_nonzero" => Statistic::MeanNonzero,
        other => return Err(format!("unknown statistic \"{other}\"")),
    })
}

/// Returns list(levels, n_cells, values): one genes x groups vector (column-major) per statistic.
#[extendr]
fn cs_aggregate(
    store: Robj,
    genes: Robj,
    group_by: Robj,
    condition: Robj,
    funs: Robj,
    layer: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let genes = rust_indices(&genes, "features")?;
        let group_by = optional_string(&group_by, "group_by")?;
        let condition = optional_string(&condition, "where")?;
        let stats = optional_strings(&funs, "fun")?
            .unwrap_or_default()
            .iter()
            .map(|f| statistic(f))
            .collect::<Result<Vec<_>, _>>()?;
        let value = match string(&layer, "layer")?.as_str() {
            "raw" => Value::Raw,
            "norm" => Value::Norm,
            "cp10k" => Value::Scaled,
            other => {
                return Err(format!(
                    "`layer` must be \"raw\", \"norm\" or \"cp10k\", not \"{other}\""
                ))
            }
        };
        let agg = with_progress(&progress, |monitor| {
            s.read(|db| {
                let req = AggregateRequest {
                    genes: &genes,
                    group_by: group_by.as_deref(),
                    condition: condition.as_deref(),
                    stats: &stats,
                    value,
                };
                aggregate_expression(&s.store, db, &req, monitor)
            })
        })?;
        let values: Vec<Robj> = agg.values.into_iter().map(Robj::from).collect();
        Ok(list!(
            levels = agg.levels,
            n_cells = agg.n_cells.iter().map(|&n| n as f64).collect::<Vec<f64>>(),
            values = List::from_values(values)
        )
        .into())
    })
}

/// Returns the dgCMatrix parts (0-based i, p, x, dims) and per column sample, group, n_cells,
/// n_counts.
#[extendr]
fn cs_pseudobulk(store: Robj, sample_by: Robj, group_by: Robj, condition: Robj, progress: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let sample_by = string(&sample_by, "sample_by")?;
        let group_by = optional_string(&group_by, "group_by")?;
        let condition = optional_string(&condition, "where")?;
        let pb = with_progress(&progress, |monitor| {
            s.read(|db| {
                pseudobulk(
                    &s.store,
                    db,
                    &sample_by,
                    group_by.as_deref(),
                    condition.as_deref(),
                    monitor,
                )
            })
        })?;
        let m = &pb.sums.counts;
        Ok(list!(
            i = m.row.iter().map(|&r| r as i32).collect::<Vec<i32>>(),
            p = m.col_ptr.iter().map(|&p| p as f64).collect::<Vec<f64>>(),
            x = m.value.clone(),
            dims = vec![m.n_rows as f64, m.n_cols as f64],
            sample = pb.samples,
            group = pb.groups,
            n_cells = pb.sums.n_cells.iter().map(|&n| n as f64).collect::<Vec<f64>>(),
            n_counts = pb.sums.n_counts.iter().map(|&n| n as f64).collect::<Vec<f64>>()
        )
        .into())
    })
}

extendr_module! {
    mod expression;
    fn cs_aggregate;
    fn cs_pseudobulk;
}
