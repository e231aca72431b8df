//! UMAP's layout optimisation (umap-learn's `optimize_layout_euclidean`): stochastic gradient
//! descent over the graph's edges, each sampled in proportion to its weight, pulling its ends
//! together; every sample also pushes the moving end away from `negative_sample_rate` random
//! cells. The learning rate falls linearly to 0 over the epochs.
//!
//! Parallel over blocks of edges, updating the shared layout without locks (as umap-learn's
//! `parallel = True`, through relaxed atomics, so no data race in Rust's sense): the result
//! then depends on thread timing. With one thread the blocks run in order and the layout is a
//! function of the seed alone.

use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::monitor::Monitor;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdOptions {
    pub a: f64,
    pub b: f64,
    pub n_epochs: usize,
    pub negative_sample_rate: usize,
    pub learning_rate: f64,
    pub repulsion: f64,
    pub seed: u64,
    /// Some(1): sequential and reproducible; None: all of rayon's threads.
    pub threads: Option<usize>,
}

/// Edges per block: the unit of parallel work, each with its own random stream.
const EDGES_PER_BLOCK: usize = 1 << 16;
const GRADIENT_CLIP: f32 = 4.0;

pub(crate) struct Edges {
    pub head: Vec<u32>,
    pub tail: Vec<u32>,
    pub epochs_per_sample: Vec<f32>,
}

/// Every directed entry of the (symmetric) graph whose weight is at least max / n_epochs.
pub(crate) fn edges(g: &Graph, n_epochs: usize) -> Edges {
    let max = g.weight.iter().fold(0.0f32, |m, &w| m.max(w));
    let floor = max / n_epochs as f32;
    let mut e = Edges {
        head: Vec::new(),
        tail: Vec::new(),
        epochs_per_sample: Vec::new(),
    };
    for i in 0..g.n_nodes() {
        for (j, w) in g.edges(i) {
            if w >= floor && w > 0.0 {
                e.head.push(i as u32);
                e.tail.push(j as u32);
                e.epochs_per_sample.push(max / w);
            }
        }
    }
    e
}

/// Optimises `layout` (n x dim, row-major), first rescaled to [0, 10] in each dimension.
// Coordinates live in atomics read through `get(i, d)`, so the loops over d index both them
// and the moving point's local copy.
#[allow(clippy::needless_range_loop)]
pub fn optimize(
    g: &Graph,
    layout: &[f64],
    dim: usize,
    options: &SgdOptions,
    monitor: Monitor,
) -> Result<Vec<f32>> {
    let n = g.n_nodes();
    let edges = edges(g, options.n_epochs);
    let coords: Vec<AtomicU32> = rescaled(layout, dim)
        .into_iter()
        .map(|v| AtomicU32::new(v.to_bits()))
        .collect();
    let mut next_sample = edges.epochs_per_sample.clone();
    let mut next_negative: Vec<f32> = edges
        .epochs_per_sample
        .iter()
        .map(|e| e / options.negative_sample_rate as f32)
        .collect();
    let (a, b) = (options.a as f32, options.b as f32);
    let gamma = options.repulsion as f32;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.unwrap_or(0))
        .build()
        .map_err(|e| Error::Request(format!("cannot start the UMAP threads: {e}")))?;
    let get = |i: usize, d: usize| f32::from_bits(coords[i * dim + d].load(Ordering::Relaxed));
    let add = |i: usize, d: usize, v: f32| {
        let slot = &coords[i * dim + d];
        slot.store(
            (f32::from_bits(slot.load(Ordering::Relaxed)) + v).to_bits(),
            Ordering::Relaxed,
        );
    };
    let n_epochs = options.n_epochs as u64;
    for epoch in 0..options.n_epochs {
        monitor.tick("UMAP: epochs", epoch as u64, n_epochs)?;
        let alpha = (options.learning_rate * (1.0 - epoch as f64 / options.n_epochs as f64)) as f32;
        let now = epoch as f32;
        let block = |(index, (next, next_neg)): (usize, (&mut [f32], &mut [f32]))| {
            let start = index * EDGES_PER_BLOCK;
            let mut rng =
                Xoshiro256PlusPlus::seed_from_u64(options.seed ^ ((epoch as u64) << 32) ^ index as u64);
            let mut current = [0.0f32; 8];
            for (t, (next, next_neg)) in next.iter_mut().zip(next_neg.iter_mut()).enumerate() {
                if *next > now {
                    continue;
                }
                let e = start + t;
                let (j, k) = (edges.head[e] as usize, edges.tail[e] as usize);
                let mut dist2 = 0.0f32;
                for d in 0..dim {
                    current[d] = get(j, d);
                    dist2 += (current[d] - get(k, d)).powi(2);
                }
                let coeff = if dist2 > 0.0 {
                    // d^(2(b-1)) as d^(2b) / d², one power instead of two.
                    let pb = dist2.powf(b);
                    -2.0 * a * b * (pb / dist2) / (a * pb + 1.0)
                } else {
                    0.0
                };
                for d in 0..dim {
                    let grad =
                        (coeff * (current[d] - get(k, d))).clamp(-GRADIENT_CLIP, GRADIENT_CLIP) * alpha;
                    current[d] += grad;
                    add(j, d, grad);
                    add(k, d, -grad);
                }
                *next += edges.epochs_per_sample[e];
                let per_negative = edges.epochs_per_sample[e] / options.negative_sample_rate as f32;
                let n_negative = ((now - *next_neg) / per_negative).max(0.0) as usize;
                for _ in 0..n_negative {
                    let k = rng.random_range(0..n);
                    if k == j {
                        continue;
                    }
                    let mut dist2 = 0.0f32;
                    for d in 0..dim {
                        dist2 += (current[d] - get(k, d)).powi(2);
                    }
                    if dist2 <= 0.0 {
                        continue;
                    }
                    let coeff = 2.0 * gamma * b / ((0.001 + dist2) * (a * dist2.powf(b) + 1.0));
                    for d in 0..dim {
                        let grad =
                            (coeff * (current[d] - get(k, d))).clamp(-GRADIENT_CLIP, GRADIENT_CLIP) * alpha;
                        current[d] += grad;
                        add(j, d, grad);
                    }
                }
                *next_neg += n_negative as f32 * per_negative;
            }
        };
        let blocks = next_sample
            .par_chunks_mut(EDGES_PER_BLOCK)
            .zip(next_negative.par_chunks_mut(EDGES_PER_BLOCK))
            .enumerate();
        if options.threads == Some(1) {
            blocks.collect::<Vec<_>>().into_iter().for_each(block);
        } else {
            pool.install(|| blocks.for_each(block));
        }
    }
    monitor.report("UMAP: epochs", n_epochs, n_epochs);
    Ok(coords
        .into_iter()
        .map(|v| f32::from_bits(v.into_inner()))
        .collect())
}

/// Each dimension mapped linearly onto [0, 10] (umap-learn before optimising).
pub(crate) fn rescaled(layout: &[f64], dim: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; layout.len()];
    for d in 0..dim {
        let column = layout.iter().skip(d).step_by(dim);
        let (lo, hi) = column
            .clone()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        column
            .enumerate()
            .for_each(|(i, &v)| out[i * dim + d] = (10.0 * (v - lo) / span) as f32);
    }
    out
}
