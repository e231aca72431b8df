//! The GRN step: TFs and targets of the store fitted on (at most `max_cells` of) the kept
//! cells, optionally only those of a logical obs column; the edge table and a per-target
//! table are kept as the step `grn:<name>`, stamped with the kept cells and the steps that
//! wrote the selection and stratification columns.

use crate::steps::StepRecord;
use crate::{MetaDb, Result};
use cellstream_engine::frame::{Column, Frame};
use cellstream_engine::grn::input::{FittingCells, Transform};
use cellstream_engine::grn::network::edges;
use cellstream_engine::grn::{fit_in_chunks, GrnParams, Method, Regulators, TargetFit};
use cellstream_engine::monitor::Monitor;
use cellstream_engine::store::Store;

pub struct GrnRequest<'a> {
    /// Names the step `grn:<name>`.
    pub name: &'a str,
    /// TF and target genes (0-based).
    pub tfs: &'a [usize],
    pub targets: &'a [usize],
    /// A logical obs column: only the kept cells where it is TRUE.
    pub cells: Option<&'a str>,
    /// An obs column whose groups keep their share when cells are drawn.
    pub stratify_by: Option<&'a str>,
    pub max_cells: usize,
    pub transform: Transform,
    pub params: GrnParams,
}

/// The edge table (TF, target, importance, importance_norm, rank_in_target, rho, ids) and
/// the per-target table (target, n_trees, note).
pub struct Network {
    pub edges: Frame,
    pub targets: Frame,
    pub n_cells: usize,
}

pub fn infer_grn(store: &Store, db: &mut MetaDb, req: &GrnRequest, monitor: Monitor) -> Result<Network> {
    let mut keep = db.keep()?;
    let mut inputs: Vec<String> = Vec::new();
    if let Some(column) = req.cells {
        inputs.extend(db.require_current_column(column)?);
        let chosen = db.obs_numbers(column)?;
        if chosen.iter().any(|v| !(v.is_nan() || *v == 0.0 || *v == 1.0)) {
            return Err(format!(
                "`cells` names obs column '{column}', which is not logical (TRUE / FALSE)"
            ));
        }
        keep.iter_mut().zip(&chosen).for_each(|(k, &v)| *k &= v == 1.0);
    }
    let kept: Vec<u32> = (0..keep.len() as u32).filter(|&c| keep[c as usize]).collect();
    let subsample = req.params.subsample.unwrap_or(match req.params.method {
        Method::Gbm => 0.9,
        _ => 0.632,
    });
    let fitted = kept.len().min(req.max_cells);
    if ((fitted as f64) * subsample) < 10.0 {
        return Err(format!(
            "{} cell(s) are selected; trees fitted on a subsample of {subsample} need at least {} \
            (select more cells, or raise `subsample`)",
            kept.len(),
            (10.0 / subsample).ceil()
        ));
    }
    let strata = match req.stratify_by {
        Some(column) => {
            inputs.extend(db.require_current_column(column)?);
            Some(db.groups(column, Some(&keep))?.0)
        }
        None => None,
    };
    let cells = FittingCells::draw(
        &kept,
        store.n_cells(),
        req.max_cells,
        strata.as_deref(),
        req.params.seed,
    );
    let library = db.obs_numbers("n_counts")?;
    let read = |genes: &[usize]| cells.read(store, genes, &library, req.transform, Monitor::quiet());
    let tf_values = read(req.tfs).map_err(|e| e.to_string())?;
    let regulators = Regulators::new(&tf_values, req.tfs, &req.params).map_err(|e| e.to_string())?;
    let fits =
        fit_in_chunks(&regulators, req.targets, read, &req.params, monitor).map_err(|e| e.to_string())?;
    let network = Network {
        edges: edge_frame(db, &fits, req.tfs)?,
        targets: target_frame(db, &fits)?,
        n_cells: cells.cells.len(),
    };
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    db.store_result(
        &StepRecord {
            step: &format!("grn:{}", req.name),
            uses_kept_cells: true,
            inputs: &inputs,
            params: describe(req, network.n_cells),
            tables: &[("table", &network.edges), ("targets", &network.targets)],
        },
        &Frame::default(),
        &Frame::default(),
    )?;
    Ok(network)
}

/// Gene ids and symbols in store order.
type Names = Vec<Option<String>>;

fn names(db: &MetaDb) -> Result<(Names, Names)> {
    let genes = db.query("SELECT gene_id, symbol FROM var ORDER BY gene_index")?;
    Ok((genes.columns[0].to_text(), genes.columns[1].to_text()))
}

fn edge_frame(db: &MetaDb, fits: &[TargetFit], tfs: &[usize]) -> Result<Frame> {
    let (ids, symbols) = names(db)?;
    let rows = edges(fits);
    let text = |of: &dyn Fn(&cellstream_engine::grn::network::Edge) -> usize, names: &[Option<String>]| {
        Column::Text(rows.iter().map(|e| names[of(e)].clone()).collect())
    };
    let real = |f: &dyn Fn(&cellstream_engine::grn::network::Edge) -> f64| {
        Column::Real(rows.iter().map(|e| Some(f(e))).collect())
    };
    let mut t = Frame::default();
    t.push("TF", text(&|e| tfs[e.tf], &symbols));
    t.push("target", text(&|e| e.target, &symbols));
    t.push("importance", real(&|e| e.importance));
    t.push("importance_norm", real(&|e| e.importance_norm));
    t.push(
        "rank_in_target",
        Column::Int(rows.iter().map(|e| Some(e.rank_in_target as i64)).collect()),
    );
    t.push("rho", real(&|e| e.rho));
    t.push("TF_id", text(&|e| tfs[e.tf], &ids));
    t.push("target_id", text(&|e| e.target, &ids));
    Ok(t)
}

fn target_frame(db: &MetaDb, fits: &[TargetFit]) -> Result<Frame> {
    let (ids, symbols) = names(db)?;
    let mut t = Frame::default();
    t.push(
        "target",
        Column::Text(fits.iter().map(|f| symbols[f.gene].clone()).collect()),
    );
    t.push(
        "target_id",
        Column::Text(fits.iter().map(|f| ids[f.gene].clone()).collect()),
    );
    t.push(
        "n_trees",
        Column::Int(fits.iter().map(|f| Some(f.fit.n_trees as i64)).collect()),
    );
    t.push(
        "note",
        Column::Text(fits.iter().map(|f| f.fit.note.clone()).collect()),
    );
    Ok(t)
}

fn describe(req: &GrnRequest, n_cells: usize) -> String {
    let p = &req.params;
    let depth = format!(", depth {}", p.depth());
    let method = match p.method {
        Method::Gbm => format!(
            "gbm (learning rate {}, at most {} trees{depth})",
            p.learning_rate, p.max_trees
        ),
        Method::Rf => format!("rf ({} trees{depth})", p.n_trees),
        Method::Batched => format!(
            "batched ({} trees{depth}, {} targets per batch)",
            p.n_trees, p.batch_size
        ),
        Method::SharedSplits => format!(
            "shared_splits ({} trees{depth}, {} correlated targets per tree)",
            p.n_trees,
            cellstream_engine::grn::shared::WIDTH
        ),
    };
    let screen = p
        .screen_k
        .map(|k| format!(", the {k} TFs of largest |rho| per target"))
        .unwrap_or_default();
    let transform = match req.transform {
        Transform::Norm => "norm",
        Transform::Log1pRaw => "log1p_raw",
        Transform::Raw => "raw",
    };
    format!(
        "method = {method}{screen}, {} TFs x {} targets on {n_cells} cells{}, target values = {transform}, seed = {}",
        req.tfs.len(),
        req.targets.len(),
        req.cells.map(|c| format!(" where {c}")).unwrap_or_default(),
        p.seed
    )
}
