//! The statistics of one group against the other cells of the comparison, from one gene's
//! [`GeneSums`]: the Wilcoxon rank-sum test (normal approximation, as R's
//! `wilcox.test(exact = FALSE)`, limma, presto and Seurat; or without tie and continuity
//! correction, as scanpy), the AUROC, Welch's t test, and the fold change and detection
//! rates as Seurat or scanpy define them.

use crate::markers::dist::{ln_two_sided_normal, ln_two_sided_t};
use crate::markers::ranks::GeneSums;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    Wilcox,
    /// AUROC and its power 2 |AUC - 0.5| (Seurat's "roc"); no p-value.
    Roc,
    /// Welch's two-sample t test on the log-normalised values (Seurat's "t").
    T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldChange {
    /// log2((sum expm1(x) + 1) / n) of each side (Seurat 5).
    SeuratV5,
    /// log2(mean expm1(x) + 1) of each side (Seurat 4).
    SeuratV4,
    /// log2((expm1(mean x) + 1e-9) / (expm1(mean x') + 1e-9)) (scanpy's logfoldchanges).
    Scanpy,
}

#[derive(Debug, Clone, Copy)]
pub struct TestOptions {
    pub test: Test,
    /// Continuity correction (R's `correct`, Seurat; scanpy: none).
    pub correct: bool,
    /// Tie correction of the variance (R, Seurat; scanpy's default: none).
    pub tie_correct: bool,
    pub fold_change: FoldChange,
}

impl TestOptions {
    /// Whether the log-normalised values' sums are needed.
    pub fn needs_logs(&self) -> bool {
        self.test == Test::T || self.fold_change == FoldChange::Scanpy
    }
}

/// One gene, one group against the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Natural log of the two-sided p-value (NaN for the ROC test or when undefined).
    pub ln_p: f64,
    /// Wilcoxon: W = U of the group (as `wilcox.test`); t test: t; ROC: the power.
    pub statistic: f64,
    /// Wilcoxon: the signed normal deviate (scanpy's `scores`); t test: t; ROC: NaN.
    pub score: f64,
    /// U / (n1 n2): the probability that a cell of the group ranks above one of the rest.
    pub auc: f64,
    pub avg_log2fc: f64,
    /// Fractions of cells with a non-zero value in the group and in the rest.
    pub pct_1: f64,
    pub pct_2: f64,
}

/// Group `k` of `gene` against every other cell taking part; `sizes` are the groups' cell
/// counts. Both sides must hold at least one cell.
pub fn compare(gene: &GeneSums, k: usize, sizes: &[u64], opts: &TestOptions) -> Outcome {
    let n_total: u64 = sizes.iter().sum();
    let (n1, n2) = (sizes[k] as f64, (n_total - sizes[k]) as f64);
    let n = n1 + n2;
    let one = &gene.groups[k];
    let total = gene.groups.iter().fold([0f64; 5], |mut acc, g| {
        for (a, v) in acc.iter_mut().zip([
            g.n_nonzero as f64,
            g.nonzero_rank_sum,
            g.scaled_sum,
            g.log_sum,
            g.log_sum_sq,
        ]) {
            *a += v;
        }
        acc
    });
    let nnz1 = one.n_nonzero as f64;
    let nnz2 = total[0] - nnz1;
    let zeros = n - total[0];
    let rank_sum = (n1 - nnz1) * (zeros + 1.0) / 2.0 + one.nonzero_rank_sum + nnz1 * zeros;
    let u = rank_sum - n1 * (n1 + 1.0) / 2.0;
    let auc = u / (n1 * n2);
    let (ln_p, statistic, score) = match opts.test {
        Test::Wilcox => {
            let tie_term = gene.nonzero_tie_term + (zeros * zeros * zeros - zeros);
            let (ln_p, z) = wilcoxon(u, n1, n2, tie_term, opts);
            (ln_p, u, z)
        }
        Test::Roc => (f64::NAN, 2.0 * (auc - 0.5).abs(), f64::NAN),
        Test::T => {
            let (ln_p, t) = welch(
                [n1, one.log_sum, one.log_sum_sq],
                [n2, total[3] - one.log_sum, total[4] - one.log_sum_sq],
            );
            (ln_p, t, t)
        }
    };
    let scaled2 = total[2] - one.scaled_sum;
    let avg_log2fc = match opts.fold_change {
        FoldChange::SeuratV5 => ((one.scaled_sum + 1.0) / n1).log2() - ((scaled2 + 1.0) / n2).log2(),
        FoldChange::SeuratV4 => (one.scaled_sum / n1 + 1.0).log2() - (scaled2 / n2 + 1.0).log2(),
        FoldChange::Scanpy => {
            let m1 = (one.log_sum / n1).exp_m1();
            let m2 = ((total[3] - one.log_sum) / n2).exp_m1();
            ((m1 + 1e-9) / (m2 + 1e-9)).log2()
        }
    };
    Outcome {
        ln_p,
        statistic,
        score,
        auc,
        avg_log2fc,
        pct_1: nnz1 / n1,
        pct_2: nnz2 / n2,
    }
}

/// ln p and the normal deviate of U: mean n1 n2 / 2, variance n1 n2 / 12 ((n + 1) -
/// sum(t^3 - t) / (n (n - 1))). A gene without spread (all values tied) has p = 1.
fn wilcoxon(u: f64, n1: f64, n2: f64, tie_term: f64, opts: &TestOptions) -> (f64, f64) {
    let n = n1 + n2;
    let ties = if opts.tie_correct && n > 1.0 {
        tie_term / (n * (n - 1.0))
    } else {
        0.0
    };
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties);
    let d = u - n1 * n2 / 2.0;
    if variance <= 0.0 || d == 0.0 {
        return (0.0, 0.0);
    }
    let d = if opts.correct { d - 0.5 * d.signum() } else { d };
    let z = d / variance.sqrt();
    (ln_two_sided_normal(z), z)
}

/// Welch's t from (n, sum, sum of squares) of each side: ln p and t. Fewer than two cells on
/// a side leaves both undefined (NaN), as does a t of 0 / 0 between two different constants.
fn welch(a: [f64; 3], b: [f64; 3]) -> (f64, f64) {
    let moments = |[n, s, ss]: [f64; 3]| {
        let mean = s / n;
        (mean, ((ss - s * mean) / (n - 1.0)).max(0.0) / n)
    };
    if a[0] < 2.0 || b[0] < 2.0 {
        return (f64::NAN, f64::NAN);
    }
    let ((m1, v1), (m2, v2)) = (moments(a), moments(b));
    let se2 = v1 + v2;
    if se2 <= 0.0 {
        return if m1 == m2 {
            (0.0, 0.0)
        } else {
            (f64::NAN, f64::NAN)
        };
    }
    let t = (m1 - m2) / se2.sqrt();
    let df = se2 * se2 / (v1 * v1 / (a[0] - 1.0) + v2 * v2 / (b[0] - 1.0));
    (ln_two_sided_t(t, df), t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markers::ranks::GroupSums;

    fn gene(groups: Vec<GroupSums>, tie: f64) -> GeneSums {
        GeneSums {
            groups,
            nonzero_tie_term: tie,
        }
    }

    const SEURAT: TestOptions = TestOptions {
        test: Test::Wilcox,
        correct: true,
        tie_correct: true,
        fold_change: FoldChange::SeuratV4,
    };

    #[test]
    fn wilcoxon_equals_r_on_a_small_example() {
        // x = c(0, 0, 1, 3, 3), y = c(0, 2, 0, 0); R: wilcox.test(x, y, exact = FALSE)
        // W = 14, p = 0.34523107177184. Non-zeros 1, 3, 3 and 2 rank 1, 3.5, 3.5 and 2.
        let g = gene(
            vec![
                GroupSums {
                    n_nonzero: 3,
                    nonzero_rank_sum: 8.0,
                    ..Default::default()
                },
                GroupSums {
                    n_nonzero: 1,
                    nonzero_rank_sum: 2.0,
                    ..Default::default()
                },
            ],
            6.0,
        );
        let o = compare(&g, 0, &[5, 4], &SEURAT);
        assert_eq!(o.statistic, 14.0);
        assert_eq!(o.auc, 14.0 / 20.0);
        let expected = 0.345_231_071_771_840_04_f64;
        assert!((o.ln_p.exp() - expected).abs() < 1e-12, "{}", o.ln_p.exp());
    }

    #[test]
    fn millions_of_zeros_keep_their_tie_term_and_p_in_log_space() {
        // 3.45 M zeros: their t^3 - t (4.1e19) overflows a u64. One group of 1000 cells, 400
        // of them among the 50,000 equal non-zeros. R, by the same formula in doubles:
        // U = 2424500000, z = 102.80191560669026, 2 * pnorm(-z) underflows to 0 and
        // log(2) + pnorm(-z, log.p = TRUE) = -5288.9756161431478.
        let (n0, t1) = (3_450_000u64, 50_000u64);
        let g = gene(
            vec![
                GroupSums {
                    n_nonzero: 400,
                    nonzero_rank_sum: 400.0 * (t1 as f64 + 1.0) / 2.0,
                    ..Default::default()
                },
                GroupSums {
                    n_nonzero: t1 - 400,
                    nonzero_rank_sum: (t1 - 400) as f64 * (t1 as f64 + 1.0) / 2.0,
                    ..Default::default()
                },
            ],
            (t1 as f64).powi(3) - t1 as f64,
        );
        let o = compare(&g, 0, &[1000, n0 + t1 - 1000], &SEURAT);
        assert_eq!(o.statistic, 2_424_500_000.0);
        assert!((o.score - 102.801_915_606_690_26).abs() < 1e-9, "{}", o.score);
        assert!(
            (o.ln_p / -5_288.975_616_143_148 - 1.0).abs() < 1e-12,
            "{}",
            o.ln_p
        );
    }

    #[test]
    fn a_gene_without_spread_has_p_one() {
        let g = gene(vec![GroupSums::default(); 2], 0.0);
        let o = compare(&g, 0, &[3, 4], &SEURAT);
        assert_eq!(o.ln_p, 0.0);
        assert_eq!(o.auc, 0.5);
    }
}
