//! k nearest neighbours of every row of an embedding: exact by brute force (small data, and
//! the reference for the approximate indexes), or approximate with ann-search-rs (HNSW or
//! NN-Descent). Each cell's own row is its first neighbour, as in Seurat's `FindNeighbors`
//! (RANN) and scanpy's `neighbors`, so k counts the cell itself.

use crate::error::{Error, Result};
use crate::monitor::Meter;
use ann_search_rs::cpu::nndescent::NNDescentKnnParams;
use ann_search_rs::utils::nndescent_utils::KNN_GRAPH_EMPTY;
use ann_search_rs::{build_hnsw_index, build_knn_graph_nndescent, query_hnsw_self, Verbosity};
use rayon::prelude::*;

/// Neighbours of every row: `index[i * k + t]` is row i's t-th nearest row (t = 0 is row i
/// itself) and `distance` the distance to it (Euclidean, or 1 - cosine similarity).
#[derive(Debug, Clone, PartialEq)]
pub struct Knn {
    pub k: usize,
    pub index: Vec<u32>,
    pub distance: Vec<f32>,
}

impl Knn {
    pub fn n_rows(&self) -> usize {
        self.index.len() / self.k
    }

    pub fn row(&self, i: usize) -> &[u32] {
        &self.index[i * self.k..(i + 1) * self.k]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Exact,
    /// Hierarchical navigable small worlds: `m` links per node, candidate lists of
    /// `ef_construction` while building and `ef_search` while querying.
    Hnsw {
        m: usize,
        ef_construction: usize,
        ef_search: usize,
    },
    NnDescent,
}

/// HNSW settings that reach recall@20 > 0.99 on PCA embeddings of 100k cells (upsampled
/// PBMC3k and simulated; ef_search = 40 gave 0.975 on the simulated ones).
pub const HNSW_DEFAULT: Method = Method::Hnsw {
    m: 16,
    ef_construction: 100,
    ef_search: 100,
};

/// Up to this many rows `auto` searches exactly (under a second on 2 cores; 20,000 rows take
/// 10 s); above it, NN-Descent.
pub const AUTO_EXACT_MAX_ROWS: usize = 5_000;

pub fn auto_method(n_rows: usize) -> Method {
    if n_rows <= AUTO_EXACT_MAX_ROWS {
        Method::Exact
    } else {
        Method::NnDescent
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Euclidean,
    /// 1 - cosine similarity; searched as Euclidean distance between unit-length rows.
    Cosine,
}

/// The number of rows of `data` (n x `dims`, row-major), or an error when k does not fit
/// them or a value is missing.
pub(crate) fn checked_rows<T: Copy + Into<f64>>(data: &[T], dims: usize, k: usize) -> Result<usize> {
    let n = data.len().checked_div(dims).unwrap_or(0);
    if k < 2 || k >= n {
        return Err(Error::Request(format!(
            "k (neighbours per cell, the cell itself included) must be at \
            least 2 and smaller than the number of cells ({n}), not {k}"
        )));
    }
    if let Some(bad) = data.iter().position(|&v| !v.into().is_finite()) {
        return Err(Error::Request(format!(
            "the embedding has a missing or infinite value (row {}, column {})",
            bad / dims + 1,
            bad % dims + 1
        )));
    }
    Ok(n)
}

/// `data`: n rows x `dims` columns, row-major. The exact search counts its rows on `meter`
/// (the approximate libraries report nothing).
pub fn find_knn<T: Copy + Into<f64> + Sync>(
    data: &[T],
    dims: usize,
    k: usize,
    method: Method,
    metric: Metric,
    seed: u64,
    meter: &Meter,
) -> Result<Knn> {
    let n = checked_rows(data, dims, k)?;
    let knn = match method {
        Method::Exact => exact(&prepared(data, dims, metric, |v| v), dims, k, meter)?,
        Method::Hnsw {
            m,
            ef_construction,
            ef_search,
        } => {
            let rows32 = prepared(data, dims, metric, |v| v as f32);
            let index = build_hnsw_index(
                (&rows32[..], n, dims),
                m,
                ef_construction,
                "euclidean",
                seed as usize,
                Verbosity::Quiet,
            )
            .map_err(ann_error)?;
            let (ids, squared) =
                query_hnsw_self(&index, k, ef_search.max(k), true, Verbosity::Quiet).map_err(ann_error)?;
            let squared = squared.expect("distances were requested");
            let index = ids.iter().flat_map(|r| r.iter().map(|&j| j as u32)).collect();
            let distance = squared.iter().flatten().map(|&d| d.max(0.0).sqrt()).collect();
            with_self_first(Knn { k, index, distance }, &rows32, dims)
        }
        Method::NnDescent => {
            let rows32 = prepared(data, dims, metric, |v| v as f32);
            let params = NNDescentKnnParams::new(k - 1, None, None, None, 0.001, true, true);
            let g = build_knn_graph_nndescent(
                (&rows32[..], n, dims),
                "euclidean",
                Some(params),
                seed as usize,
                Verbosity::Quiet,
            )
            .map_err(ann_error)?;
            let squared = g.distances.expect("distances were requested");
            let distance = squared.iter().map(|&d| d.max(0.0).sqrt()).collect();
            with_self_first(
                Knn {
                    k,
                    index: g.indices,
                    distance,
                },
                &rows32,
                dims,
            )
        }
    };
    Ok(in_metric(knn, metric))
}

/// Distances in the metric's terms: the searches measure Euclidean distances, between unit
/// rows for the cosine metric.
pub(crate) fn in_metric(mut knn: Knn, metric: Metric) -> Knn {
    if metric == Metric::Cosine {
        // |a - b|² = 2 - 2 cos for unit vectors.
        knn.distance.iter_mut().for_each(|d| *d = *d * *d / 2.0);
    }
    knn
}

/// The rows converted by `to`; for the cosine metric first scaled to unit length.
pub(crate) fn prepared<T: Copy + Into<f64> + Sync, U: Send>(
    data: &[T],
    dims: usize,
    metric: Metric,
    to: impl Fn(f64) -> U + Sync,
) -> Vec<U> {
    let to = &to;
    data.par_chunks(dims)
        .flat_map_iter(|row| {
            let norm = match metric {
                Metric::Cosine => Some(row.iter().map(|&v| v.into() * v.into()).sum::<f64>().sqrt())
                    .filter(|&n| n > 0.0)
                    .unwrap_or(1.0),
                Metric::Euclidean => 1.0,
            };
            row.iter().map(move |&v| to(v.into() / norm))
        })
        .collect()
}

fn ann_error(e: ann_search_rs::errors::AnnSearchErrors) -> Error {
    Error::Request(format!("the approximate neighbour search failed: {e}"))
}

/// Rows of the exact search between two looks at the meter.
const ROWS_PER_CHECK: usize = 4096;

/// Exact neighbours, nearest first, ties by row number (so the result does not depend on the
/// thread schedule), the row itself first.
fn exact(data: &[f64], dims: usize, k: usize, meter: &Meter) -> Result<Knn> {
    let n = data.len() / dims;
    exact_among(data, dims, k, meter, |_| 0..n as u32)
}

/// [`exact`] with each row's neighbours chosen among `candidates(row)` (which may include the
/// row itself): all rows, or the few a GPU search found nearest.
pub(crate) fn exact_among<I: IntoIterator<Item = u32>>(
    data: &[f64],
    dims: usize,
    k: usize,
    meter: &Meter,
    candidates: impl Fn(usize) -> I + Sync,
) -> Result<Knn> {
    let n = data.len() / dims;
    let row = |i: usize| &data[i * dims..(i + 1) * dims];
    let mut per_row: Vec<Vec<(f64, u32)>> = Vec::with_capacity(n);
    for start in (0..n).step_by(ROWS_PER_CHECK) {
        meter.check()?;
        let rows = start..(start + ROWS_PER_CHECK).min(n);
        let len = rows.len() as u64;
        per_row.par_extend(
            rows.into_par_iter()
                .map_init(Vec::new, |found: &mut Vec<(f64, u32)>, i| {
                    let q = row(i);
                    found.clear();
                    found.extend(candidates(i).into_iter().filter(|&j| j as usize != i).map(|j| {
                        let d = q.iter().zip(row(j as usize)).map(|(a, b)| (a - b) * (a - b));
                        (d.sum::<f64>(), j)
                    }));
                    let by_distance =
                        |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                    if k - 1 < found.len() {
                        found.select_nth_unstable_by(k - 1, by_distance);
                    }
                    let mut nearest = Vec::with_capacity(k);
                    nearest.push((0.0, i as u32));
                    nearest.extend_from_slice(&found[..k - 1]);
                    nearest[1..].sort_unstable_by(by_distance);
                    nearest
                }),
        );
        meter.add(len);
    }
    Ok(Knn {
        k,
        index: per_row.iter().flatten().map(|&(_, j)| j).collect(),
        distance: per_row.iter().flatten().map(|&(d, _)| d.sqrt() as f32).collect(),
    })
}

/// Makes each row start with the row itself, as the exact search does: approximate indexes
/// may list an identical cell first or, rarely, leave a row short; such rows are searched
/// exactly.
fn with_self_first(mut knn: Knn, data: &[f32], dims: usize) -> Knn {
    let k = knn.k;
    let unfilled: Vec<usize> = knn
        .index
        .par_chunks_mut(k)
        .zip(knn.distance.par_chunks_mut(k))
        .enumerate()
        .filter_map(|(i, (index, distance))| {
            if index.contains(&KNN_GRAPH_EMPTY) {
                return Some(i);
            }
            match index.iter().position(|&j| j == i as u32) {
                Some(0) => {}
                Some(p) => {
                    index[..=p].rotate_right(1);
                    distance[..=p].rotate_right(1);
                }
                None => {
                    index.rotate_right(1);
                    distance.rotate_right(1);
                }
            }
            index[0] = i as u32;
            distance[0] = 0.0;
            None
        })
        .collect();
    if !unfilled.is_empty() {
        for i in unfilled {
            let row = exact_row(data, dims, k, i);
            knn.index[i * k..(i + 1) * k].copy_from_slice(&row.index);
            knn.distance[i * k..(i + 1) * k].copy_from_slice(&row.distance);
        }
    }
    knn
}

fn exact_row(data: &[f32], dims: usize, k: usize, i: usize) -> Knn {
    let q = &data[i * dims..(i + 1) * dims];
    let mut d: Vec<(f64, u32)> = data
        .chunks_exact(dims)
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(j, r)| {
            (
                q.iter()
                    .zip(r)
                    .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                    .sum(),
                j as u32,
            )
        })
        .collect();
    d.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let nearest = std::iter::once((0.0, i as u32)).chain(d.into_iter().take(k - 1));
    let (distance, index): (Vec<f32>, Vec<u32>) = nearest.map(|(d, j)| (d.sqrt() as f32, j)).unzip();
    Knn { k, index, distance }
}

/// Fraction of the exact neighbours (beyond the row itself) that `approx` found.
pub fn recall(approx: &Knn, exact: &Knn) -> f64 {
    let k = exact.k;
    let found: usize = (0..exact.n_rows())
        .into_par_iter()
        .map(|i| {
            exact.row(i)[1..]
                .iter()
                .filter(|j| approx.row(i)[1..].contains(j))
                .count()
        })
        .sum();
    found as f64 / (exact.n_rows() * (k - 1)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_of(data: &[f64], dims: usize, k: usize) -> Knn {
        find_knn(
            data,
            dims,
            k,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default(),
        )
        .unwrap()
    }

    #[test]
    fn nearest_rows_in_order_with_self_first() {
        // Points on a line: 0, 1, 3, 7.
        let knn = exact_of(&[0.0, 1.0, 3.0, 7.0], 1, 3);
        assert_eq!(knn.index, vec![0, 1, 2, 1, 0, 2, 2, 1, 0, 3, 2, 1]);
        assert_eq!(&knn.distance[..3], &[0.0, 1.0, 3.0]);
        assert_eq!(&knn.distance[9..], &[0.0, 4.0, 6.0]);
        assert!(find_knn(
            &[0.0, 1.0, 2.0],
            1,
            3,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default()
        )
        .is_err());
        assert!(find_knn(
            &[0.0, f64::NAN],
            1,
            2,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default()
        )
        .is_err());
    }

    #[test]
    fn identical_cells_still_list_themselves_first() {
        let knn = exact_of(&[5.0, 5.0, 5.0, 9.0], 1, 3);
        assert_eq!(knn.index, vec![0, 1, 2, 1, 0, 2, 2, 0, 1, 3, 0, 1]);
        let fixed = with_self_first(
            Knn {
                k: 2,
                index: vec![1, 0, 0, 1, KNN_GRAPH_EMPTY, KNN_GRAPH_EMPTY],
                distance: vec![0.0; 6],
            },
            &[5.0, 5.0, 9.0],
            1,
        );
        assert_eq!(fixed.index, vec![0, 1, 1, 0, 2, 0]);
        assert_eq!(fixed.distance[5], 4.0);
    }

    #[test]
    fn cosine_distance_ignores_length() {
        // (1,0) and (10,0) point the same way; (0,1) is orthogonal.
        let knn = find_knn(
            &[1.0, 0.0, 0.0, 1.0, 10.0, 0.0],
            2,
            2,
            Method::Exact,
            Metric::Cosine,
            0,
            &Meter::default(),
        )
        .unwrap();
        assert_eq!(knn.index, vec![0, 2, 1, 0, 2, 0]);
        assert!(knn.distance[1].abs() < 1e-7 && (knn.distance[3] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn approximate_indexes_recall_the_exact_neighbours() {
        let (sim, _) = crate::testdir::clustered_points(4_000, 10, 8, 7);
        let truth = exact_of(&sim, 10, 15);
        for method in [Method::NnDescent, HNSW_DEFAULT] {
            let approx = find_knn(&sim, 10, 15, method, Metric::Euclidean, 1, &Meter::default()).unwrap();
            assert!((0..approx.n_rows()).all(|i| approx.row(i)[0] == i as u32));
            let r = recall(&approx, &truth);
            assert!(r > 0.98, "{method:?}: recall {r}");
        }
    }
}
