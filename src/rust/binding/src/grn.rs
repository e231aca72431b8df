//! Gene regulatory networks: on a store (a step) or on a plain genes x cells matrix.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, session, Res};
use cellstream_engine::grn::codes::Binning;
use cellstream_engine::grn::input::Transform;
use cellstream_engine::grn::network::edges;
use cellstream_engine::grn::{fit_in_chunks, Columns, GrnParams, Method, Regulators};
use cellstream_steps::{infer_grn, GrnRequest};
use extendr_api::prelude::*;

/// `opts`: the named list R's `grn_options()` builds.
fn params(opts: &Robj) -> Res<GrnParams> {
    let get = fields(opts, "opts")?;
    let name = string(&get("method")?, "method")?;
    let method = Method::parse(&name).ok_or_else(|| {
        format!(
            "`method` must be one of {}, not \"{name}\"",
            Method::NAMES.join(", ")
        )
    })?;
    let binning = match string(&get("binning")?, "binning")?.as_str() {
        "quantile" => Binning::Quantile,
        "equal_width" => Binning::EqualWidth,
        other => {
            return Err(format!(
                "`binning` must be \"quantile\" or \"equal_width\", not \"{other}\""
            ))
        }
    };
    let optional = |name: &str| -> Res<Option<f64>> {
        let v = number(&get(name)?, name)?;
        Ok(v.is_finite().then_some(v))
    };
    Ok(GrnParams {
        method,
        n_trees: count(&get("n_trees")?, "n_trees")? as usize,
        max_trees: count(&get("max_trees")?, "max_trees")? as usize,
        learning_rate: number(&get("learning_rate")?, "learning_rate")?,
        max_depth: optional("max_depth")?.map(|d| d as usize),
        max_features: optional("max_features")?,
        subsample: optional("subsample")?,
        early_stop_window: count(&get("early_stop_window")?, "early_stop_window")? as usize,
        batch_size: count(&get("batch_size")?, "batch_size")? as usize,
        n_bins: count(&get("n_bins")?, "n_bins")? as usize,
        binning,
        screen_k: optional("screen_k")?.map(|k| k as usize),
        seed: count(&get("seed")?, "seed")?,
    })
}

fn indices(x: &Robj, arg: &str) -> Res<Vec<usize>> {
    Ok(rust_indices(x, arg)?.into_iter().map(|i| i as usize).collect())
}

/// The step `grn:<name>`. Returns list(edges, targets, n_cells).
#[extendr]
fn cs_grn(
    store: Robj,
    name: Robj,
    tfs: Robj,
    targets: Robj,
    cells: Robj,
    stratify_by: Robj,
    max_cells: Robj,
    transform: Robj,
    opts: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let transform = match string(&transform, "transform")?.as_str() {
            "norm" => Transform::Norm,
            "log1p_raw" => Transform::Log1pRaw,
            "raw" => Transform::Raw,
            other => {
                return Err(format!(
                    "`transform` must be \"norm\", \"log1p_raw\" or \"raw\", not \"{other}\""
                ))
            }
        };
        let (tfs, targets) = (indices(&tfs, "tfs")?, indices(&targets, "targets")?);
        let (cells, stratify_by) = (
            optional_string(&cells, "cells")?,
            optional_string(&stratify_by, "stratify_by")?,
        );
        let name = string(&name, "name")?;
        let req = GrnRequest {
            name: &name,
            tfs: &tfs,
            targets: &targets,
            cells: cells.as_deref(),
            stratify_by: stratify_by.as_deref(),
            max_cells: count(&max_cells, "max_cells")? as usize,
            transform,
            params: params(&opts)?,
        };
        let network = with_progress(&progress, |monitor| {
            s.write(|db| infer_grn(&s.store, db, &req, monitor))
        })?;
        Ok(list!(
            edges = table_to_list(network.edges),
            targets = table_to_list(network.targets),
            n_cells = network.n_cells as f64
        )
        .into())
    })
}

/// A network from a plain matrix given as its columns (genes; `i` 0-based cells, `p`, `x`,
/// values already transformed). Returns 0-based TF and target positions and per-target fits.
#[extendr]
fn cs_grn_matrix(
    i: Robj,
    p: Robj,
    x: Robj,
    n_cells: Robj,
    tfs: Robj,
    targets: Robj,
    opts: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let rows = rust_indices(&i, "i")?;
        let ptr = indices(&p, "p")?;
        let values = x.as_real_slice().ok_or("`x` must be numeric")?;
        let n_cells = count(&n_cells, "n_cells")? as usize;
        let columns = |genes: &[usize]| -> Res<Columns> {
            let mut out = Columns {
                n_cells,
                ptr: vec![0],
                ..Default::default()
            };
            for &g in genes {
                for k in ptr[g]..ptr[g + 1] {
                    if !values[k].is_finite() {
                        return Err("the matrix holds NA or infinite values".into());
                    }
                    if values[k] != 0.0 {
                        out.cells.push(rows[k]);
                        out.values.push(values[k] as f32);
                    }
                }
                out.ptr.push(out.cells.len());
            }
            Ok(out)
        };
        let (tfs, targets) = (indices(&tfs, "tfs")?, indices(&targets, "targets")?);
        let params = params(&opts)?;
        let tf_values = columns(&tfs)?;
        let regulators = Regulators::new(&tf_values, &tfs, &params).map_err(|e| e.to_string())?;
        let fits = with_progress(&progress, |monitor| {
            fit_in_chunks(
                &regulators,
                &targets,
                |g| columns(g).map_err(cellstream_engine::Error::Request),
                &params,
                monitor,
            )
            .map_err(|e| e.to_string())
        })?;
        let rows = edges(&fits);
        let ints = |f: &dyn Fn(&cellstream_engine::grn::network::Edge) -> usize| -> Robj {
            rows.iter().map(|e| f(e) as i32).collect::<Vec<i32>>().into()
        };
        let reals = |f: &dyn Fn(&cellstream_engine::grn::network::Edge) -> f64| -> Robj {
            rows.iter().map(f).collect::<Vec<f64>>().into()
        };
        let n_trees: Vec<i32> = fits.iter().map(|f| f.fit.n_trees as i32).collect();
        let notes: Vec<Option<String>> = fits.iter().map(|f| f.fit.note.clone()).collect();
        Ok(list!(
            tf = ints(&|e| tfs[e.tf]),
            target = ints(&|e| e.target),
            importance = reals(&|e| e.importance),
            importance_norm = reals(&|e| e.importance_norm),
            rank_in_target = ints(&|e| e.rank_in_target as usize),
            rho = reals(&|e| e.rho),
            n_trees = n_trees,
            notes = Strings::from_values(notes.iter().map(|n| n.as_deref().unwrap_or(""))),
        )
        .into())
    })
}

extendr_module! {
    mod grn;
    fn cs_grn;
    fn cs_grn_matrix;
}
