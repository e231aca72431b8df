//! Tests of the simulator.

use super::*;

#[test]
fn logarithmic_sampler_has_the_right_mean() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for p in [0.1, 0.5, 0.9] {
        let n = 200_000;
        let mean = (0..n).map(|_| logarithmic(p, &mut rng) as f64).sum::<f64>() / n as f64;
        let expected = -p / ((1.0 - p) * (-p).ln_1p());
        assert!(
            (mean - expected).abs() < 0.02 * expected,
            "p={p}: {mean} vs {expected}"
        );
    }
}

#[test]
fn cells_have_negative_binomial_gene_counts() {
    // One gene's counts across many cells of the same library size: mean mu and
    // variance mu + mu^2 / theta.
    let o = SimOptions {
        n_genes: 200,
        n_clusters: 1,
        library_sdlog: 0.0,
        damaged_fraction: 0.0,
        ..Default::default()
    };
    let model = Model::new(&o).unwrap();
    let g = (13..200)
        .max_by(|&a, &b| model.profiles[0][a].total_cmp(&model.profiles[0][b]))
        .unwrap();
    let mu = o.median_library * model.profiles[0][g];
    let n = 20_000;
    let x: Vec<f64> = (0..n)
        .map(|c| {
            let cell = simulate_cell(&model, &o, c);
            cell.genes
                .iter()
                .position(|&k| k as usize == g)
                .map_or(0.0, |i| cell.counts[i] as f64)
        })
        .collect();
    let mean = x.iter().sum::<f64>() / n as f64;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    assert!((mean - mu).abs() < 0.03 * mu, "mean {mean} vs {mu}");
    let expected_var = mu + mu * mu / o.theta;
    assert!(
        (var - expected_var).abs() < 0.08 * expected_var,
        "var {var} vs {expected_var}"
    );
}

#[test]
fn barcodes_are_distinct_and_genes_named() {
    assert_ne!(barcode(0), barcode(1));
    assert_eq!(barcode(1), "AAAAAAAAAAAAAAAC-1");
    let s = gene_symbols(100);
    assert_eq!(&s[0], "MT-ND1");
    assert!(s.iter().any(|g| g == "RPL3") && s.iter().any(|g| g == "RPS2"));
    assert!(s.iter().any(|g| g == "HBB"));
    assert_eq!(s[99], "GENE17");
}
