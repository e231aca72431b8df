//! Outlier calls on per-cell metrics: median ± nmads x MAD (scater's `isOutlier`), per group
//! of cells when asked, and fixed thresholds.

use crate::error::{Error, Result};

/// Which side of the median a metric may fail on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Both,
    Lower,
    Higher,
}

impl Direction {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "both" => Ok(Direction::Both),
            "lower" => Ok(Direction::Lower),
            "higher" => Ok(Direction::Higher),
            _ => Err(Error::Request(format!(
                "an outlier direction must be \"both\", \"lower\" or \"higher\", not \"{s}\""
            ))),
        }
    }
}

/// How one metric is judged. `mad`: nmads and direction (None: fixed thresholds only).
/// `log`: MADs on log1p(value), as scater does for library size and genes detected.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub mad: Option<(f64, Direction)>,
    pub log: bool,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// The thresholds applied to one group of cells, on the metric's own scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub median: f64,
    /// The MAD, scaled by 1.4826 as R's `mad()` (on the log scale when `log`).
    pub mad: f64,
    pub lower: f64,
    pub upper: f64,
}

/// R's `mad()` constant: makes the MAD estimate the standard deviation of normal data.
const MAD_SCALE: f64 = 1.4826;

/// Flags cells whose value falls outside the bounds of their group (`group[c]` in
/// 0..n_groups). Missing values (NaN) are ignored and never flagged. Returns the flags and
/// each group's bounds.
pub fn outliers(values: &[f64], group: &[u32], n_groups: usize, rule: &Rule) -> (Vec<bool>, Vec<Bounds>) {
    let forward = |v: f64| if rule.log { v.ln_1p() } else { v };
    let back = |v: f64| if rule.log { v.exp_m1() } else { v };
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); n_groups];
    for (&v, &g) in values.iter().zip(group) {
        if !v.is_nan() {
            members[g as usize].push(forward(v));
        }
    }
    let bounds: Vec<Bounds> = members
        .into_iter()
        .map(|mut m| {
            let centre = median(&mut m);
            let mut deviations: Vec<f64> = m.iter().map(|v| (v - centre).abs()).collect();
            let mad = median(&mut deviations) * MAD_SCALE;
            let (mut lower, mut upper) = (f64::NEG_INFINITY, f64::INFINITY);
            if let Some((nmads, direction)) = rule.mad {
                if direction != Direction::Higher {
                    lower = back(centre - nmads * mad);
                }
                if direction != Direction::Lower {
                    upper = back(centre + nmads * mad);
                }
            }
            Bounds {
                median: back(centre),
                mad,
                lower: lower.max(rule.min.unwrap_or(f64::NEG_INFINITY)),
                upper: upper.min(rule.max.unwrap_or(f64::INFINITY)),
            }
        })
        .collect();
    let flags = values
        .iter()
        .zip(group)
        .map(|(&v, &g)| v < bounds[g as usize].lower || v > bounds[g as usize].upper)
        .collect();
    (flags, bounds)
}

/// Median of finite values (NaN when there are none); reorders `values`.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let (_, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = values[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_match_r() {
        // R: x <- c(1, 2, 3, 4, 100); median(x) = 3; mad(x) = 1.4826
        let rule = Rule {
            mad: Some((3.0, Direction::Both)),
            log: false,
            min: None,
            max: None,
        };
        let (flags, b) = outliers(&[1.0, 2.0, 3.0, 4.0, 100.0], &[0; 5], 1, &rule);
        assert_eq!(b[0].median, 3.0);
        assert!((b[0].mad - 1.4826).abs() < 1e-12);
        assert!((b[0].lower - (3.0 - 3.0 * 1.4826)).abs() < 1e-12);
        assert_eq!(flags, vec![false, false, false, false, true]);
        let mut even = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(median(&mut even), 2.5);
    }

    #[test]
    fn groups_directions_log_scale_and_fixed_thresholds() {
        let values = [10.0, 11.0, 12.0, 1.0, 1000.0, 1010.0, 1020.0, 5000.0, f64::NAN];
        let group = [0, 0, 0, 0, 1, 1, 1, 1, 1];
        let lower = Rule {
            mad: Some((3.0, Direction::Lower)),
            log: true,
            min: None,
            max: None,
        };
        let (flags, b) = outliers(&values, &group, 2, &lower);
        assert_eq!(
            flags,
            vec![false, false, false, true, false, false, false, false, false]
        );
        assert_eq!(b[1].upper, f64::INFINITY);
        // log1p values of 1, 10, 11, 12: the median is between those of 10 and 11.
        assert!(
            (b[0].median - ((11f64.ln() + 12f64.ln()) / 2.0).exp_m1()).abs() < 1e-9,
            "back on the metric's scale: {}",
            b[0].median
        );
        let fixed = Rule {
            mad: None,
            log: false,
            min: Some(5.0),
            max: Some(1015.0),
        };
        let (flags, _) = outliers(&values, &group, 2, &fixed);
        assert_eq!(
            flags,
            vec![false, false, false, true, false, false, true, true, false]
        );
        assert!(Direction::parse("upper").is_err());
    }
}
