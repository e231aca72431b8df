//! Shared-nearest-neighbour graphs from a kNN (each neighbour set holds the cell itself).
//! - Jaccard, Seurat's `FindNeighbors` / `ComputeSNN`: cells i and j are joined with weight
//!   s / (2k - s), where s counts the cells in both neighbour sets; weights below `prune`
//!   (Seurat: 1/15) are dropped. The diagonal is 1.
//! - Rank, scran's `buildSNNGraph(type = "rank")` (Xu & Su 2015): with neighbours ranked
//!   0 (the cell itself), 1, …, k - 1, the weight is (k - 1) - r / 2 where r is the smallest
//!   sum of the two ranks of a shared neighbour, at least 1e-6 for cells that share any
//!   neighbour; no self-loops (as bluster's `neighborsToSNNGraph`).

use super::knn::Knn;
use super::Graph;
use crate::error::Result;
use crate::monitor::Meter;
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SnnWeight {
    Jaccard { prune: f64 },
    Rank,
}

/// bluster's weight for cells whose only shared neighbours are each other's last.
const RANK_MIN_WEIGHT: f64 = 1e-6;

/// Rows are computed in blocks of this many, so that only one block's rows exist twice
/// (as per-row lists and in the compressed graph).
const ROWS_PER_BLOCK: usize = 1 << 16;

/// Counts finished rows on `meter` and stops when it says so.
pub fn snn(knn: &Knn, weight: SnnWeight, meter: &Meter) -> Result<Graph> {
    let k = knn.k;
    let n = knn.n_rows();
    // For every cell m, the cells that list m and the rank they give it.
    let mut holder_ptr = vec![0usize; n + 1];
    knn.index.iter().for_each(|&m| holder_ptr[m as usize + 1] += 1);
    (0..n).for_each(|m| holder_ptr[m + 1] += holder_ptr[m]);
    let mut holders = vec![(0u32, 0u16); knn.index.len()];
    let mut fill = holder_ptr.clone();
    for i in 0..n {
        for (rank, &m) in knn.row(i).iter().enumerate() {
            holders[fill[m as usize]] = (i as u32, rank as u16);
            fill[m as usize] += 1;
        }
    }
    drop(fill);
    let mut g = Graph {
        row_ptr: vec![0],
        col: Vec::new(),
        weight: Vec::new(),
    };
    for block in (0..n).collect::<Vec<_>>().chunks(ROWS_PER_BLOCK) {
        meter.check()?;
        let rows: Vec<Vec<(u32, f32)>> = block
            .par_iter()
            .map_init(
                || (vec![u32::MAX; n], Vec::new()),
                |(score, touched), &i| {
                    // Jaccard: score counts the shared cells; rank: it holds the smallest rank sum.
                    for (rank_i, &m) in knn.row(i).iter().enumerate() {
                        for &(j, rank_j) in &holders[holder_ptr[m as usize]..holder_ptr[m as usize + 1]] {
                            let s = &mut score[j as usize];
                            if *s == u32::MAX {
                                touched.push(j);
                                *s = match weight {
                                    SnnWeight::Jaccard { .. } => 0,
                                    SnnWeight::Rank => u32::MAX - 1,
                                };
                            }
                            *s = match weight {
                                SnnWeight::Jaccard { .. } => *s + 1,
                                SnnWeight::Rank => (*s).min(rank_i as u32 + rank_j as u32),
                            };
                        }
                    }
                    touched.sort_unstable();
                    let row = touched
                        .iter()
                        .filter_map(|&j| {
                            let s = score[j as usize] as f64;
                            let w = match weight {
                                SnnWeight::Jaccard { prune } => {
                                    Some(s / (2.0 * k as f64 - s)).filter(|&w| w >= prune)
                                }
                                SnnWeight::Rank => Some(((k - 1) as f64 - s / 2.0).max(RANK_MIN_WEIGHT))
                                    .filter(|_| j as usize != i),
                            };
                            w.map(|w| (j, w as f32))
                        })
                        .collect();
                    touched.iter().for_each(|&j| score[j as usize] = u32::MAX);
                    touched.clear();
                    row
                },
            )
            .collect();
        for row in rows {
            for (j, w) in row {
                g.col.push(j);
                g.weight.push(w);
            }
            g.row_ptr.push(g.col.len());
        }
        meter.add(block.len() as u64);
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::knn::{find_knn, Method, Metric};

    fn exact(data: &[f64], k: usize) -> Knn {
        find_knn(data, 1, k, Method::Exact, Metric::Euclidean, 0, &Meter::default()).unwrap()
    }

    #[test]
    fn jaccard_of_neighbour_sets_with_pruning() {
        // k = 2 on a line 0, 1, 10, 11: {0,1} {1,0} {2,3} {3,2}.
        let g = snn(
            &exact(&[0.0, 1.0, 10.0, 11.0], 2),
            SnnWeight::Jaccard { prune: 1.0 / 15.0 },
            &Meter::default(),
        )
        .unwrap();
        assert_eq!(g.row_ptr, vec![0, 2, 4, 6, 8]);
        assert_eq!(g.col, vec![0, 1, 0, 1, 2, 3, 2, 3]);
        assert!(g.weight.iter().all(|&w| w == 1.0));
        // k = 3 on 0, 1, 3, 7: {0,1,2} {1,0,2} {2,1,0} {3,2,1}; cells 0 and 3 share 2 of 3.
        let g = snn(
            &exact(&[0.0, 1.0, 3.0, 7.0], 3),
            SnnWeight::Jaccard { prune: 0.5 },
            &Meter::default(),
        )
        .unwrap();
        assert_eq!(&g.col[..g.row_ptr[1]], &[0, 1, 2, 3]);
        assert_eq!(g.weight[3], 0.5);
    }

    #[test]
    fn rank_weights_use_the_closest_shared_neighbour() {
        // k = 3 on 0, 1, 3, 7: 0 -> [0,1,2], 1 -> [1,0,2], 2 -> [2,1,0], 3 -> [3,2,1].
        // Cells 0 and 3: shared 1 (ranks 1 + 2) and 2 (ranks 2 + 1): r = 3, weight 2 - 1.5.
        // Cells 0 and 1: 0 is rank 0 for cell 0 and rank 1 for cell 1: r = 1, weight 1.5.
        let g = snn(
            &exact(&[0.0, 1.0, 3.0, 7.0], 3),
            SnnWeight::Rank,
            &Meter::default(),
        )
        .unwrap();
        // bluster::neighborsToSNNGraph(rbind(2:3, c(1, 3), 2:1, 3:2), type = "rank") gives
        // the same row: 1.5, 1, 0.5.
        assert_eq!(&g.col[..g.row_ptr[1]], &[1, 2, 3]);
        assert_eq!(&g.weight[..g.row_ptr[1]], &[1.5, 1.0, 0.5]);
    }

    /// Seurat's own PBMC3k graph from its own embedding (../shared; skipped when absent).
    #[test]
    fn reproduces_seurats_pbmc3k_snn_from_its_embedding() {
        let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../../shared/reference/pbmc3k_seurat");
        let (Ok(embedding), Ok(mtx)) = (
            std::fs::read_to_string(reference.join("pca_embedding.csv")),
            std::fs::read_to_string(reference.join("snn.mtx")),
        ) else {
            eprintln!("shared reference data absent: skipped");
            return;
        };
        let data: Vec<f64> = embedding
            .lines()
            .skip(1)
            .flat_map(|l| {
                l.split(',')
                    .skip(1)
                    .take(10)
                    .map(|v| v.parse::<f64>().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        let knn = find_knn(
            &data,
            10,
            20,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default(),
        )
        .unwrap();
        let g = snn(&knn, SnnWeight::Jaccard { prune: 1.0 / 15.0 }, &Meter::default()).unwrap();
        let mut expected: Vec<(u32, u32, f64)> = mtx
            .lines()
            .skip_while(|l| l.starts_with('%'))
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].parse::<u32>().unwrap() - 1,
                    f[1].parse::<u32>().unwrap() - 1,
                    f[2].parse().unwrap(),
                )
            })
            .collect();
        expected.sort_by_key(|a| (a.0, a.1));
        // The file stores the lower triangle of the symmetric matrix.
        let mut ours: Vec<(u32, u32, f64)> = (0..g.n_nodes())
            .flat_map(|i| (g.row_ptr[i]..g.row_ptr[i + 1]).map(move |p| (i as u32, p)))
            .filter(|&(i, p)| g.col[p] <= i)
            .map(|(i, p)| (i, g.col[p], g.weight[p] as f64))
            .collect();
        ours.sort_by_key(|a| (a.0, a.1));
        assert_eq!(ours.len(), expected.len(), "edge count");
        for (a, b) in ours.iter().zip(&expected) {
            assert_eq!((a.0, a.1), (b.0, b.1));
            assert!((a.2 - b.2).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }
}
