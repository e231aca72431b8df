//! Leiden community detection (Traag, Waltman & van Eck 2019): fast local moving of nodes,
//! refinement of each community into well-connected parts, aggregation of the refined parts
//! into nodes of a smaller graph, repeated until each community is one node; the whole is
//! iterated from its own result until no node moves.
//!
//! The objective is Σ_ij (A_ij - scale · w_i · w_j) over pairs in the same community, with
//! - modularity: w_i the node's strength (weighted degree), scale = γ / 2m;
//! - CPM: w_i the number of cells a node stands for, scale = γ;
//!
//! as igraph's `cluster_leiden`. A self-loop is one diagonal entry A_ii, counted once in the
//! node's strength and in its community's weight; callers that follow Seurat (whose modularity
//! optimiser reads only i < j entries) drop the diagonal first ([`Graph::drop_self_loops`]).
//! Reported quality is the objective divided by 2m (for modularity: Newman's modularity at
//! resolution γ).
//!
//! Parallel where it pays on few cores: building each aggregated graph, and several
//! resolutions at once (each with its own seeded random stream, so a resolution's result does
//! not depend on the others). Local moving itself is sequential: it is fast (one queue pass
//! over the edges) and keeps results reproducible.

use super::Graph;
use crate::error::{Error, Result};
use crate::monitor::Meter;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    Modularity,
    Cpm,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeidenOptions {
    pub resolution: f64,
    pub objective: Objective,
    pub seed: u64,
    /// None: iterate until no node moves.
    pub max_iterations: Option<usize>,
    /// θ of the refinement: a node joins a refined part with probability ∝ exp(gain / θ)
    /// (igraph's default 0.01).
    pub randomness: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Cluster of every node; 0 is the largest cluster, ties by first node.
    pub labels: Vec<u32>,
    pub n_clusters: usize,
    pub quality: f64,
    pub iterations: usize,
}

/// Safety net for "until stable" (each iteration strictly improves the objective, so it ends).
const MAX_ITERATIONS: usize = 1000;

/// Counts iterations on `meter` and stops when it says so.
pub fn leiden<W: Copy + Into<f64> + Sync>(
    g: &Graph<W>,
    options: &LeidenOptions,
    meter: &Meter,
) -> Result<Clustering> {
    if !(options.resolution > 0.0 && options.resolution.is_finite()) {
        return Err(Error::Request(format!(
            "resolution must be a positive number, not {}",
            options.resolution
        )));
    }
    let n = g.n_nodes();
    let strength = g.strength();
    let two_m: f64 = strength.iter().sum();
    if n == 0 || two_m <= 0.0 {
        return Err(Error::Request("the graph has no edges to cluster".into()));
    }
    let (node_weight, scale) = match options.objective {
        Objective::Modularity => (strength, options.resolution / two_m),
        Objective::Cpm => (vec![1.0; n], options.resolution),
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(options.seed);
    let mut membership: Vec<u32> = (0..n as u32).collect();
    let limit = options.max_iterations.unwrap_or(MAX_ITERATIONS).max(1);
    let mut iterations = 0;
    while iterations < limit {
        meter.check()?;
        iterations += 1;
        let moved = iterate(
            g,
            &node_weight,
            scale,
            options.randomness,
            &mut membership,
            &mut rng,
        );
        meter.add(1);
        if !moved {
            break;
        }
    }
    let labels = by_size(&membership);
    let n_clusters = labels.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
    let quality = objective(g, &node_weight, scale, &labels, n_clusters) / two_m;
    Ok(Clustering {
        labels,
        n_clusters,
        quality,
        iterations,
    })
}

/// Several resolutions on one graph, in parallel. Without `count_self_loops` the diagonal is
/// dropped first (in place; the graph is consumed), as Seurat's modularity optimiser ignores it.
pub fn leiden_each<W: Copy + Into<f64> + Sync>(
    mut g: Graph<W>,
    count_self_loops: bool,
    options: &[LeidenOptions],
    meter: &Meter,
) -> Result<Vec<Clustering>> {
    if !count_self_loops {
        g.drop_self_loops();
    }
    options.par_iter().map(|o| leiden(&g, o, meter)).collect()
}

/// Σ_ij (A_ij - scale · w_i · w_j) over pairs in the same cluster.
pub fn objective<W: Copy + Into<f64> + Sync>(
    g: &Graph<W>,
    node_weight: &[f64],
    scale: f64,
    labels: &[u32],
    n_clusters: usize,
) -> f64 {
    let inside: f64 = (0..g.n_nodes())
        .into_par_iter()
        .map(|i| {
            g.edges(i)
                .filter(|&(j, _)| labels[j] == labels[i])
                .map(|(_, w)| w.into())
                .sum::<f64>()
        })
        .sum();
    let mut total = vec![0.0; n_clusters];
    labels
        .iter()
        .zip(node_weight)
        .for_each(|(&c, &w)| total[c as usize] += w);
    inside - scale * total.iter().map(|t| t * t).sum::<f64>()
}

/// Modularity of a partition at resolution γ.
pub fn modularity<W: Copy + Into<f64> + Sync>(g: &Graph<W>, labels: &[u32], resolution: f64) -> f64 {
    let strength = g.strength();
    let two_m: f64 = strength.iter().sum();
    let n_clusters = labels.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
    objective(g, &strength, resolution / two_m, labels, n_clusters) / two_m
}

/// One Leiden iteration from `membership` (of the graph's nodes); whether any node moved.
fn iterate<W: Copy + Into<f64> + Sync>(
    g: &Graph<W>,
    node_weight: &[f64],
    scale: f64,
    randomness: f64,
    membership: &mut [u32],
    rng: &mut Xoshiro256PlusPlus,
) -> bool {
    let mut partition = membership.to_vec();
    let mut moved = move_nodes(g, node_weight, scale, &mut partition, rng);
    // The level graph each original node belongs to is `node_of`; level 0 is `g` itself.
    let mut node_of: Vec<u32> = (0..g.n_nodes() as u32).collect();
    let mut level: Option<(Graph<f64>, Vec<f64>)> = None;
    loop {
        let next = match &level {
            None => next_level(g, node_weight, scale, randomness, &partition, rng),
            Some((lg, lw)) => next_level(lg, lw, scale, randomness, &partition, rng),
        };
        let Some((aggregate, weights, aggregate_of, aggregate_partition)) = next else {
            break;
        };
        node_of.iter_mut().for_each(|v| *v = aggregate_of[*v as usize]);
        partition = aggregate_partition;
        moved |= move_nodes(&aggregate, &weights, scale, &mut partition, rng);
        level = Some((aggregate, weights));
    }
    membership
        .iter_mut()
        .zip(&node_of)
        .for_each(|(m, &v)| *m = partition[v as usize]);
    moved
}

/// Refines and aggregates one level: the aggregated graph, its node weights, the aggregated
/// node of every node, and the partition of the aggregated nodes (their communities);
/// None when every community is a single node.
#[allow(clippy::type_complexity)]
fn next_level<W: Copy + Into<f64> + Sync>(
    g: &Graph<W>,
    node_weight: &[f64],
    scale: f64,
    randomness: f64,
    partition: &[u32],
    rng: &mut Xoshiro256PlusPlus,
) -> Option<(Graph<f64>, Vec<f64>, Vec<u32>, Vec<u32>)> {
    let n = g.n_nodes();
    let (partition, n_communities) = dense(partition);
    if n_communities == n {
        return None;
    }
    let refined = refine(g, node_weight, scale, randomness, &partition, rng);
    let (refined, n_refined) = dense(&refined);
    // If nothing merged, aggregating the refinement would repeat this level.
    let (basis, n_aggregated) = if n_refined == n {
        (partition.clone(), n_communities)
    } else {
        (refined, n_refined)
    };
    let (aggregate, weights) = aggregate(g, node_weight, &basis, n_aggregated);
    let mut aggregate_partition = vec![0u32; n_aggregated];
    basis
        .iter()
        .zip(&partition)
        .for_each(|(&a, &p)| aggregate_partition[a as usize] = p);
    Some((aggregate, weights, basis, aggregate_partition))
}

/// Fast local moving: nodes from a queue (random order first) move to the neighbouring
/// community with the largest gain (or an empty one); neighbours outside the new community
/// are queued again. Returns whether any node moved.
fn move_nodes<W: Copy + Into<f64>>(
    g: &Graph<W>,
    node_weight: &[f64],
    scale: f64,
    partition: &mut [u32],
    rng: &mut Xoshiro256PlusPlus,
) -> bool {
    let n = g.n_nodes();
    let mut total = vec![0.0; n];
    let mut size = vec![0u32; n];
    for v in 0..n {
        total[partition[v] as usize] += node_weight[v];
        size[partition[v] as usize] += 1;
    }
    let mut empty: Vec<u32> = (0..n as u32).filter(|&c| size[c as usize] == 0).collect();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);
    let mut queue: VecDeque<u32> = order.into();
    let mut queued = vec![true; n];
    let mut to = vec![0.0; n];
    let mut touched: Vec<u32> = Vec::new();
    let mut moved = false;
    while let Some(v) = queue.pop_front() {
        let v = v as usize;
        queued[v] = false;
        for (u, w) in g.edges(v).filter(|&(u, _)| u != v) {
            let c = partition[u] as usize;
            if to[c] == 0.0 {
                touched.push(c as u32);
            }
            to[c] += w.into();
        }
        let old = partition[v] as usize;
        let wv = node_weight[v];
        total[old] -= wv;
        size[old] -= 1;
        if size[old] == 0 {
            empty.push(old as u32);
        }
        let gain = |c: usize| to[c] - scale * wv * total[c];
        let (mut best, mut best_gain) = (old, gain(old));
        for &c in &touched {
            let g = gain(c as usize);
            if g > best_gain {
                (best, best_gain) = (c as usize, g);
            }
        }
        if best_gain < 0.0 {
            best = *empty.last().expect("v's own community or another is empty") as usize;
        }
        if size[best] == 0 {
            let reused = empty.pop();
            debug_assert_eq!(reused, Some(best as u32));
        }
        total[best] += wv;
        size[best] += 1;
        partition[v] = best as u32;
        if best != old {
            moved = true;
            for (u, _) in g.edges(v) {
                if u != v && !queued[u] && partition[u] as usize != best {
                    queued[u] = true;
                    queue.push_back(u as u32);
                }
            }
        }
        touched.iter().for_each(|&c| to[c as usize] = 0.0);
        touched.clear();
    }
    moved
}

/// Splits each community into well-connected parts: starting from singletons, each node
/// still alone and well connected to its community may join a well-connected part of the same
/// community whose gain is not negative, chosen with probability ∝ exp(gain / θ).
fn refine<W: Copy + Into<f64>>(
    g: &Graph<W>,
    node_weight: &[f64],
    scale: f64,
    randomness: f64,
    partition: &[u32],
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<u32> {
    let n = g.n_nodes();
    let mut refined: Vec<u32> = (0..n as u32).collect();
    let mut total = node_weight.to_vec();
    let mut size = vec![1u32; n];
    let mut community_total = vec![0.0; n];
    partition
        .iter()
        .zip(node_weight)
        .for_each(|(&p, &w)| community_total[p as usize] += w);
    // Weight from each refined part to the rest of its community.
    let mut outside: Vec<f64> = (0..n)
        .map(|v| {
            g.edges(v)
                .filter(|&(u, _)| u != v && partition[u] == partition[v])
                .map(|(_, w)| w.into())
                .sum()
        })
        .collect();
    let well_connected =
        |outside: f64, total: f64, community: f64| outside >= scale * total * (community - total);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);
    let mut to = vec![0.0; n];
    let mut touched: Vec<u32> = Vec::new();
    let mut candidates: Vec<(u32, f64)> = Vec::new();
    for v in order {
        let v = v as usize;
        let own = refined[v] as usize;
        let community = partition[v] as usize;
        if size[own] != 1 || !well_connected(outside[own], total[own], community_total[community]) {
            continue;
        }
        for (u, w) in g
            .edges(v)
            .filter(|&(u, _)| u != v && partition[u] as usize == community)
        {
            let c = refined[u] as usize;
            if to[c] == 0.0 {
                touched.push(c as u32);
            }
            to[c] += w.into();
        }
        candidates.clear();
        candidates.push((own as u32, 0.0));
        for &c in &touched {
            let c = c as usize;
            let gain = to[c] - scale * node_weight[v] * total[c];
            if gain >= 0.0 && well_connected(outside[c], total[c], community_total[community]) {
                candidates.push((c as u32, gain));
            }
        }
        let chosen = choose(&candidates, randomness, rng) as usize;
        if chosen != own {
            outside[chosen] += outside[own] - 2.0 * to[chosen];
            total[chosen] += node_weight[v];
            size[chosen] += 1;
            size[own] = 0;
            refined[v] = chosen as u32;
        }
        touched.iter().for_each(|&c| to[c as usize] = 0.0);
        touched.clear();
    }
    refined
}

/// A candidate drawn with probability ∝ exp(gain / θ); the best when θ is 0.
fn choose(candidates: &[(u32, f64)], randomness: f64, rng: &mut Xoshiro256PlusPlus) -> u32 {
    let best = candidates
        .iter()
        .fold(candidates[0], |b, &c| if c.1 > b.1 { c } else { b });
    if randomness <= 0.0 || candidates.len() == 1 {
        return best.0;
    }
    let weights: Vec<f64> = candidates
        .iter()
        .map(|&(_, gain)| ((gain - best.1) / randomness).exp())
        .collect();
    let mut r = rng.random::<f64>() * weights.iter().sum::<f64>();
    for (&(c, _), w) in candidates.iter().zip(&weights) {
        if r < *w {
            return c;
        }
        r -= w;
    }
    best.0
}

/// The graph of the groups of `basis` (ids 0..n_groups): edge weights and node weights summed.
fn aggregate<W: Copy + Into<f64> + Sync>(
    g: &Graph<W>,
    node_weight: &[f64],
    basis: &[u32],
    n_groups: usize,
) -> (Graph<f64>, Vec<f64>) {
    let mut member_ptr = vec![0usize; n_groups + 1];
    basis.iter().for_each(|&a| member_ptr[a as usize + 1] += 1);
    (0..n_groups).for_each(|a| member_ptr[a + 1] += member_ptr[a]);
    let mut members = vec![0u32; basis.len()];
    let mut fill = member_ptr.clone();
    for (v, &a) in basis.iter().enumerate() {
        members[fill[a as usize]] = v as u32;
        fill[a as usize] += 1;
    }
    let rows: Vec<Vec<(u32, f64)>> = (0..n_groups)
        .into_par_iter()
        .map_init(
            || (vec![0.0f64; n_groups], Vec::<u32>::new()),
            |(sum, touched), a| {
                for &v in &members[member_ptr[a]..member_ptr[a + 1]] {
                    for (u, w) in g.edges(v as usize) {
                        let b = basis[u] as usize;
                        if sum[b] == 0.0 {
                            touched.push(b as u32);
                        }
                        sum[b] += w.into();
                    }
                }
                touched.sort_unstable();
                let row = touched.iter().map(|&b| (b, sum[b as usize])).collect();
                touched.iter().for_each(|&b| sum[b as usize] = 0.0);
                touched.clear();
                row
            },
        )
        .collect();
    let mut aggregated = Graph {
        row_ptr: Vec::with_capacity(n_groups + 1),
        col: Vec::new(),
        weight: Vec::new(),
    };
    aggregated.row_ptr.push(0);
    for row in rows {
        for (b, w) in row {
            aggregated.col.push(b);
            aggregated.weight.push(w);
        }
        aggregated.row_ptr.push(aggregated.col.len());
    }
    let mut weights = vec![0.0; n_groups];
    basis
        .iter()
        .zip(node_weight)
        .for_each(|(&a, &w)| weights[a as usize] += w);
    (aggregated, weights)
}

/// Ids renumbered 0.. in order of first appearance, and their count.
fn dense(ids: &[u32]) -> (Vec<u32>, usize) {
    let mut new_id = vec![u32::MAX; ids.len()];
    let mut next = 0u32;
    let renumbered = ids
        .iter()
        .map(|&c| {
            if new_id[c as usize] == u32::MAX {
                new_id[c as usize] = next;
                next += 1;
            }
            new_id[c as usize]
        })
        .collect();
    (renumbered, next as usize)
}

/// Ids renumbered by cluster size, largest first (ties by first node).
fn by_size(ids: &[u32]) -> Vec<u32> {
    let (ids, n) = dense(ids);
    let mut size = vec![0usize; n];
    ids.iter().for_each(|&c| size[c as usize] += 1);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(size[c]));
    let mut rank = vec![0u32; n];
    order.iter().enumerate().for_each(|(r, &c)| rank[c] = r as u32);
    ids.iter().map(|&c| rank[c as usize]).collect()
}

#[cfg(test)]
mod tests;
