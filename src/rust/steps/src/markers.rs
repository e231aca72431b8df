//! The marker-gene step: groups of an obs column (one against the rest, or one against
//! another) compared over every gene of the store on the kept cells; the table is returned and
//! kept as the step `markers:<name>`, stamped with the kept cells and the step that wrote the
//! grouping column.

use crate::steps::StepRecord;
use crate::{MetaDb, Result};
use cellstream_engine::frame::{Column, Frame};
use cellstream_engine::hvg::genestats::{group_sizes, NO_GROUP};
use cellstream_engine::markers::ranks::{Cells, Ranking};
use cellstream_engine::markers::table::{Filters, MarkerRow};
use cellstream_engine::markers::test::{FoldChange, Test, TestOptions};
use cellstream_engine::markers::{downsample, find_markers as engine_markers, MarkerRequest};
use cellstream_engine::monitor::Monitor;
use cellstream_engine::store::Store;

pub struct MarkersRequest<'a> {
    /// Names the step `markers:<name>`.
    pub name: &'a str,
    pub group_by: &'a str,
    /// None: every group against the rest (`FindAllMarkers`). Some: these levels as one group.
    pub ident_1: Option<Vec<String>>,
    /// With `ident_1`: these levels as the other side (None: every other kept cell).
    pub ident_2: Option<Vec<String>>,
    pub ranking: Ranking,
    pub test: TestOptions,
    pub filters: Filters,
    /// Groups with fewer kept cells are skipped (all groups) or refused (one group).
    pub min_cells_group: u64,
    pub max_cells_per_ident: Option<usize>,
    pub seed: u64,
}

/// The marker table and the groups skipped for having too few cells.
pub struct Markers {
    pub table: Frame,
    pub skipped: Vec<String>,
}

/// Runs the comparison(s) of `req` on the kept cells and stores the table.
pub fn find_markers(
    store: &Store,
    db: &mut MetaDb,
    req: &MarkersRequest,
    monitor: Monitor,
) -> Result<Markers> {
    let keep = db.keep()?;
    let source = db.require_current_column(req.group_by)?;
    let (codes, levels) = db.groups(req.group_by, Some(&keep))?;
    let sizes = group_sizes(&codes, levels.len());
    let (mut group, labels, report, skipped) = match &req.ident_1 {
        None => all_against_rest(codes, &levels, &sizes, req)?,
        Some(ident_1) => one_comparison(codes, &levels, &sizes, ident_1, req.ident_2.as_deref(), req)?,
    };
    let n_groups = labels.len();
    if let Some(max) = req.max_cells_per_ident {
        downsample(&mut group, n_groups, max, req.seed);
    }
    let library = db.obs_numbers("n_counts")?;
    let cells = Cells::new(group, n_groups, library, store.manifest.target_sum);
    let rows = engine_markers(
        store,
        &cells,
        &MarkerRequest {
            report: &report,
            ranking: req.ranking,
            test: req.test,
            filters: req.filters,
        },
        monitor,
    )
    .map_err(|e| e.to_string())?;
    let table = marker_frame(db, &rows, &labels)?;
    let inputs: Vec<&str> = source.iter().map(String::as_str).collect();
    db.store_result(
        &StepRecord {
            step: &format!("markers:{}", req.name),
            uses_kept_cells: true,
            inputs: &inputs,
            params: describe(req, &labels, &report),
            tables: &[("table", &table)],
        },
        &Frame::default(),
        &Frame::default(),
    )?;
    Ok(Markers { table, skipped })
}

type Grouping = (Vec<u32>, Vec<String>, Vec<usize>, Vec<String>);

fn all_against_rest(
    codes: Vec<u32>,
    levels: &[String],
    sizes: &[u64],
    req: &MarkersRequest,
) -> Result<Grouping> {
    if levels.len() < 2 {
        return Err(format!(
            "obs column '{}' has {} group(s) among the kept cells; markers compare at least 2 \
            (cluster first, or group by another column)",
            req.group_by,
            levels.len()
        ));
    }
    let (report, skipped): (Vec<usize>, Vec<usize>) =
        (0..levels.len()).partition(|&k| sizes[k] >= req.min_cells_group);
    if report.is_empty() {
        return Err(format!(
            "every group of '{}' has fewer than min_cells_group = {} kept cells",
            req.group_by, req.min_cells_group
        ));
    }
    Ok((
        codes,
        levels.to_vec(),
        report,
        skipped.into_iter().map(|k| levels[k].clone()).collect(),
    ))
}

fn one_comparison(
    codes: Vec<u32>,
    levels: &[String],
    sizes: &[u64],
    ident_1: &[String],
    ident_2: Option<&[String]>,
    req: &MarkersRequest,
) -> Result<Grouping> {
    let find = |wanted: &[String], arg: &str| -> Result<Vec<usize>> {
        wanted
            .iter()
            .map(|w| {
                levels.iter().position(|l| l == w).ok_or_else(|| {
                    format!(
                        "{arg} '{w}' is not a group of '{}' among the kept cells; its groups are {}",
                        req.group_by,
                        levels.join(", ")
                    )
                })
            })
            .collect()
    };
    let first = find(ident_1, "ident_1")?;
    let second = match ident_2 {
        Some(i) => find(i, "ident_2")?,
        None => (0..levels.len()).filter(|k| !first.contains(k)).collect(),
    };
    if second.iter().any(|k| first.contains(k)) {
        return Err("ident_1 and ident_2 share a group; give each group to one side".into());
    }
    let label = |side: &[usize]| {
        side.iter()
            .map(|&k| levels[k].as_str())
            .collect::<Vec<_>>()
            .join("+")
    };
    let other = if ident_2.is_some() {
        label(&second)
    } else {
        "rest".into()
    };
    for (side, name) in [(&first, label(&first)), (&second, other.clone())] {
        let n: u64 = side.iter().map(|&k| sizes[k]).sum();
        if n < req.min_cells_group.max(1) {
            return Err(format!(
                "group '{name}' of '{}' has {n} kept cell(s), fewer than min_cells_group = {}",
                req.group_by, req.min_cells_group
            ));
        }
    }
    let mut side_of = vec![NO_GROUP; levels.len()];
    first.iter().for_each(|&k| side_of[k] = 0);
    second.iter().for_each(|&k| side_of[k] = 1);
    let group = codes
        .into_iter()
        .map(|g| {
            if g == NO_GROUP {
                NO_GROUP
            } else {
                side_of[g as usize]
            }
        })
        .collect();
    Ok((group, vec![label(&first), other], vec![0], Vec::new()))
}

fn marker_frame(db: &MetaDb, rows: &[MarkerRow], labels: &[String]) -> Result<Frame> {
    let genes = db.query("SELECT gene_id, symbol FROM var ORDER BY gene_index")?;
    let text = |c: &Column| c.to_text();
    let (ids, symbols) = (text(&genes.columns[0]), text(&genes.columns[1]));
    let real = |f: &dyn Fn(&MarkerRow) -> f64| {
        Column::Real(rows.iter().map(|r| Some(f(r)).filter(|v| !v.is_nan())).collect())
    };
    let p = |ln: f64| ln.exp();
    let mut t = Frame::default();
    t.push(
        "gene",
        Column::Text(rows.iter().map(|r| symbols[r.gene].clone()).collect()),
    );
    t.push(
        "cluster",
        Column::Text(rows.iter().map(|r| Some(labels[r.group].clone())).collect()),
    );
    t.push("p_val", real(&|r| p(r.outcome.ln_p)));
    t.push("avg_log2FC", real(&|r| r.outcome.avg_log2fc));
    t.push("pct.1", real(&|r| r.outcome.pct_1));
    t.push("pct.2", real(&|r| r.outcome.pct_2));
    t.push("p_val_adj", real(&|r| p(r.ln_p_bonferroni)));
    t.push("p_val_adj_bh", real(&|r| p(r.ln_p_bh)));
    t.push("log10_p_val", real(&|r| r.outcome.ln_p / std::f64::consts::LN_10));
    t.push("auc", real(&|r| r.outcome.auc));
    t.push("statistic", real(&|r| r.outcome.statistic));
    t.push("score", real(&|r| r.outcome.score));
    t.push(
        "gene_id",
        Column::Text(rows.iter().map(|r| ids[r.gene].clone()).collect()),
    );
    Ok(t)
}

fn describe(req: &MarkersRequest, labels: &[String], report: &[usize]) -> String {
    let test = match req.test.test {
        Test::Wilcox => "wilcox",
        Test::Roc => "roc",
        Test::T => "t",
    };
    let fc = match req.test.fold_change {
        FoldChange::SeuratV5 => "seurat_v5",
        FoldChange::SeuratV4 => "seurat_v4",
        FoldChange::Scanpy => "scanpy",
    };
    let what = match &req.ident_1 {
        None => format!("{} groups vs rest", report.len()),
        Some(_) => format!("{} vs {}", labels[0], labels[1]),
    };
    let f = &req.filters;
    format!(
        "group_by = {}, {what}, test = {test}, fold change = {fc}, logfc.threshold = {}, \
        min.pct = {}, only.pos = {}{}",
        req.group_by,
        f.logfc_threshold,
        f.min_pct,
        f.only_pos,
        if req.ranking == Ranking::Stored {
            ", ranks of stored f16 values"
        } else {
            ""
        }
    )
}
