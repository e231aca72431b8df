//! The marker table: each reported group's outcome for every gene, Seurat's pre-filters
//! (detection rate and fold change), multiple-testing adjustments (Bonferroni over all genes
//! of the store, as Seurat; Benjamini-Hochberg with the same gene count), the return
//! threshold, and Seurat's row order.

use crate::markers::ranks::GeneSums;
use crate::markers::test::{compare, Outcome, Test, TestOptions};

/// Which rows are kept (defaults: Seurat 5's `FindMarkers` / `FindAllMarkers`).
#[derive(Debug, Clone, Copy)]
pub struct Filters {
    /// |avg_log2FC| >= this (with `only_pos`: avg_log2FC >= this).
    pub logfc_threshold: f64,
    /// max(pct.1, pct.2) >= this, on rates rounded to 3 decimals as Seurat rounds them.
    pub min_pct: f64,
    /// Only genes higher in the group: avg_log2FC > 0.
    pub only_pos: bool,
    /// Keep rows with p < this (ROC: AUC above it or below 1 - it); None keeps all.
    pub return_thresh: Option<f64>,
}

/// One row: gene (index into the genes ranked), group, and its statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarkerRow {
    pub gene: usize,
    pub group: usize,
    pub outcome: Outcome,
    /// ln of the Bonferroni- and BH-adjusted p-values (NaN for ROC).
    pub ln_p_bonferroni: f64,
    pub ln_p_bh: f64,
}

/// Rows for each group of `report` against the other cells, from `sums` (one per gene),
/// ordered by group (in `report`'s order), then p-value (ROC: power, descending), then
/// fold change, descending. `n_genes_total` is the number of genes of the store.
pub fn marker_table(
    sums: &[GeneSums],
    report: &[usize],
    sizes: &[u64],
    opts: &TestOptions,
    filters: &Filters,
    n_genes_total: usize,
) -> Vec<MarkerRow> {
    let ln_m = (n_genes_total.max(1) as f64).ln();
    let mut rows = Vec::new();
    for &k in report {
        let mut group: Vec<MarkerRow> = sums
            .iter()
            .enumerate()
            .map(|(gene, s)| (gene, compare(s, k, sizes, opts)))
            .filter(|(_, o)| passes_prefilters(o, filters))
            .map(|(gene, outcome)| MarkerRow {
                gene,
                group: k,
                outcome,
                ln_p_bonferroni: (outcome.ln_p + ln_m).min(0.0),
                ln_p_bh: f64::NAN,
            })
            .collect();
        if opts.test == Test::Roc {
            group.sort_by(|a, b| {
                b.outcome
                    .statistic
                    .total_cmp(&a.outcome.statistic)
                    .then(b.outcome.avg_log2fc.total_cmp(&a.outcome.avg_log2fc))
            });
        } else {
            // NaN p-values (t test on too few cells) sort last.
            group.sort_by(|a, b| {
                nan_last(a.outcome.ln_p)
                    .total_cmp(&nan_last(b.outcome.ln_p))
                    .then(b.outcome.avg_log2fc.total_cmp(&a.outcome.avg_log2fc))
            });
            benjamini_hochberg(&mut group, ln_m);
        }
        rows.extend(group.into_iter().filter(|r| passes_return(r, opts.test, filters)));
    }
    rows
}

fn nan_last(x: f64) -> f64 {
    if x.is_nan() {
        f64::INFINITY
    } else {
        x
    }
}

fn passes_prefilters(o: &Outcome, f: &Filters) -> bool {
    let detected = round3(o.pct_1).max(round3(o.pct_2)) >= f.min_pct;
    let changed = if f.only_pos {
        o.avg_log2fc >= f.logfc_threshold
    } else {
        o.avg_log2fc.abs() >= f.logfc_threshold
    };
    detected && changed
}

fn passes_return(r: &MarkerRow, test: Test, f: &Filters) -> bool {
    let o = &r.outcome;
    if f.only_pos && o.avg_log2fc.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return false;
    }
    match (f.return_thresh, test) {
        (None, _) => true,
        (Some(t), Test::Roc) => o.auc > t || o.auc < 1.0 - t,
        (Some(t), _) => o.ln_p < t.ln(),
    }
}

/// BH over rows sorted by p-value, counting `exp(ln_m)` tests (genes not in the rows count
/// as p = 1, which changes nothing below them).
fn benjamini_hochberg(rows: &mut [MarkerRow], ln_m: f64) {
    let mut running = 0f64;
    for (i, r) in rows.iter_mut().enumerate().rev() {
        let q = r.outcome.ln_p + ln_m - ((i + 1) as f64).ln();
        if !q.is_nan() {
            running = running.min(q);
        }
        r.ln_p_bh = if r.outcome.ln_p.is_nan() {
            f64::NAN
        } else {
            running
        };
    }
}

/// R's `round(x, 3)`: the nearer of the two 3-decimal neighbours of x, the even one when
/// both are as near in double arithmetic.
pub fn round3(x: f64) -> f64 {
    let lo = (x * 1000.0).floor();
    let (below, above) = (lo / 1000.0, (lo + 1.0) / 1000.0);
    let (to_below, to_above) = (x - below, above - x);
    if to_below < to_above || (to_below == to_above && lo % 2.0 == 0.0) {
        below
    } else {
        above
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round3_picks_the_nearer_neighbour_as_r() {
        // R: round(0.2495, 3) is 0.25 (a tie in double arithmetic, to the even digit).
        assert_eq!(round3(0.2495), 0.25);
        assert_eq!(round3(0.2485), 0.248);
        // R: round(c(0.1235, 0.0005, 0.0015, 0.9995, 0.3335, 0.6665), 3)
        for (x, r) in [
            (0.1235, 0.124),
            (0.0005, 0.0),
            (0.0015, 0.002),
            (0.9995, 1.0),
            (0.3335, 0.334),
            (0.6665, 0.666),
        ] {
            assert_eq!(round3(x), r, "{x}");
        }
        assert_eq!(round3(0.24951), 0.25);
        assert_eq!(round3(1.0), 1.0);
        assert_eq!(round3(0.0), 0.0);
    }

    #[test]
    fn bh_is_the_running_minimum_of_p_m_over_rank() {
        let p = [1e-5f64, 2e-5, 0.5, 0.01];
        let mut rows: Vec<MarkerRow> = p
            .iter()
            .map(|&p| MarkerRow {
                gene: 0,
                group: 0,
                outcome: Outcome {
                    ln_p: p.ln(),
                    statistic: 0.0,
                    score: 0.0,
                    auc: 0.5,
                    avg_log2fc: 0.0,
                    pct_1: 0.0,
                    pct_2: 0.0,
                },
                ln_p_bonferroni: 0.0,
                ln_p_bh: 0.0,
            })
            .collect();
        rows.sort_by(|a, b| a.outcome.ln_p.total_cmp(&b.outcome.ln_p));
        benjamini_hochberg(&mut rows, 10f64.ln());
        let q: Vec<f64> = rows.iter().map(|r| r.ln_p_bh.exp()).collect();
        // R: p.adjust(c(1e-5, 2e-5, 0.01, 0.5, rep(1, 6)), "BH")[1:4]
        let expected = [1e-4, 1e-4, 0.01 * 10.0 / 3.0, 1.0];
        for (a, b) in q.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12 * b, "{a} vs {b}");
        }
    }
}
