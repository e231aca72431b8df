//! A planted regulatory network for tests, demo and vignettes: `n_tfs` TFs whose activity
//! varies by cell type and cell, and targets each regulated by 1 to 3 of them through Hill
//! functions (activation x^2 / (K^2 + x^2) or repression K^2 / (K^2 + x^2)); every gene's
//! counts are negative binomial around library size x its expression. Written as a 10x v3
//! directory with `network.tsv` (regulator, target, sign) beside it.

use super::{barcode, Out};
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, LogNormal, Poisson};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::Path;

pub struct NetworkOptions {
    pub n_cells: usize,
    pub n_tfs: usize,
    pub n_targets: usize,
    pub n_types: usize,
    pub median_library: f64,
    /// Negative-binomial size (variance mu + mu^2 / theta).
    pub theta: f64,
    pub seed: u64,
}

/// An edge of the planted network.
pub struct PlantedEdge {
    pub regulator: String,
    pub target: String,
    pub activates: bool,
}

pub fn simulate_network(dir: &Path, o: &NetworkOptions) -> Result<Vec<PlantedEdge>> {
    if o.n_cells < 10
        || o.n_tfs < 2
        || o.n_targets < 1
        || o.n_types < 1
        || o.theta.is_nan()
        || o.theta <= 0.0
        || o.median_library.is_nan()
        || o.median_library <= 0.0
    {
        return Err(Error::Request(
            "simulate_network needs n_cells >= 10, n_tfs >= 2, n_targets >= 1, n_types >= 1, theta > 0 and \
            median_library > 0"
                .into(),
        ));
    }
    if dir.exists() {
        return Err(Error::Request(format!(
            "'{}' already exists; choose a new directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create '{}'", dir.display()), e))?;
    let written = write(dir, o);
    if written.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    written
}

fn write(dir: &Path, o: &NetworkOptions) -> Result<Vec<PlantedEdge>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(o.seed);
    let names: Vec<String> = (0..o.n_tfs)
        .map(|t| format!("TF{:02}", t + 1))
        .chain((0..o.n_targets).map(|g| format!("TG{:03}", g + 1)))
        .collect();
    let level = LogNormal::new(0.0, 0.8).expect("valid");
    // Per cell type each TF's mean activity, around 1.
    let type_level: Vec<Vec<f64>> = (0..o.n_types)
        .map(|_| (0..o.n_tfs).map(|_| level.sample(&mut rng)).collect())
        .collect();
    let mut regulators: Vec<Vec<(usize, bool, f64)>> = Vec::new();
    let mut edges = Vec::new();
    for g in 0..o.n_targets {
        let k = 1 + rng.random_range(0..3usize.min(o.n_tfs));
        let mut regs: Vec<(usize, bool, f64)> = Vec::new();
        while regs.len() < k {
            let tf = rng.random_range(0..o.n_tfs);
            if regs.iter().all(|r| r.0 != tf) {
                regs.push((tf, rng.random::<f64>() < 0.7, rng.random_range(0.5..1.5)));
            }
        }
        for &(tf, activates, _) in &regs {
            edges.push(PlantedEdge {
                regulator: names[tf].clone(),
                target: names[o.n_tfs + g].clone(),
                activates,
            });
        }
        regulators.push(regs);
    }
    let library = LogNormal::new(o.median_library.ln(), 0.3).expect("valid");
    let cell_noise = LogNormal::new(0.0, 0.5).expect("valid");
    let mut body = String::new();
    let mut nnz = 0u64;
    let nb = |mu: f64, rng: &mut Xoshiro256PlusPlus| -> u64 {
        if mu <= 0.0 {
            return 0;
        }
        let lambda = Gamma::new(o.theta, mu / o.theta).expect("valid").sample(rng);
        if lambda <= 0.0 {
            0
        } else {
            Poisson::new(lambda).expect("valid").sample(rng) as u64
        }
    };
    let n_genes = o.n_tfs + o.n_targets;
    let share = 1.0 / n_genes as f64;
    for c in 0..o.n_cells {
        let ty = c % o.n_types;
        let lib = library.sample(&mut rng);
        let activity: Vec<f64> = (0..o.n_tfs)
            .map(|t| type_level[ty][t] * cell_noise.sample(&mut rng))
            .collect();
        for (t, &a) in activity.iter().enumerate() {
            let n = nb(lib * share * a, &mut rng);
            if n > 0 {
                body.push_str(&format!("{} {} {n}\n", t + 1, c + 1));
                nnz += 1;
            }
        }
        for (g, regs) in regulators.iter().enumerate() {
            let expression: f64 = regs
                .iter()
                .map(|&(tf, activates, k)| {
                    let x2 = activity[tf] * activity[tf];
                    let hill = x2 / (k * k + x2);
                    if activates {
                        2.0 * hill
                    } else {
                        2.0 * (1.0 - hill)
                    }
                })
                .product();
            let n = nb(lib * share * expression, &mut rng);
            if n > 0 {
                body.push_str(&format!("{} {} {n}\n", o.n_tfs + g + 1, c + 1));
                nnz += 1;
            }
        }
    }
    let files: [(&str, String); 4] = [
        (
            "matrix.mtx.gz",
            format!(
                "%%MatrixMarket matrix coordinate integer general\n{n_genes} {} {nnz}\n{body}",
                o.n_cells
            ),
        ),
        (
            "features.tsv.gz",
            names
                .iter()
                .map(|n| format!("{n}\t{n}\tGene Expression\n"))
                .collect(),
        ),
        (
            "barcodes.tsv.gz",
            (0..o.n_cells).map(|c| format!("{}\n", barcode(c))).collect(),
        ),
        (
            "network.tsv",
            std::iter::once("regulator\ttarget\tsign\n".to_string())
                .chain(edges.iter().map(|e| {
                    format!(
                        "{}\t{}\t{}\n",
                        e.regulator,
                        e.target,
                        if e.activates { "+" } else { "-" }
                    )
                }))
                .collect(),
        ),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        let mut out = Out::create(&path, name.ends_with(".gz"))?;
        out.write_text(text, &path)?;
        out.finish(&path)?;
    }
    Ok(edges)
}
