//! `cellstream-bench gpu N [DIMS] [ADAPTER]`: the GPU against the CPU (all threads) in one
//! process on seeded data of N cells, each GPU result checked against the CPU's:
//! - exact kNN (k = 20) of N rows of DIMS (30) dimensions, a mixture of 30 clusters: the GPU
//!   cold and warm (setup, kernel, download and ranking times), checked against the CPU's
//!   exact search on 1,000 sampled rows, whose time gives the CPU's exact search
//!   extrapolated; NN-Descent on the CPU beside it;
//! - UMAP from those neighbours (pca start) on the GPU, cold and warm, and on the CPU;
//! - PCA (50 PCs, the randomized solver) of N cells x 2,000 genes, sparse as scaled
//!   single-cell data, the products on the GPU cold and warm (upload, kernels, download),
//!   and on the CPU: PCs 1-10 |r| and the singular values compared.
//!
//! ADAPTER: part of an adapter's name, else the best hardware GPU.

use cellstream_engine::gpu::knn::exact_knn;
use cellstream_engine::gpu::pca::ScaledOnGpu;
use cellstream_engine::gpu::{Choice, Gpu};
use cellstream_engine::graph::knn::{find_knn, Knn, Method, Metric};
use cellstream_engine::monitor::{Meter, Monitor};
use cellstream_engine::pca::kernels::{Dense, Products, Scaled, SparseRows};
use cellstream_engine::pca::rsvd::{block_krylov_svd, Svd, SvdOptions};
use cellstream_engine::umap::{umap, Init, UmapOptions};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::time::Instant;

const K: usize = 20;
const CLUSTERS: usize = 30;

pub fn bench(args: &[String]) -> Result<(), String> {
    let n: usize = args[0].parse().map_err(|_| "N")?;
    let dims: usize = args.get(1).map_or(Ok(30), |d| d.parse()).map_err(|_| "DIMS")?;
    let choice = args.get(2).map_or(Choice::Hardware, |a| Choice::Named(a.clone()));
    let t = Instant::now();
    let gpu = Gpu::open(&choice).map_err(|e| e.to_string())?;
    println!(
        "gpu: {} ({}, {}), max storage binding {} MiB; opened in {:.2} s; {n} cells; {} CPU threads",
        gpu.adapter.name,
        gpu.adapter.backend,
        gpu.adapter.device_type,
        gpu.adapter.max_storage_binding >> 20,
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let data = clustered(n, dims);
    let knn = neighbours(&gpu, &data, dims)?;
    layouts(&gpu, &knn, data, dims)?;
    pca(&gpu, n)
}

/// N rows around 30 centres, row i in cluster i * 7 mod 30.
fn clustered(n: usize, dims: usize) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let centres: Vec<f32> = (0..CLUSTERS * dims)
        .map(|_| rng.random_range(-8.0..8.0))
        .collect();
    (0..n)
        .flat_map(|i| {
            let c = (i * 7 % CLUSTERS) * dims;
            (0..dims)
                .map(|d| centres[c + d] + rng.random_range(-1.0f32..1.0))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn neighbours(gpu: &Gpu, data: &[f32], dims: usize) -> Result<Knn, String> {
    let n = data.len() / dims;
    let mut knn = None;
    for run in ["cold", "warm"] {
        let t = Instant::now();
        let (found, times) =
            exact_knn(gpu, data, dims, K, Metric::Euclidean, &Meter::default()).map_err(|e| e.to_string())?;
        println!(
            "gpu exact kNN ({run}; k = {K}, {dims} dims): {:.2} s = setup and upload {:.2} + kernels {:.2} + \
            download {:.2} + f64 ranking on the CPU {:.2}",
            t.elapsed().as_secs_f64(),
            times.setup,
            times.kernels,
            times.download,
            times.rank
        );
        knn = Some(found);
    }
    let knn = knn.expect("two runs");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let check: Vec<usize> = sample(&mut rng, n, n.min(1000)).into_vec();
    let t = Instant::now();
    let row = |i: usize| &data[i * dims..(i + 1) * dims];
    let mismatches = check
        .par_iter()
        .filter(|&&i| {
            let mut d: Vec<(f64, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let s: f64 = row(i)
                        .iter()
                        .zip(row(j))
                        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                        .sum();
                    (s, j as u32)
                })
                .collect();
            d.select_nth_unstable_by(K - 2, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut nearest = d[..K - 1].to_vec();
            nearest.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let expected = std::iter::once(i as u32).chain(nearest.iter().map(|x| x.1));
            !expected.eq(knn.row(i).iter().copied())
        })
        .count();
    let per_row = t.elapsed().as_secs_f64() / check.len() as f64;
    println!(
        "check: {mismatches} of {} sampled rows differ from the CPU exact search; the CPU's exact search \
        would take {:.1} s for all rows",
        check.len(),
        per_row * n as f64
    );
    let t = Instant::now();
    find_knn(
        data,
        dims,
        K,
        Method::NnDescent,
        Metric::Euclidean,
        1,
        &Meter::default(),
    )
    .map_err(|e| e.to_string())?;
    println!("cpu NN-Descent (approximate): {:.2} s", t.elapsed().as_secs_f64());
    Ok(knn)
}

fn layouts(gpu: &Gpu, knn: &Knn, data: Vec<f32>, dims: usize) -> Result<(), String> {
    let pcs = Dense {
        rows: data.len() / dims,
        k: dims,
        data,
    };
    let options = UmapOptions {
        n_neighbors: 15,
        min_dist: 0.3,
        spread: 1.0,
        n_epochs: None,
        init: Init::Pca,
        seed: 42,
        threads: None,
    };
    for (run, on) in [("gpu, cold", Some(gpu)), ("gpu, warm", Some(gpu)), ("cpu", None)] {
        let t = Instant::now();
        let layout = umap(knn, &pcs, &options, on, Monitor::quiet()).map_err(|e| e.to_string())?;
        println!(
            "umap ({run}; {} epochs, pca start): {:.2} s",
            layout.n_epochs,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

const GENES: usize = 2000;
/// Genes with raised values in each cluster.
const MARKERS: usize = 60;

/// N cells x 2,000 genes as PCA stages them: ~100 background and 40 of its cluster's 60
/// marker genes per cell (7 % non-zero), centred by c = the column means.
fn scaled_matrix(n: usize) -> (SparseRows, Vec<f32>) {
    let rows: Vec<Vec<(u16, f32)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(i as u64 ^ 0x9e37_79b9);
            let first_marker = (i * 7 % CLUSTERS) * MARKERS;
            let background = sample(&mut rng, GENES, 100);
            let markers = sample(&mut rng, MARKERS, 40);
            let mut row: Vec<(u16, f32)> = background
                .into_iter()
                .map(|j| (j as u16, rng.random_range(0.5..3.0)))
                .collect();
            row.extend(
                markers
                    .into_iter()
                    .map(|j| ((first_marker + j) as u16, rng.random_range(2.0..5.0))),
            );
            row.sort_unstable_by_key(|e| e.0);
            row.dedup_by_key(|e| e.0);
            row
        })
        .collect();
    let mut b = SparseRows {
        n_cols: GENES,
        row_ptr: Vec::with_capacity(n + 1),
        col: Vec::new(),
        val: Vec::new(),
    };
    b.row_ptr.push(0);
    let mut sums = vec![0f64; GENES];
    for row in rows {
        for (j, v) in row {
            b.col.push(j);
            b.val.push(v);
            sums[j as usize] += v as f64;
        }
        b.row_ptr.push(b.col.len());
    }
    let c = sums.iter().map(|s| (s / n as f64) as f32).collect();
    (b, c)
}

fn pca(gpu: &Gpu, n: usize) -> Result<(), String> {
    let t = Instant::now();
    let (b, c) = scaled_matrix(n);
    println!(
        "pca: {n} cells x {GENES} genes, {} non-zeros, generated in {:.2} s; 50 PCs, randomized (10 extra, 8 blocks)",
        b.col.len(),
        t.elapsed().as_secs_f64()
    );
    let options = SvdOptions {
        n: 50,
        oversample: 10,
        blocks: 8,
        until_converged: false,
        seed: 42,
    };
    let mut on_gpu = None;
    for run in ["cold", "warm"] {
        let t = Instant::now();
        let x = ScaledOnGpu::new(gpu, &b, &c, options.block_columns(GENES)).map_err(|e| e.to_string())?;
        let svd = block_krylov_svd(&x, &options, Monitor::quiet()).map_err(|e| e.to_string())?;
        let times = x.times_spent();
        let total = t.elapsed().as_secs_f64();
        println!(
            "pca on the gpu ({run}): {total:.2} s = tiles and upload {:.2} ({} tiles) + blocks' upload and kernels \
            {:.2} + download {:.2} + the solver's gene-space work on the CPU {:.2}",
            times.setup,
            x.n_tiles(),
            times.kernels,
            times.download,
            total - times.setup - times.kernels - times.download
        );
        on_gpu = Some(svd);
    }
    let t = Instant::now();
    let cpu = Scaled {
        b: &b,
        c: &c,
        simd: true,
    };
    let on_cpu = block_krylov_svd(&cpu, &options, Monitor::quiet()).map_err(|e| e.to_string())?;
    println!(
        "pca on the cpu: {:.2} s ({} rows x {} columns)",
        t.elapsed().as_secs_f64(),
        cpu.n_rows(),
        cpu.n_cols()
    );
    let on_gpu = on_gpu.expect("two runs");
    let worst_r = (0..10)
        .map(|t| column_correlation(&on_gpu, &on_cpu, t).abs())
        .fold(1f64, f64::min);
    let worst_s = on_gpu
        .s
        .iter()
        .zip(&on_cpu.s)
        .map(|(g, c)| (g - c).abs() / c)
        .fold(0f64, f64::max);
    println!(
        "check: PCs 1-10 |r| >= {worst_r:.10} (1 - |r| = {:.1e}); singular values within {worst_s:.1e} relative",
        1.0 - worst_r
    );
    Ok(())
}

fn column_correlation(a: &Svd, b: &Svd, t: usize) -> f64 {
    let column = |s: &Svd| -> Vec<f64> {
        (0..s.embedding.rows)
            .map(|r| s.embedding.data[r * s.embedding.k + t] as f64)
            .collect()
    };
    let (x, y) = (column(a), column(b));
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (u, v) in x.iter().zip(&y) {
        sxy += (u - mx) * (v - my);
        sxx += (u - mx) * (u - mx);
        syy += (v - my) * (v - my);
    }
    sxy / (sxx * syy).sqrt()
}
