//! Quality control: per-cell metrics and outlier calls.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, session, Res};
use cellstream_engine::qc::outlier::{Direction, Rule};
use cellstream_steps::{find_outliers, run_qc, MetricRule, QcRequest};
use extendr_api::prelude::*;

#[extendr]
fn cs_qc(store: Robj, set_names: Robj, set_genes: Robj, top_n: Robj, progress: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let names = optional_strings(&set_names, "gene set names")?.unwrap_or_default();
        let genes = set_genes.as_list().ok_or("gene sets must be a list")?;
        let sets = names
            .into_iter()
            .zip(genes.values())
            .map(|(n, g)| Ok((n, rust_indices(&g, "gene set")?)))
            .collect::<Res<Vec<_>>>()?;
        let req = QcRequest {
            sets,
            top_n: positive_counts(&top_n, "top_n")?,
        };
        with_progress(&progress, |monitor| {
            s.write(|db| run_qc(&s.store, db, &req, monitor))
        })?;
        Ok(().into())
    })
}

/// One rule per metric: direction "none" means fixed thresholds only; NA min / max: none.
#[extendr]
fn cs_outliers(
    store: Robj,
    metrics: Robj,
    directions: Robj,
    nmads: Robj,
    log: Robj,
    min: Robj,
    max: Robj,
    by: Robj,
    column: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let metrics = optional_strings(&metrics, "metrics")?.unwrap_or_default();
        let directions = optional_strings(&directions, "directions")?.unwrap_or_default();
        let (log, min, max) = (
            flags(&log, "log")?,
            optional_numbers(&min, "min")?,
            optional_numbers(&max, "max")?,
        );
        let nmads = number(&nmads, "nmads")?;
        let rules = (0..metrics.len())
            .map(|k| {
                let mad = match directions[k].as_str() {
                    "none" => None,
                    d => Some((nmads, Direction::parse(d).map_err(|e| e.to_string())?)),
                };
                Ok(MetricRule {
                    metric: metrics[k].clone(),
                    rule: Rule {
                        mad,
                        log: log[k],
                        min: min[k],
                        max: max[k],
                    },
                })
            })
            .collect::<Res<Vec<_>>>()?;
        let (by, column) = (optional_string(&by, "by")?, string(&column, "column")?);
        let n_outliers = s.write(|db| find_outliers(db, &rules, by.as_deref(), &column))?;
        Ok((n_outliers as f64).into())
    })
}

extendr_module! {
    mod qc;
    fn cs_qc;
    fn cs_outliers;
}
