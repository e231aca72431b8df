//! The analysis steps that join chunk passes and metadata: QC metrics, outlier calls, the
//! kept-cell filter and highly variable genes. Each reads what it needs from the database,
//! runs the engine and records its result as a step (see `steps`).

use crate::steps::StepRecord;
use crate::{db_err, MetaDb, Result};
use cellstream_engine::frame::{Column, Frame};
use cellstream_engine::hvg::genestats::{CellGroups, NO_GROUP};
use cellstream_engine::hvg::{self, Method};
use cellstream_engine::monitor::Monitor;
use cellstream_engine::qc::cell_qc;
use cellstream_engine::qc::outlier::{outliers, Rule};
use cellstream_engine::store::Store;
use std::collections::HashMap;

pub struct QcRequest {
    /// Named gene sets (0-based gene indices): each gives an obs column `pct_<name>`.
    pub sets: Vec<(String, Vec<u32>)>,
    /// Each N gives an obs column `pct_top_<N>`.
    pub top_n: Vec<usize>,
}

/// Computes per-cell QC metrics in one pass and stores them in obs, with each gene's mean
/// count and % of cells without it in var.
pub fn run_qc(store: &Store, db: &mut MetaDb, req: &QcRequest, monitor: Monitor) -> Result<()> {
    let sets: Vec<Vec<u32>> = req.sets.iter().map(|s| s.1.clone()).collect();
    let qc = cell_qc(store, &sets, &req.top_n, monitor).map_err(|e| e.to_string())?;
    let mut per_cell = Frame::default();
    for ((name, _), pct) in req.sets.iter().zip(qc.pct_in_set) {
        per_cell.push(format!("pct_{name}"), real(pct));
    }
    for (n, pct) in req.top_n.iter().zip(qc.pct_in_top) {
        per_cell.push(format!("pct_top_{n}"), real(pct));
    }
    let n_cells = store.n_cells() as f64;
    let genes = db.query("SELECT n_cells, n_counts FROM var ORDER BY gene_index")?;
    let mut per_gene = Frame::default();
    per_gene.push(
        "mean_counts",
        Column::Real(
            numbers(&genes.columns[1])
                .into_iter()
                .map(|c| Some(c / n_cells))
                .collect(),
        ),
    );
    per_gene.push(
        "pct_dropout",
        Column::Real(
            numbers(&genes.columns[0])
                .into_iter()
                .map(|c| Some(100.0 * (1.0 - c / n_cells)))
                .collect(),
        ),
    );
    let described: Vec<String> = req
        .sets
        .iter()
        .map(|(name, genes)| format!("{name} ({} genes)", genes.len()))
        .collect();
    let top: Vec<String> = req.top_n.iter().map(|n| n.to_string()).collect();
    let params = format!(
        "gene sets {}; top {}",
        none_if_empty(described.join(", ")),
        none_if_empty(top.join(", "))
    );
    db.store_result(
        &StepRecord {
            step: "qc",
            uses_kept_cells: false,
            inputs: &[],
            params,
            tables: &[],
        },
        &per_cell,
        &per_gene,
    )
}

fn none_if_empty(s: String) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

fn real(v: Vec<f64>) -> Column {
    Column::Real(v.into_iter().map(Some).collect())
}

/// A column's values as numbers (missing: NaN).
fn numbers(c: &Column) -> Vec<f64> {
    match c {
        Column::Int(v) => v.iter().map(|x| x.map_or(f64::NAN, |x| x as f64)).collect(),
        Column::Real(v) => v.iter().map(|x| x.unwrap_or(f64::NAN)).collect(),
        Column::Bool(v) => v.iter().map(|x| x.map_or(f64::NAN, |b| b as u8 as f64)).collect(),
        _ => Vec::new(),
    }
}

/// One metric's outlier rule.
pub struct MetricRule {
    pub metric: String,
    pub rule: Rule,
}

/// Flags cells per metric and overall (any metric); with `by`, MADs are taken within each
/// group of that obs column. The overall flag is stored in obs as `column`; the step's tables
/// `flags` (per cell and metric) and `thresholds` (the bounds per metric and group) keep the
/// rest. Returns the number of outliers.
pub fn find_outliers(db: &mut MetaDb, rules: &[MetricRule], by: Option<&str>, column: &str) -> Result<usize> {
    let n_cells = db.n_cells()?;
    let (group, levels) = match by {
        Some(by) => db.groups(by, None)?,
        None => (vec![0; n_cells], vec!["all".to_string()]),
    };
    let mut flags = Frame::default();
    let mut any = vec![false; n_cells];
    let mut bounds: [Vec<Option<String>>; 2] = Default::default();
    let mut numbers_out: [Vec<Option<f64>>; 5] = Default::default();
    for r in rules {
        let values = db.obs_numbers(&r.metric)?;
        let (out, b) = outliers(&values, &group, levels.len(), &r.rule);
        for (g, b) in b.iter().enumerate() {
            bounds[0].push(Some(r.metric.clone()));
            bounds[1].push(Some(levels[g].clone()));
            let n_out = out
                .iter()
                .zip(&group)
                .filter(|(o, &k)| **o && k as usize == g)
                .count() as f64;
            for (slot, v) in numbers_out
                .iter_mut()
                .zip([b.median, b.mad, b.lower, b.upper, n_out])
            {
                slot.push(v.is_finite().then_some(v));
            }
        }
        any.iter_mut().zip(&out).for_each(|(a, &o)| *a |= o);
        flags.push(&r.metric, Column::Bool(out.into_iter().map(Some).collect()));
    }
    flags.push("outlier", Column::Bool(any.iter().map(|&a| Some(a)).collect()));
    let mut table = Frame::default();
    table.push("metric", Column::Text(std::mem::take(&mut bounds[0])));
    table.push("group", Column::Text(std::mem::take(&mut bounds[1])));
    for (name, v) in ["median", "mad", "lower", "upper", "n_outliers"]
        .into_iter()
        .zip(numbers_out)
    {
        table.push(name, Column::Real(v));
    }
    let mut stored = Frame::default();
    stored.push(column, Column::Bool(any.iter().map(|&a| Some(a)).collect()));
    let inputs: &[&str] = if db.steps()?.iter().any(|s| s.step == "qc") {
        &["qc"]
    } else {
        &[]
    };
    let params = rules.iter().map(describe_rule).collect::<Vec<_>>().join("; ")
        + &by.map(|b| format!("; by {b}")).unwrap_or_default();
    db.store_result(
        &StepRecord {
            step: &format!("outliers:{column}"),
            uses_kept_cells: false,
            inputs,
            params,
            tables: &[("flags", &flags), ("thresholds", &table)],
        },
        &stored,
        &Frame::default(),
    )?;
    Ok(any.iter().filter(|&&a| a).count())
}

fn describe_rule(r: &MetricRule) -> String {
    let mut parts = Vec::new();
    if let Some((nmads, direction)) = r.rule.mad {
        parts.push(
            format!(
                "{nmads} MADs {direction:?}{}",
                if r.rule.log { " (log)" } else { "" }
            )
            .to_lowercase(),
        );
    }
    r.rule.min.iter().for_each(|m| parts.push(format!(">= {m}")));
    r.rule.max.iter().for_each(|m| parts.push(format!("<= {m}")));
    format!("{} {}", r.metric, parts.join(", "))
}

/// The cells that satisfy `condition` (an SQL expression over obs columns), evaluated as the
/// user's query on `reader`, the readers' snapshot (so the condition can change nothing).
pub fn cells_where(reader: &MetaDb, condition: &str, monitor: &Monitor) -> Result<Vec<bool>> {
    let failed = |e: String| {
        let hint = if e.contains("not found") {
            format!(
                "; obs has the columns {}",
                reader.columns("obs").map(|c| c.join(", ")).unwrap_or_default()
            )
        } else {
            String::new()
        };
        format!("the cell filter \"{condition}\" failed: {e}{hint}")
    };
    let picked = reader
        .user_query(
            &format!("SELECT coalesce(CAST(({condition}) AS BOOLEAN), false) FROM obs ORDER BY cell_index"),
            monitor,
        )
        .map_err(failed)?;
    let keep: Vec<bool> = match picked.columns.first() {
        Some(Column::Bool(v)) => v.iter().map(|k| k.unwrap_or(false)).collect(),
        _ => return Err(failed("it does not give one TRUE/FALSE per cell".into())),
    };
    if !keep.contains(&true) {
        return Err(format!(
            "the cell filter \"{condition}\" selects no cell (of {}); the kept cells are unchanged",
            keep.len()
        ));
    }
    Ok(keep)
}

/// Stores the user's cell annotation `values` (one per cell, in store order) as the obs
/// column `name`, the step `obs:<name>`.
pub fn annotate_cells(db: &mut MetaDb, name: &str, values: Column) -> Result<()> {
    let n_cells = db.n_cells()?;
    if values.len() != n_cells {
        return Err(format!(
            "`values` has {} element(s); the store has {n_cells} cells (give one value per cell, NA \
            where none)",
            values.len()
        ));
    }
    let mut obs = Frame::default();
    obs.push(name, values);
    db.store_result(
        &StepRecord {
            step: &format!("obs:{name}"),
            uses_kept_cells: false,
            inputs: &[],
            params: "set by the user".into(),
            tables: &[],
        },
        &obs,
        &Frame::default(),
    )
}

pub struct HvgRequest<'a> {
    pub method: Method,
    pub n: usize,
    /// An obs column whose values are batches.
    pub batch: Option<&'a str>,
    pub target_sum: f64,
}

/// Finds highly variable genes on the kept cells and stores them in var. Returns var's
/// gene_id and symbol with the new columns.
pub fn find_hvg(store: &Store, db: &mut MetaDb, req: &HvgRequest, monitor: Monitor) -> Result<Frame> {
    let keep = db.keep()?;
    let (mut group, levels) = match req.batch {
        Some(batch) => db.groups(batch, Some(&keep))?,
        None => (vec![0; keep.len()], vec!["all".to_string()]),
    };
    group
        .iter_mut()
        .zip(&keep)
        .filter(|(_, &k)| !k)
        .for_each(|(g, _)| *g = NO_GROUP);
    let library = db.obs_numbers("n_counts")?;
    let scale: Vec<f64> = library
        .iter()
        .map(|&l| if l > 0.0 { req.target_sum / l } else { 0.0 })
        .collect();
    let cells = CellGroups::new(&group, levels.len(), &scale);
    if let Some((g, &size)) = cells.sizes.iter().enumerate().find(|(_, &s)| s < 2) {
        return Err(match req.batch {
            Some(batch) => format!(
                "batch '{}' of column '{batch}' has {size} kept cell(s); each batch \
                needs at least 2 (merge it into another batch, or drop its cells with set_keep())",
                levels[g]
            ),
            None => format!("{size} cell(s) are kept; highly variable genes need at least 2"),
        });
    }
    let found = hvg::find_hvg(store, &cells, req.method, req.n, monitor).map_err(|e| e.to_string())?;
    let mut result = Frame::default();
    for (name, values) in &found.stats {
        result.push(
            *name,
            Column::Real(values.iter().map(|&v| v.is_finite().then_some(v)).collect()),
        );
    }
    result.push(
        "hvg_rank",
        Column::Int(found.rank.iter().map(|r| r.map(i64::from)).collect()),
    );
    if req.batch.is_some() {
        result.push(
            "hvg_n_batches",
            Column::Int(found.n_batches.iter().map(|&n| Some(n as i64)).collect()),
        );
    }
    result.push(
        "highly_variable",
        Column::Bool(found.selected(req.n).into_iter().map(Some).collect()),
    );
    let method = if req.method == Method::Vst {
        "vst"
    } else {
        "dispersion"
    };
    let params = format!(
        "method = {method}, n = {}{}",
        req.n,
        req.batch
            .map(|b| format!(", batch = {b} ({} batches)", levels.len()))
            .unwrap_or_default()
    );
    db.store_result(
        &StepRecord {
            step: "hvg",
            uses_kept_cells: true,
            inputs: &[],
            params,
            tables: &[],
        },
        &Frame::default(),
        &result,
    )?;
    let mut out = db.query("SELECT gene_id, symbol FROM var ORDER BY gene_index")?;
    out.names.extend(result.names);
    out.columns.extend(result.columns);
    Ok(out)
}

impl MetaDb {
    pub fn n_cells(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT count(*) FROM obs", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(db_err("cannot count cells"))
    }

    /// Column names of `obs` or `var`.
    pub fn columns(&self, table: &str) -> Result<Vec<String>> {
        Ok(self.query(&format!("SELECT * FROM {table} LIMIT 0"))?.names)
    }

    fn require_obs_column(&self, column: &str) -> Result<String> {
        let names = self.columns("obs")?;
        if !names.iter().any(|n| n == column) {
            return Err(format!(
                "obs has no column '{column}'; its columns are {}",
                names.join(", ")
            ));
        }
        Ok(crate::write::quote_ident(column))
    }

    /// A numeric (or logical) obs column in cell order; missing values are NaN.
    pub fn obs_numbers(&self, column: &str) -> Result<Vec<f64>> {
        let read = |db: &Self| db.read_obs_numbers(column);
        Ok(self.remembered(&format!("numbers:{column}"), read)?.to_vec())
    }

    fn read_obs_numbers(&self, column: &str) -> Result<Vec<f64>> {
        let quoted = self.require_obs_column(column)?;
        let failed = format!("obs column '{column}' cannot be used as a number");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT CAST({quoted} AS DOUBLE) FROM obs ORDER BY cell_index"
            ))
            .map_err(|e| format!("{failed}: {e}"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, Option<f64>>(0))
            .map_err(|e| format!("{failed}: {e}"))?;
        rows.map(|v| v.map(|v| v.unwrap_or(f64::NAN)))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| format!("{failed}: {e}"))
    }

    /// Group codes (0-based, levels in sorted order, numeric when all are integers) of an obs column, for the cells in
    /// `only` (others get [`NO_GROUP`]); a missing value among those is an error.
    pub fn groups(&self, column: &str, only: Option<&[bool]>) -> Result<(Vec<u32>, Vec<String>)> {
        let factor = self.remembered(&format!("factor:{column}"), |db| db.read_factor(column))?;
        let used = |c: usize| only.is_none_or(|o| o[c]);
        let missing = (0..factor.code.len())
            .filter(|&c| used(c) && factor.code[c] == u32::MAX)
            .count();
        if missing > 0 {
            return Err(format!(
                "obs column '{column}' is missing (NA) for {missing} cell(s); give every cell a group"
            ));
        }
        let mut present = vec![false; factor.values.len()];
        (0..factor.code.len())
            .filter(|&c| used(c))
            .for_each(|c| present[factor.code[c] as usize] = true);
        let mut levels: Vec<String> = factor
            .values
            .iter()
            .zip(&present)
            .filter(|(_, &p)| p)
            .map(|(v, _)| v.clone())
            .collect();
        levels.sort();
        // Cluster numbers in numeric order: 2 before 10.
        if let Ok(mut numbers) = levels
            .iter()
            .map(|l| l.parse::<i64>().map(|n| (n, l.clone())))
            .collect::<std::result::Result<Vec<_>, _>>()
        {
            numbers.sort();
            levels = numbers.into_iter().map(|(_, l)| l).collect();
        }
        let level_of: HashMap<&str, u32> = levels
            .iter()
            .enumerate()
            .map(|(k, l)| (l.as_str(), k as u32))
            .collect();
        let code_level: Vec<u32> = factor
            .values
            .iter()
            .map(|v| level_of.get(v.as_str()).copied().unwrap_or(NO_GROUP))
            .collect();
        let group = (0..factor.code.len())
            .map(|c| {
                if used(c) {
                    code_level[factor.code[c] as usize]
                } else {
                    NO_GROUP
                }
            })
            .collect();
        Ok((group, levels))
    }

    /// An obs column as text, each distinct value once.
    fn read_factor(&self, column: &str) -> Result<crate::cellcache::Factor> {
        let quoted = self.require_obs_column(column)?;
        let read = db_err("cannot read an obs column");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT CAST({quoted} AS VARCHAR) FROM obs ORDER BY cell_index"
            ))
            .map_err(&read)?;
        let mut rows = stmt.query([]).map_err(&read)?;
        let (mut code, mut values) = (Vec::new(), Vec::new());
        let mut index: HashMap<String, u32> = HashMap::new();
        while let Some(row) = rows.next().map_err(&read)? {
            let value: Option<String> = row.get(0).map_err(&read)?;
            code.push(match value {
                None => u32::MAX,
                Some(v) => *index.entry(v).or_insert_with_key(|v| {
                    values.push(v.clone());
                    values.len() as u32 - 1
                }),
            });
        }
        Ok(crate::cellcache::Factor { code, values })
    }
}
