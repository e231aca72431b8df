//! Tests of the Leiden clustering.

use super::*;
use crate::graph::knn::{find_knn, Method, Metric};
use crate::graph::snn::{snn, SnnWeight};

fn options(resolution: f64, objective: Objective) -> LeidenOptions {
    LeidenOptions {
        resolution,
        objective,
        seed: 1,
        max_iterations: None,
        randomness: 0.01,
    }
}

fn from_edges(n: usize, edges: &[(u32, u32, f64)]) -> Graph<f64> {
    let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for &(a, b, w) in edges {
        rows[a as usize].push((b, w));
        if a != b {
            rows[b as usize].push((a, w));
        }
    }
    let mut g = Graph {
        row_ptr: vec![0],
        col: Vec::new(),
        weight: Vec::new(),
    };
    for mut row in rows {
        row.sort_by_key(|e| e.0);
        row.into_iter().for_each(|(j, w)| {
            g.col.push(j);
            g.weight.push(w)
        });
        g.row_ptr.push(g.col.len());
    }
    g
}

/// Two 5-cliques joined by one edge; node 0 has a self-loop.
fn two_cliques() -> Graph<f64> {
    let mut edges = vec![(0, 0, 1.0), (4, 5, 1.0)];
    for base in [0u32, 5] {
        for a in 0..5 {
            for b in a + 1..5 {
                edges.push((base + a, base + b, 1.0));
            }
        }
    }
    from_edges(10, &edges)
}

#[test]
fn modularity_matches_newmans_formula() {
    let g = two_cliques();
    // 2m = 2 * 21 + 1 (self-loop once); inside = 2 * 20 + 1; K = 22 and 21.
    let q = modularity(&g, &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 1.0);
    let two_m = 43.0;
    assert!((q - (41.0 - (22.0f64 * 22.0 + 21.0 * 21.0) / two_m) / two_m).abs() < 1e-12);
    assert!(modularity(&g, &[0; 10], 1.0).abs() < 1e-12);
}

#[test]
fn dropping_self_loops_leaves_the_other_edges() {
    let mut g = two_cliques();
    let with_loop = g.clone();
    assert_eq!(g.drop_self_loops(), 1);
    assert_eq!(g.col.len(), with_loop.col.len() - 1);
    assert!((0..10).all(|i| g.edges(i).all(|(j, _)| j != i)));
    for i in 0..10 {
        let expected: Vec<(usize, f64)> = with_loop.edges(i).filter(|&(j, _)| j != i).collect();
        assert_eq!(g.edges(i).collect::<Vec<_>>(), expected);
    }
    // 2m = 42 without the loop; K = 21 and 21; inside = 40.
    let q = modularity(&g, &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 1.0);
    assert!((q - (40.0 - 2.0 * 21.0 * 21.0 / 42.0) / 42.0).abs() < 1e-12);
    assert_eq!(g.drop_self_loops(), 0);
}

#[test]
fn finds_two_cliques_and_numbers_by_size() {
    let g = two_cliques();
    let c = leiden(&g, &options(1.0, Objective::Modularity), &Meter::default()).unwrap();
    assert_eq!(c.labels, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert_eq!(c.n_clusters, 2);
    assert!((c.quality - modularity(&g, &c.labels, 1.0)).abs() < 1e-12);
    // A tiny resolution merges everything; CPM at resolution above every edge density
    // splits into singletons.
    assert_eq!(
        leiden(&g, &options(0.01, Objective::Modularity), &Meter::default())
            .unwrap()
            .n_clusters,
        1
    );
    assert_eq!(
        leiden(&g, &options(1.5, Objective::Cpm), &Meter::default())
            .unwrap()
            .n_clusters,
        10
    );
    assert_eq!(
        leiden(&g, &options(0.5, Objective::Cpm), &Meter::default())
            .unwrap()
            .n_clusters,
        2
    );
    assert!(leiden(&g, &options(0.0, Objective::Modularity), &Meter::default()).is_err());
    assert!(leiden(&g, &options(f64::NAN, Objective::Modularity), &Meter::default()).is_err());
}

#[test]
fn recovers_clusters_of_points_reproducibly() {
    let (points, truth) = crate::testdir::clustered_points(3_000, 10, 12, 3);
    let g = snn(
        &find_knn(
            &points,
            10,
            20,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default(),
        )
        .unwrap(),
        SnnWeight::Jaccard { prune: 1.0 / 15.0 },
        &Meter::default(),
    )
    .unwrap();
    let runs = leiden_each(
        g,
        true,
        &[
            options(1.0, Objective::Modularity),
            options(1.0, Objective::Modularity),
            options(0.5, Objective::Modularity),
        ],
        &Meter::default(),
    )
    .unwrap();
    assert_eq!(runs[0], runs[1]);
    for c in &runs[..2] {
        assert_eq!(c.n_clusters, 12);
        // Every true cluster maps to one found cluster.
        let mut seen = [u32::MAX; 12];
        for (&t, &l) in truth.iter().zip(&c.labels) {
            assert!(seen[t] == u32::MAX || seen[t] == l);
            seen[t] = l;
        }
    }
    assert!(runs[0].quality > 0.85, "modularity {}", runs[0].quality);
    // A second pass from the result changes nothing.
    assert!(runs[0].iterations >= 2);
}
