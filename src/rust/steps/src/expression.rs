//! Expression over groups of cells, read from the chunk files for the kept cells (and an
//! optional SQL condition on obs): summaries per gene and group (`aggregate_expression()`)
//! and pseudobulk sums per sample (and group). Reads only: nothing is stored.

use crate::analysis::cells_where;
use crate::{MetaDb, Result};
use cellstream_engine::aggregate::pseudobulk::{pseudobulk as engine_pseudobulk, Pseudobulk};
use cellstream_engine::aggregate::summary::{summarise, Statistic};
use cellstream_engine::aggregate::{Cells, Value};
use cellstream_engine::hvg::genestats::NO_GROUP;
use cellstream_engine::monitor::Monitor;
use cellstream_engine::store::Store;

/// Genes x groups values of each statistic.
pub struct Aggregated {
    pub levels: Vec<String>,
    pub n_cells: Vec<u64>,
    /// One genes x groups matrix (column-major) per statistic.
    pub values: Vec<Vec<f64>>,
}

/// The cells taking part: the kept cells where `condition` (SQL on obs) holds.
fn taking_part(db: &MetaDb, condition: Option<&str>, monitor: &Monitor) -> Result<Vec<bool>> {
    let mut cells = db.keep()?;
    if let Some(condition) = condition {
        let chosen = cells_where(db, condition, monitor)?;
        cells.iter_mut().zip(chosen).for_each(|(c, w)| *c &= w);
        if !cells.contains(&true) {
            return Err(format!("no kept cell satisfies \"{condition}\""));
        }
    }
    Ok(cells)
}

/// Codes of `column` (or one group "all") on the cells taking part, others [`NO_GROUP`]; a
/// stale column is an error.
fn codes(db: &MetaDb, column: Option<&str>, cells: &[bool]) -> Result<(Vec<u32>, Vec<String>)> {
    match column {
        Some(column) => {
            db.require_current_column(column)?;
            db.groups(column, Some(cells))
        }
        None => Ok((
            cells.iter().map(|&c| if c { 0 } else { NO_GROUP }).collect(),
            vec!["all".into()],
        )),
    }
}

/// What `aggregate_expression()` summarises.
pub struct AggregateRequest<'a> {
    /// Genes (0-based), in output order.
    pub genes: &'a [u32],
    pub group_by: Option<&'a str>,
    /// An SQL condition on obs restricting the kept cells.
    pub condition: Option<&'a str>,
    pub stats: &'a [Statistic],
    pub value: Value,
}

/// The statistics of the request for each of its genes and each group of `group_by`.
pub fn aggregate_expression(
    store: &Store,
    db: &MetaDb,
    req: &AggregateRequest,
    monitor: Monitor,
) -> Result<Aggregated> {
    let AggregateRequest {
        genes,
        group_by,
        condition,
        stats,
        value,
    } = *req;
    let taking = taking_part(db, condition, &monitor)?;
    let (group, levels) = codes(db, group_by, &taking)?;
    let library = db.obs_numbers("n_counts")?;
    let mut order: Vec<usize> = genes.iter().map(|&g| g as usize).collect();
    order.sort_unstable();
    order.dedup();
    if order.len() != genes.len() {
        return Err("`features` names a gene twice".into());
    }
    let cells = Cells::new(group, levels.len(), library, store.manifest.target_sum);
    let sums = summarise(store, &order, &cells, value, monitor).map_err(|e| e.to_string())?;
    let values = stats
        .iter()
        .map(|&stat| {
            let mut m = vec![0f64; genes.len() * levels.len()];
            for (row, gene) in genes.iter().enumerate() {
                let at = order
                    .binary_search(&(*gene as usize))
                    .expect("gene was summarised");
                for (k, s) in sums[at].iter().enumerate() {
                    m[k * genes.len() + row] = s.statistic(stat, cells.sizes[k]);
                }
            }
            m
        })
        .collect();
    Ok(Aggregated {
        levels,
        n_cells: cells.sizes,
        values,
    })
}

/// Pseudobulk sums and, per pseudosample (column), its sample and group.
pub struct PseudobulkTable {
    pub sums: Pseudobulk,
    pub samples: Vec<String>,
    pub groups: Vec<String>,
}

/// Raw counts summed per level of `sample_by` (and of `group_by`), over the kept cells where
/// `condition` holds; pseudosamples without cells are left out.
pub fn pseudobulk(
    store: &Store,
    db: &MetaDb,
    sample_by: &str,
    group_by: Option<&str>,
    condition: Option<&str>,
    monitor: Monitor,
) -> Result<PseudobulkTable> {
    let cells = taking_part(db, condition, &monitor)?;
    let (sample, samples) = codes(db, Some(sample_by), &cells)?;
    let (group, groups) = codes(db, group_by, &cells)?;
    // Pseudosamples that hold cells, in (sample, group) order.
    let mut slot = vec![u32::MAX; samples.len() * groups.len()];
    let mut labels = Vec::new();
    let mut pairs: Vec<usize> = (0..cells.len())
        .filter(|&c| cells[c])
        .map(|c| sample[c] as usize * groups.len() + group[c] as usize)
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    for &p in &pairs {
        slot[p] = labels.len() as u32;
        labels.push(p);
    }
    let column: Vec<u32> = (0..cells.len())
        .map(|c| {
            if cells[c] {
                slot[sample[c] as usize * groups.len() + group[c] as usize]
            } else {
                NO_GROUP
            }
        })
        .collect();
    let sums = engine_pseudobulk(store, &column, labels.len(), monitor).map_err(|e| e.to_string())?;
    Ok(PseudobulkTable {
        sums,
        samples: labels
            .iter()
            .map(|&p| samples[p / groups.len()].clone())
            .collect(),
        groups: labels.iter().map(|&p| groups[p % groups.len()].clone()).collect(),
    })
}
