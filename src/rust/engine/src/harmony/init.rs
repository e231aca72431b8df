//! Harmony's starting centroids: k-means on the cosine-normalised cells, seeded by k-means++
//! (Arthur & Vassilvitskii 2007) and refined by Lloyd's iterations until no cell changes
//! cluster (at most 25, as R harmony's `kmeans(iter.max = 25)`).

use super::CHUNK;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

const MAX_ROUNDS: usize = 25;

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// `k` centroids (k x dims, row-major) of `data` (n x dims).
pub(super) fn kmeans(data: &[f64], dims: usize, k: usize, seed: u64) -> Vec<f64> {
    let n = data.len() / dims;
    let row = |i: usize| &data[i * dims..(i + 1) * dims];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6b6d_6561_6e73);
    let mut centres: Vec<f64> = row(rng.random_range(0..n)).to_vec();
    let mut nearest: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| squared_distance(row(i), &centres))
        .collect();
    while centres.len() < k * dims {
        let total: f64 = nearest.iter().sum();
        let mut target = rng.random_range(0.0..1.0) * total;
        let mut pick = n - 1;
        for (i, &d) in nearest.iter().enumerate() {
            if target < d {
                pick = i;
                break;
            }
            target -= d;
        }
        let new = row(pick).to_vec();
        nearest
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, d)| *d = d.min(squared_distance(row(i), &new)));
        centres.extend(new);
    }
    let mut assigned = vec![u32::MAX; n];
    for _ in 0..MAX_ROUNDS {
        // argmin over centres of |c|² - 2 x·c.
        let norms: Vec<f64> = centres
            .chunks(dims)
            .map(|c| c.iter().map(|v| v * v).sum())
            .collect();
        let closest: Vec<u32> = data
            .par_chunks(CHUNK * dims)
            .flat_map_iter(|rows| {
                let mut dots = vec![0f64; rows.len() / dims * k];
                super::times_transposed(rows, &centres, dims, &mut dots);
                dots.chunks(k)
                    .map(|d| {
                        (0..k)
                            .map(|c| (norms[c] - 2.0 * d[c], c))
                            .fold((f64::INFINITY, 0), |best, x| if x.0 < best.0 { x } else { best })
                            .1 as u32
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        if closest == assigned {
            break;
        }
        assigned = closest;
        let parts: Vec<(Vec<f64>, Vec<usize>)> = assigned
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, part)| {
                let (mut sums, mut counts) = (vec![0f64; k * dims], vec![0usize; k]);
                for (i, &a) in part.iter().enumerate() {
                    let a = a as usize;
                    counts[a] += 1;
                    sums[a * dims..(a + 1) * dims]
                        .iter_mut()
                        .zip(row(c * CHUNK + i))
                        .for_each(|(s, &v)| *s += v);
                }
                (sums, counts)
            })
            .collect();
        let (mut sums, mut counts) = (vec![0f64; k * dims], vec![0usize; k]);
        for (s, c) in parts {
            sums.iter_mut().zip(&s).for_each(|(a, v)| *a += v);
            counts.iter_mut().zip(&c).for_each(|(a, v)| *a += v);
        }
        for c in 0..k {
            // An emptied cluster keeps its centre.
            if counts[c] > 0 {
                for d in 0..dims {
                    centres[c * dims + d] = sums[c * dims + d] / counts[c] as f64;
                }
            }
        }
    }
    centres
}
