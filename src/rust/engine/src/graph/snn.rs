//! Seurat's shared-nearest-neighbour graph (`FindNeighbors`, `ComputeSNN`): cells i and j
//! are joined with weight s / (2k - s), where s counts the cells in both neighbour sets (each
//! set holding the cell itself), i.e. the Jaccard index of the two sets; weights below
//! `prune` (Seurat: 1/15) are dropped. The graph is symmetric and holds the diagonal (1).

use super::knn::Knn;
use rayon::prelude::*;

/// A symmetric weighted graph in compressed rows, columns ascending within each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub row_ptr: Vec<usize>,
    pub col: Vec<u32>,
    pub weight: Vec<f64>,
}

impl Graph {
    pub fn n_nodes(&self) -> usize {
        self.row_ptr.len() - 1
    }
}

pub fn snn(knn: &Knn, prune: f64) -> Graph {
    let k = knn.k;
    let n = knn.index.len() / k;
    // Cells that have m among their neighbours, for every m.
    let mut holders: Vec<Vec<u32>> = vec![Vec::new(); n];
    for i in 0..n {
        for &m in &knn.index[i * k..(i + 1) * k] {
            holders[m as usize].push(i as u32);
        }
    }
    let rows: Vec<Vec<(u32, f64)>> = (0..n)
        .into_par_iter()
        .map_init(|| (vec![0u32; n], Vec::new()), |(shared, touched), i| {
            for &m in &knn.index[i * k..(i + 1) * k] {
                for &j in &holders[m as usize] {
                    if shared[j as usize] == 0 {
                        touched.push(j);
                    }
                    shared[j as usize] += 1;
                }
            }
            touched.sort_unstable();
            let row = touched
                .iter()
                .filter_map(|&j| {
                    let s = shared[j as usize] as f64;
                    let w = s / (k as f64 + (k as f64 - s));
                    (w >= prune).then_some((j, w))
                })
                .collect();
            touched.iter().for_each(|&j| shared[j as usize] = 0);
            touched.clear();
            row
        })
        .collect();
    let mut g = Graph { row_ptr: vec![0], col: Vec::new(), weight: Vec::new() };
    for row in rows {
        for (j, w) in row {
            g.col.push(j);
            g.weight.push(w);
        }
        g.row_ptr.push(g.col.len());
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::knn::exact_knn;

    #[test]
    fn jaccard_of_neighbour_sets_with_pruning() {
        // k = 2 on a line 0, 1, 10, 11: {0,1} {1,0} {2,3} {3,2}.
        let knn = exact_knn(&[0.0, 1.0, 10.0, 11.0], 1, 2).unwrap();
        let g = snn(&knn, 1.0 / 15.0);
        assert_eq!(g.row_ptr, vec![0, 2, 4, 6, 8]);
        assert_eq!(g.col, vec![0, 1, 0, 1, 2, 3, 2, 3]);
        assert!(g.weight.iter().all(|&w| w == 1.0));
    }

    /// Seurat's own PBMC3k graph from its own embedding (../shared; skipped when absent).
    #[test]
    fn reproduces_seurats_pbmc3k_snn_from_its_embedding() {
        let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/reference/pbmc3k_seurat");
        let (Ok(embedding), Ok(mtx)) = (std::fs::read_to_string(reference.join("pca_embedding.csv")), std::fs::read_to_string(reference.join("snn.mtx"))) else {
            eprintln!("shared reference data absent: skipped");
            return;
        };
        let data: Vec<f64> = embedding.lines().skip(1).flat_map(|l| l.split(',').skip(1).take(10).map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>()).collect();
        let g = snn(&exact_knn(&data, 10, 20).unwrap(), 1.0 / 15.0);
        let mut expected: Vec<(u32, u32, f64)> = mtx
            .lines()
            .skip_while(|l| l.starts_with('%'))
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0].parse::<u32>().unwrap() - 1, f[1].parse::<u32>().unwrap() - 1, f[2].parse().unwrap())
            })
            .collect();
        expected.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        // The file stores the lower triangle of the symmetric matrix.
        let mut ours: Vec<(u32, u32, f64)> = (0..g.n_nodes()).flat_map(|i| (g.row_ptr[i]..g.row_ptr[i + 1]).map(move |p| (i as u32, p))).filter(|&(i, p)| g.col[p] <= i).map(|(i, p)| (i, g.col[p], g.weight[p])).collect();
        ours.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        assert_eq!(ours.len(), expected.len(), "edge count");
        for (a, b) in ours.iter().zip(&expected) {
            assert_eq!((a.0, a.1), (b.0, b.1));
            assert!((a.2 - b.2).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }
}
