//! Simulated 10x data: negative-binomial UMI counts with cluster-specific expression,
//! log-normal library sizes, mitochondrial (`MT-`), ribosomal (`RPL`/`RPS`) and haemoglobin
//! genes, a few damaged cells with high mitochondrial fraction and, optionally, empty droplets
//! (a raw, unfiltered matrix: barcodes holding a few UMIs of ambient RNA). Written as a 10x MTX
//! directory of any size without holding the matrix in memory.
//!
//! Sampling is sparse, O(UMIs) per cell rather than O(genes): NB(mean mu, size r) is a
//! Poisson(r ln(1 + mu/r)) number of clumps with Logarithmic(mu / (r + mu)) sizes. Clumps are
//! drawn by thinning a Poisson(library) process over genes (alias table of the cell's cluster
//! profile), accepting gene g with probability ln(1 + x)/x, x = mu_g / r. This is exact.

use crate::error::{Error, IoContext, Result};
use crate::monitor::Monitor;
use flate2::write::GzEncoder;
use flate2::Compression;
use rand::{Rng, SeedableRng};
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, LogNormal, Normal, Poisson};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub n_cells: usize,
    pub n_genes: usize,
    pub n_clusters: usize,
    pub seed: u64,
    /// Median UMIs per cell.
    pub median_library: f64,
    /// Standard deviation of log library size.
    pub library_sdlog: f64,
    /// NB size parameter (1/overdispersion) of every gene.
    pub theta: f64,
    /// Fraction of damaged cells (mitochondrial expression x10).
    pub damaged_fraction: f64,
    /// Fraction of barcodes that are empty droplets: ambient RNA (the clusters' mean profile)
    /// with a median of `AMBIENT_LIBRARY` UMIs.
    pub empty_fraction: f64,
    /// 10x layout: true = v3 (gzipped, features.tsv.gz), false = v2 (plain, genes.tsv).
    pub v3: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            n_cells: 1000,
            n_genes: 2000,
            n_clusters: 5,
            seed: 1,
            median_library: 3000.0,
            library_sdlog: 0.5,
            theta: 3.0,
            damaged_fraction: 0.03,
            empty_fraction: 0.0,
            v3: true,
        }
    }
}

const MT_GENES: [&str; 13] = [
    "MT-ND1", "MT-ND2", "MT-CO1", "MT-CO2", "MT-ATP8", "MT-ATP6", "MT-CO3", "MT-ND3", "MT-ND4L", "MT-ND4",
    "MT-ND5", "MT-ND6", "MT-CYB",
];
const CELLS_PER_GROUP: usize = 512;
const GROUPS_PER_BATCH: usize = 8;

const HB_GENES: [&str; 3] = ["HBB", "HBA1", "HBA2"];
/// Median UMIs of an empty droplet, and the spread of its log library size.
const AMBIENT_LIBRARY: f64 = 20.0;
const AMBIENT_SDLOG: f64 = 1.0;

/// Gene symbols: MT genes, then ribosomal, then haemoglobin, then GENE<k>.
pub fn gene_symbols(n_genes: usize) -> Vec<String> {
    let ribo = (3..=41)
        .map(|k| format!("RPL{k}"))
        .chain((2..=29).map(|k| format!("RPS{k}")));
    let named = MT_GENES
        .iter()
        .map(|s| s.to_string())
        .chain(ribo)
        .chain(HB_GENES.iter().map(|s| s.to_string()));
    named
        .chain((1..).map(|k| format!("GENE{k}")))
        .take(n_genes)
        .collect()
}

/// Distinct 16-base barcodes with the 10x "-1" suffix.
pub fn barcode(cell: usize) -> String {
    let mut s: String = (0..16)
        .rev()
        .map(|k| b"ACGT"[(cell >> (2 * k)) & 3] as char)
        .collect();
    s.push_str("-1");
    s
}

/// Everything that is shared by all cells: cluster profiles as alias tables.
struct Model {
    /// Expression proportions per (cluster, damaged) profile, each summing to 1, then the
    /// ambient profile of empty droplets (the clusters' healthy profiles, weighted by size).
    profiles: Vec<Vec<f64>>,
    samplers: Vec<WeightedAliasIndex<f64>>,
    cluster_cdf: Vec<f64>,
}

impl Model {
    fn new(o: &SimOptions) -> Result<Self> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(o.seed ^ 0x005E_ED0F_6EE5);
        let symbols = gene_symbols(o.n_genes);
        let base_dist = LogNormal::new(-1.0, 1.6).unwrap();
        let mut base: Vec<f64> = symbols
            .iter()
            .map(|s| {
                let b: f64 = base_dist.sample(&mut rng);
                if s.starts_with("MT-") {
                    b.max(1.0) * 40.0
                } else if s.starts_with("RP") {
                    b.max(1.0) * 60.0
                } else {
                    b
                }
            })
            .collect();
        let total: f64 = base.iter().sum();
        base.iter_mut().for_each(|b| *b /= total);
        let fold = Normal::new(0.0, 0.15).unwrap();
        let mut profiles = Vec::with_capacity(2 * o.n_clusters);
        let mut samplers = Vec::with_capacity(2 * o.n_clusters);
        for _ in 0..o.n_clusters {
            let mut p: Vec<f64> = base
                .iter()
                .map(|&b| b * f64::exp(fold.sample(&mut rng)))
                .collect();
            for (g, s) in symbols.iter().enumerate() {
                if !s.starts_with("MT-") && !s.starts_with("RP") && rng.random_bool(0.04) {
                    p[g] *= f64::exp2(rng.random_range(1.5..5.0));
                }
            }
            for damaged in [false, true] {
                let mut q = p.clone();
                if damaged {
                    symbols
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.starts_with("MT-"))
                        .for_each(|(g, _)| q[g] *= 10.0);
                }
                let t: f64 = q.iter().sum();
                q.iter_mut().for_each(|v| *v /= t);
                samplers.push(
                    WeightedAliasIndex::new(q.clone())
                        .map_err(|e| Error::Request(format!("cannot build the simulation model: {e}")))?,
                );
                profiles.push(q);
            }
        }
        let weights: Vec<f64> = (0..o.n_clusters)
            .map(|k| 1.0 / (k as f64 + 1.0).powf(0.6))
            .collect();
        let sum: f64 = weights.iter().sum();
        let cluster_cdf = weights
            .iter()
            .scan(0.0, |acc, w| {
                *acc += w / sum;
                Some(*acc)
            })
            .collect();
        let ambient: Vec<f64> = (0..o.n_genes)
            .map(|g| {
                (0..o.n_clusters)
                    .map(|k| weights[k] / sum * profiles[2 * k][g])
                    .sum()
            })
            .collect();
        samplers.push(
            WeightedAliasIndex::new(ambient.clone())
                .map_err(|e| Error::Request(format!("cannot build the simulation model: {e}")))?,
        );
        profiles.push(ambient);
        Ok(Model {
            profiles,
            samplers,
            cluster_cdf,
        })
    }
}

/// One simulated barcode: its cluster (None for an empty droplet), damaged flag and sorted
/// (gene, count) pairs.
struct SimCell {
    cluster: Option<usize>,
    damaged: bool,
    genes: Vec<u32>,
    counts: Vec<u32>,
}

fn simulate_cell(model: &Model, o: &SimOptions, cell: usize) -> SimCell {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(
        o.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (cell as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
    );
    let u: f64 = rng.random();
    let cluster = model
        .cluster_cdf
        .iter()
        .position(|&c| u <= c)
        .unwrap_or(model.cluster_cdf.len() - 1);
    let damaged = rng.random_bool(o.damaged_fraction);
    // Drawn only when asked for, so that data without empty droplets keep their seeds' values.
    let empty = o.empty_fraction > 0.0 && rng.random_bool(o.empty_fraction);
    let (profile, median, sdlog) = if empty {
        (model.profiles.len() - 1, AMBIENT_LIBRARY, AMBIENT_SDLOG)
    } else {
        (2 * cluster + damaged as usize, o.median_library, o.library_sdlog)
    };
    let library = median * f64::exp(sdlog * rng.sample::<f64, _>(rand_distr::StandardNormal));
    let proposals = Poisson::new(library)
        .map(|p| p.sample(&mut rng) as usize)
        .unwrap_or(0);
    let mut clumps: Vec<(u32, u32)> = Vec::with_capacity(proposals);
    for _ in 0..proposals {
        let g = model.samplers[profile].sample(&mut rng);
        let x = library * model.profiles[profile][g] / o.theta;
        if rng.random::<f64>() * x <= x.ln_1p() {
            clumps.push((g as u32, logarithmic(x / (1.0 + x), &mut rng)));
        }
    }
    clumps.sort_unstable_by_key(|c| c.0);
    let (mut genes, mut counts) = (Vec::new(), Vec::new());
    for (g, n) in clumps {
        if genes.last() == Some(&g) {
            *counts.last_mut().unwrap() += n;
        } else {
            genes.push(g);
            counts.push(n);
        }
    }
    SimCell {
        cluster: (!empty).then_some(cluster),
        damaged: damaged && !empty,
        genes,
        counts,
    }
}

/// Logarithmic(p) sample (Kemp's algorithm, as numpy's `logseries`).
fn logarithmic(p: f64, rng: &mut impl Rng) -> u32 {
    let r = (-p).ln_1p();
    loop {
        let v: f64 = rng.random();
        if v >= p {
            return 1;
        }
        let q = -(r * rng.random::<f64>()).exp_m1();
        if v <= q * q {
            let k = (1.0 + v.ln() / q.ln()).floor();
            if k >= 1.0 && v > 0.0 {
                return k.min(u32::MAX as f64) as u32;
            }
            continue;
        }
        return if v >= q { 1 } else { 2 };
    }
}

/// Output file that is either plain or written as independent gzip members.
struct Out {
    file: BufWriter<File>,
    gz: bool,
}

impl Out {
    fn create(path: &Path, gz: bool) -> Result<Self> {
        Ok(Out {
            file: BufWriter::with_capacity(1 << 20, File::create(path).ctx("cannot create", path)?),
            gz,
        })
    }
    /// Encodes `text` (a gzip member when compressing); callable from worker threads.
    fn encode(gz: bool, text: Vec<u8>) -> Vec<u8> {
        if !gz {
            return text;
        }
        let mut e = GzEncoder::new(Vec::with_capacity(text.len() / 3), Compression::new(4));
        e.write_all(&text).expect("in-memory write");
        e.finish().expect("in-memory write")
    }
    fn write(&mut self, bytes: &[u8], path: &Path) -> Result<()> {
        self.file.write_all(bytes).ctx("cannot write", path)
    }
    fn write_text(&mut self, text: String, path: &Path) -> Result<()> {
        let bytes = Self::encode(self.gz, text.into_bytes());
        self.write(&bytes, path)
    }
    fn finish(self, path: &Path) -> Result<()> {
        self.file
            .into_inner()
            .map_err(|e| Error::io(format!("cannot write '{}'", path.display()), e.into_error()))?
            .sync_all()
            .ctx("cannot sync", path)
    }
}

/// A group of cells as MTX lines (gzipped when writing v3), with their (cluster, damaged).
struct EncodedGroup {
    bytes: Vec<u8>,
    nnz: u64,
    labels: Vec<(Option<u32>, bool)>,
}

/// Summary of a simulation: per barcode cluster labels (None: an empty droplet) and damaged
/// flags (small outputs).
pub struct Simulated {
    pub nnz: u64,
    pub cluster: Vec<Option<u32>>,
    pub damaged: Vec<bool>,
}

/// Writes a 10x directory `dir` (created; must not exist) and `truth.tsv(.gz)` beside the
/// matrix with each barcode's cluster (1-based; 0 for an empty droplet) and damaged flag. On
/// error or interrupt, `dir` is removed.
pub fn simulate_10x(dir: &Path, o: &SimOptions, monitor: Monitor) -> Result<Simulated> {
    if o.n_cells == 0 || o.n_genes < 20 || o.n_clusters == 0 {
        return Err(Error::Request(
            "simulate_counts needs n_cells >= 1, n_genes >= 20 and n_clusters >= 1".into(),
        ));
    }
    if !(0.0..1.0).contains(&o.empty_fraction) {
        return Err(Error::Request(format!(
            "empty_fraction must be within [0, 1), not {}",
            o.empty_fraction
        )));
    }
    if dir.exists() {
        return Err(Error::Request(format!(
            "'{}' already exists; choose a new directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).ctx("cannot create", dir)?;
    let written = write_10x(dir, o, monitor);
    if written.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    written
}

fn write_10x(dir: &Path, o: &SimOptions, monitor: Monitor) -> Result<Simulated> {
    let model = Model::new(o)?;
    let ext = if o.v3 { ".gz" } else { "" };
    let name = |stem: &str| dir.join(format!("{stem}{ext}"));

    let body_path = dir.join("matrix.body.tmp");
    let mut body = Out::create(&body_path, o.v3)?;
    let mut sim = Simulated {
        nnz: 0,
        cluster: Vec::with_capacity(o.n_cells),
        damaged: Vec::with_capacity(o.n_cells),
    };
    let groups: Vec<usize> = (0..o.n_cells).step_by(CELLS_PER_GROUP).collect();
    for batch in groups.chunks(GROUPS_PER_BATCH) {
        monitor.check()?;
        let encoded: Vec<EncodedGroup> = batch
            .par_iter()
            .map(|&first| {
                let mut text = Vec::new();
                let mut nnz = 0u64;
                let mut labels = Vec::new();
                for cell in first..(first + CELLS_PER_GROUP).min(o.n_cells) {
                    let c = simulate_cell(&model, o, cell);
                    for (g, n) in c.genes.iter().zip(&c.counts) {
                        writeln!(text, "{} {} {}", g + 1, cell + 1, n).expect("in-memory write");
                    }
                    nnz += c.genes.len() as u64;
                    labels.push((c.cluster.map(|k| k as u32), c.damaged));
                }
                EncodedGroup {
                    bytes: Out::encode(o.v3, text),
                    nnz,
                    labels,
                }
            })
            .collect();
        for EncodedGroup { bytes, nnz, labels } in encoded {
            body.write(&bytes, &body_path)?;
            sim.nnz += nnz;
            labels.into_iter().for_each(|(c, d)| {
                sim.cluster.push(c);
                sim.damaged.push(d);
            });
        }
    }
    body.finish(&body_path)?;

    let matrix_path = name("matrix.mtx");
    let mut matrix = Out::create(&matrix_path, o.v3)?;
    matrix.write_text(
        format!(
            "%%MatrixMarket matrix coordinate integer general\n%metadata_json: \
        {{\"software_version\": \"cellstream-simulate\"}}\n{} {} \
            {}\n",
            o.n_genes, o.n_cells, sim.nnz
        ),
        &matrix_path,
    )?;
    let mut body_file = File::open(&body_path).ctx("cannot open", &body_path)?;
    std::io::copy(&mut body_file, &mut matrix.file).ctx("cannot write", &matrix_path)?;
    matrix.finish(&matrix_path)?;
    std::fs::remove_file(&body_path).ctx("cannot remove", &body_path)?;

    let symbols = gene_symbols(o.n_genes);
    let features_path = name(if o.v3 { "features.tsv" } else { "genes.tsv" });
    let mut features = Out::create(&features_path, o.v3)?;
    let text: String = symbols
        .iter()
        .enumerate()
        .map(|(g, s)| {
            if o.v3 {
                format!("SIMG{:08}\t{s}\tGene Expression\n", g + 1)
            } else {
                format!("SIMG{:08}\t{s}\n", g + 1)
            }
        })
        .collect();
    features.write_text(text, &features_path)?;
    features.finish(&features_path)?;

    let barcode_line = |c: usize| format!("{}\n", barcode(c));
    let truth_line = |c: usize| {
        format!(
            "{}\t{}\t{}\n",
            barcode(c),
            sim.cluster[c].map_or(0, |k| k + 1),
            sim.damaged[c] as u8
        )
    };
    let tables: [(&str, &dyn Fn(usize) -> String); 2] =
        [("barcodes.tsv", &barcode_line), ("truth.tsv", &truth_line)];
    for (stem, line) in tables {
        let path = name(stem);
        let mut out = Out::create(&path, o.v3)?;
        out.write_text((0..o.n_cells).map(line).collect(), &path)?;
        out.finish(&path)?;
    }
    Ok(sim)
}

pub mod network;
#[cfg(test)]
mod tests;
