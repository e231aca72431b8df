//! Exact k nearest neighbours by brute force (every pair; for small data and as the
//! reference for approximate indexes). Each cell's own row counts as its first neighbour, as
//! in Seurat's `FindNeighbors` (RANN).

use crate::error::{Error, Result};
use rayon::prelude::*;

/// Neighbours of every row: `index[i * k + t]` is row i's t-th nearest row (t = 0 is the
/// nearest, normally itself) and `distance` the Euclidean distance to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Knn {
    pub k: usize,
    pub index: Vec<u32>,
    pub distance: Vec<f64>,
}

/// `data`: n rows x `dims` columns, row-major.
pub fn exact_knn(data: &[f64], dims: usize, k: usize) -> Result<Knn> {
    let n = if dims == 0 { 0 } else { data.len() / dims };
    if k == 0 || k > n {
        return Err(Error::Request(format!("k must be between 1 and the number of cells ({n}), not {k}")));
    }
    let row = |i: usize| &data[i * dims..(i + 1) * dims];
    let per_row: Vec<Vec<(f64, u32)>> = (0..n)
        .into_par_iter()
        .map_init(Vec::new, |candidates: &mut Vec<(f64, u32)>, i| {
            let q = row(i);
            candidates.clear();
            candidates.extend((0..n).map(|j| (q.iter().zip(row(j)).map(|(a, b)| (a - b) * (a - b)).sum::<f64>(), j as u32)));
            // Ties by row number, so the result does not depend on the thread schedule.
            let by_distance = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if k < n {
                candidates.select_nth_unstable_by(k, by_distance);
            }
            let mut nearest = candidates[..k].to_vec();
            nearest.sort_unstable_by(by_distance);
            nearest
        })
        .collect();
    Ok(Knn {
        k,
        index: per_row.iter().flatten().map(|&(_, j)| j).collect(),
        distance: per_row.iter().flatten().map(|&(d, _)| d.sqrt()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rows_in_order_with_self_first() {
        // Points on a line: 0, 1, 3, 7.
        let knn = exact_knn(&[0.0, 1.0, 3.0, 7.0], 1, 3).unwrap();
        assert_eq!(knn.index, vec![0, 1, 2, 1, 0, 2, 2, 1, 0, 3, 2, 1]);
        assert_eq!(&knn.distance[..3], &[0.0, 1.0, 3.0]);
        assert_eq!(&knn.distance[9..], &[0.0, 4.0, 6.0]);
        assert!(exact_knn(&[0.0, 1.0], 1, 3).is_err());
    }
}
