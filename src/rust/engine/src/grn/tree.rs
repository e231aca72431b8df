//! Regression trees on TF codes, grown level by level for a batch of jobs (each job one tree
//! of one target) in the same pass. Per node the TFs are drawn one after another from the
//! node's own random stream, as scikit-learn's best splitter does: a TF constant in the node
//! does not count towards `max_features` and another is drawn. Each drawn TF's histogram
//! (sum of y and cell count per code) is built from whichever is smaller: the node's cells
//! through the dense codes, or the TF's non-zeros (shared by every node of every job of the
//! batch that drew that TF); code 0 follows from the node's totals. A split "code <= k"
//! maximises the variance reduction (n_l n_r / n)(mean_l - mean_r)^2, first best in draw
//! order as scikit-learn. The node's random stream depends only on the job's seed and the
//! node's index in its tree, so a tree is the same whatever batch it grows in.

use super::codes::TfCodes;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub const LEAF: u32 = u32::MAX;
const NO_SLOT: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// The TF split on, or [`LEAF`].
    pub feature: u32,
    /// Cells with code <= threshold go left.
    pub threshold: u8,
    pub left: u32,
    pub right: u32,
    /// A leaf's mean of y over its fitting cells.
    pub value: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    pub fn predict(&self, codes: &TfCodes, cell: usize) -> f64 {
        let mut at = 0;
        loop {
            let node = &self.nodes[at];
            if node.feature == LEAF {
                return node.value;
            }
            at = if codes.column(node.feature as usize)[cell] <= node.threshold {
                node.left
            } else {
                node.right
            } as usize;
        }
    }
}

/// One tree to grow.
pub struct TreeJob<'a> {
    /// The value fitted, per fitting cell (the target or its residual).
    pub y: &'a [f64],
    /// The cells the tree is fitted on, ascending.
    pub bag: Vec<u32>,
    /// The target's own TF, never a predictor of it.
    pub masked: Option<u32>,
    /// Non-constant TFs visited per split.
    pub max_features: usize,
    pub seed: u64,
}

/// A grown tree and, per TF, the sum of the variance reductions (n times the decrease of
/// the variance) of its splits on that TF.
pub struct Grown {
    pub tree: Tree,
    pub gain: Vec<f64>,
}

/// A node being split: its cells are `order[start..end]` of its job.
struct Open {
    job: usize,
    node: u32,
    start: usize,
    end: usize,
    sum: f64,
    rng: Xoshiro256PlusPlus,
    drawn: Vec<u32>,
    /// Drawn TFs whose histogram waits to be built, in draw order.
    pending: Vec<u32>,
    non_constant: usize,
    best: Option<Split>,
}

#[derive(Debug, Clone, Copy)]
struct Split {
    feature: u32,
    threshold: u8,
    gain: f64,
}

struct JobState<'a> {
    y: &'a [f64],
    masked: Option<u32>,
    max_features: usize,
    seed: u64,
    /// The fitting cells, grouped by node (stable: ascending within a node).
    order: Vec<u32>,
    /// Per cell the index of its open node in this level, or NO_SLOT.
    open_of: Vec<u32>,
    tree: Tree,
    gain: Vec<f64>,
    scratch: Vec<u32>,
}

pub fn grow(codes: &TfCodes, jobs: Vec<TreeJob>, max_depth: usize) -> Vec<Grown> {
    let n_tfs = codes.n_tfs;
    let mut states: Vec<JobState> = jobs
        .into_iter()
        .map(|j| JobState {
            y: j.y,
            masked: j.masked,
            max_features: j.max_features,
            seed: j.seed,
            open_of: vec![NO_SLOT; codes.n_cells],
            order: j.bag,
            tree: Tree {
                nodes: vec![leaf(0.0)],
            },
            gain: vec![0.0; n_tfs],
            scratch: Vec::new(),
        })
        .collect();
    let mut open: Vec<Open> = Vec::new();
    for (j, s) in states.iter_mut().enumerate() {
        let sum: f64 = s.order.iter().map(|&c| s.y[c as usize]).sum();
        let n = s.order.len();
        s.tree.nodes[0].value = if n > 0 { sum / n as f64 } else { 0.0 };
        open.push(new_open(s, j, 0, 0, n, sum));
    }
    let mut depth = 0;
    while !open.is_empty() {
        open.retain(|o| depth < max_depth && splittable(o, &states[o.job]));
        if open.is_empty() {
            break;
        }
        for (i, o) in open.iter().enumerate() {
            let s = &mut states[o.job];
            for &c in &s.order[o.start..o.end] {
                s.open_of[c as usize] = i as u32;
            }
        }
        find_splits(codes, &states, &mut open);
        let mut next = Vec::new();
        for o in open.drain(..) {
            let s = &mut states[o.job];
            for &c in &s.order[o.start..o.end] {
                s.open_of[c as usize] = NO_SLOT;
            }
            if let Some(split) = o.best {
                split_node(codes, s, o, split, &mut next);
            }
        }
        open = next;
        depth += 1;
    }
    states
        .into_iter()
        .map(|s| Grown {
            tree: s.tree,
            gain: s.gain,
        })
        .collect()
}

fn leaf(value: f64) -> Node {
    Node {
        feature: LEAF,
        threshold: 0,
        left: 0,
        right: 0,
        value,
    }
}

fn new_open(s: &JobState, job: usize, node: u32, start: usize, end: usize, sum: f64) -> Open {
    let stream = s.seed ^ (node as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Open {
        job,
        node,
        start,
        end,
        sum,
        rng: Xoshiro256PlusPlus::seed_from_u64(stream),
        drawn: Vec::new(),
        pending: Vec::new(),
        non_constant: 0,
        best: None,
    }
}

/// scikit-learn's leaf rules with min_samples_leaf = 1 (besides the depth limit): fewer
/// than 2 cells, or a y already constant (impurity at most machine epsilon).
fn splittable(o: &Open, s: &JobState) -> bool {
    let n = o.end - o.start;
    if n < 2 {
        return false;
    }
    let mean = o.sum / n as f64;
    let var = s.order[o.start..o.end]
        .iter()
        .map(|&c| (s.y[c as usize] - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    var > f64::EPSILON
}

/// Draws TFs for every open node, builds their histograms and keeps each node's best split,
/// drawing again for nodes that met constant TFs until `max_features` non-constant TFs were
/// visited or none is left.
fn find_splits(codes: &TfCodes, states: &[JobState], open: &mut [Open]) {
    loop {
        let mut any = false;
        for o in open.iter_mut() {
            let masked = states[o.job].masked;
            let avail = codes.n_tfs - usize::from(masked.is_some_and(|m| (m as usize) < codes.n_tfs));
            let want = states[o.job].max_features.saturating_sub(o.non_constant);
            for _ in 0..want {
                match draw(&mut o.rng, &o.drawn, codes.n_tfs, masked, avail) {
                    Some(f) => {
                        o.drawn.push(f);
                        o.pending.push(f);
                    }
                    None => break,
                }
            }
            any |= !o.pending.is_empty();
        }
        if !any {
            return;
        }
        let hists = histograms(codes, states, open);
        for (i, o) in open.iter_mut().enumerate() {
            for (&f, hist) in o.pending.iter().zip(&hists[i]) {
                if let Some((threshold, gain)) = best_threshold(hist, o.end - o.start, o.sum) {
                    o.non_constant += 1;
                    if o.best.is_none_or(|b| gain > b.gain) {
                        o.best = Some(Split {
                            feature: f,
                            threshold,
                            gain,
                        });
                    }
                }
            }
            o.pending.clear();
        }
    }
}

/// A TF not drawn yet for this node (uniform), or None when every one was.
fn draw(
    rng: &mut Xoshiro256PlusPlus,
    drawn: &[u32],
    n_tfs: usize,
    masked: Option<u32>,
    avail: usize,
) -> Option<u32> {
    if drawn.len() >= avail {
        return None;
    }
    let free = |f: u32| Some(f) != masked && !drawn.contains(&f);
    if drawn.len() < avail / 2 {
        loop {
            let f = rng.random_range(0..n_tfs as u32);
            if free(f) {
                return Some(f);
            }
        }
    }
    let left: Vec<u32> = (0..n_tfs as u32).filter(|&f| free(f)).collect();
    Some(left[rng.random_range(0..left.len())])
}

/// The cells of a node with one code of a TF: their sum of y and number.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bin {
    code: u8,
    sum: f64,
    n: u32,
}

/// Sum of y and cells for each possible code.
type Bins = [(f64, u32); 256];

/// Nodes with fewer cells than this sort their (code, y) pairs instead of filling one bin
/// per code: deep trees have many small nodes and up to 256 codes per TF.
const SORT_BELOW: usize = 64;

/// Per open node, per pending TF: the non-empty bins, by code.
fn histograms(codes: &TfCodes, states: &[JobState], open: &[Open]) -> Vec<Vec<Vec<Bin>>> {
    // One bin per possible code: a u8 code indexes it without a bounds check.
    let mut full: Vec<Vec<Box<Bins>>> = open
        .iter()
        .map(|o| match o.end - o.start {
            n if n < SORT_BELOW => Vec::new(),
            _ => o.pending.iter().map(|_| Box::new([(0.0, 0); 256])).collect(),
        })
        .collect();
    let mut out: Vec<Vec<Vec<Bin>>> = open.iter().map(|o| vec![Vec::new(); o.pending.len()]).collect();
    // (TF, open node, pending index) of the histograms built from the TF's non-zeros.
    let mut by_tf: Vec<(u32, u32, u32)> = Vec::new();
    let mut pairs: Vec<(u8, f64)> = Vec::new();
    for (i, o) in open.iter().enumerate() {
        let s = &states[o.job];
        let cells = &s.order[o.start..o.end];
        if cells.len() < SORT_BELOW {
            for (k, &f) in o.pending.iter().enumerate() {
                pairs.clear();
                let column = codes.column(f as usize);
                pairs.extend(cells.iter().map(|&c| (column[c as usize], s.y[c as usize])));
                pairs.sort_by_key(|p| p.0);
                out[i][k] = merge(&pairs);
            }
            continue;
        }
        let mut ys: Option<Vec<f64>> = None;
        for (k, &f) in o.pending.iter().enumerate() {
            let h = &mut full[i][k];
            if cells.len() > codes.nnz(f as usize) {
                by_tf.push((f, i as u32, k as u32));
                continue;
            }
            let ys = ys.get_or_insert_with(|| cells.iter().map(|&c| s.y[c as usize]).collect());
            dense_histogram(codes.column(f as usize), cells, ys, h);
        }
    }
    by_tf.sort_unstable();
    let mut slot: Vec<u32> = vec![NO_SLOT; open.len()];
    for group in by_tf.chunk_by(|a, b| a.0 == b.0) {
        let f = group[0].0 as usize;
        let (cells, tf_codes) = codes.nonzeros(f);
        if let [(_, i, k)] = *group {
            // One node wants this TF (gbm's usual case): no lookup of the node's slot.
            let s = &states[open[i as usize].job];
            let h = &mut full[i as usize][k as usize];
            // Branch-free: a cell of another node (about half of them below the root) adds 0.
            for (&c, &code) in cells.iter().zip(tf_codes) {
                let member = s.open_of[c as usize] == i;
                let bin = &mut h[code as usize];
                bin.0 += if member { s.y[c as usize] } else { 0.0 };
                bin.1 += u32::from(member);
            }
            continue;
        }
        let mut jobs: Vec<usize> = group.iter().map(|&(_, i, _)| open[i as usize].job).collect();
        jobs.dedup();
        group.iter().for_each(|&(_, i, k)| slot[i as usize] = k);
        for (&c, &code) in cells.iter().zip(tf_codes) {
            for &j in &jobs {
                let i = states[j].open_of[c as usize];
                if i != NO_SLOT && slot[i as usize] != NO_SLOT {
                    let bin = &mut full[i as usize][slot[i as usize] as usize][code as usize];
                    bin.0 += states[j].y[c as usize];
                    bin.1 += 1;
                }
            }
        }
        group.iter().for_each(|&(_, i, _)| slot[i as usize] = NO_SLOT);
    }
    for (i, o) in open.iter().enumerate() {
        let n = (o.end - o.start) as u32;
        if o.end - o.start < SORT_BELOW {
            continue;
        }
        for (k, h) in full[i].iter_mut().enumerate() {
            let h = &mut h[..codes.n_codes[o.pending[k] as usize] as usize];
            let (s, m) = h[1..].iter().fold((0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            h[0] = (o.sum - s, n - m);
            out[i][k] = h
                .iter()
                .enumerate()
                .filter(|(_, b)| b.1 > 0)
                .map(|(code, b)| Bin {
                    code: code as u8,
                    sum: b.0,
                    n: b.1,
                })
                .collect();
        }
    }
    out
}

/// Fills `h` from the node's cells through the TF's dense codes, alternate cells into two
/// histograms: neighbouring cells often share a code (zeros above all), and with one
/// histogram every addition would wait for the previous one.
fn dense_histogram(column: &[u8], cells: &[u32], ys: &[f64], h: &mut Bins) {
    let mut other = [(0.0, 0u32); 256];
    let (cell_pairs, y_pairs) = (cells.chunks_exact(2), ys.chunks_exact(2));
    for (c, y) in cell_pairs.zip(y_pairs) {
        let (a, b) = (column[c[0] as usize] as usize, column[c[1] as usize] as usize);
        h[a].0 += y[0];
        h[a].1 += 1;
        other[b].0 += y[1];
        other[b].1 += 1;
    }
    if let (Some(&c), Some(&y)) = (
        cells.chunks_exact(2).remainder().first(),
        ys.chunks_exact(2).remainder().first(),
    ) {
        let bin = &mut h[column[c as usize] as usize];
        bin.0 += y;
        bin.1 += 1;
    }
    for (x, o) in h.iter_mut().zip(&other) {
        x.0 += o.0;
        x.1 += o.1;
    }
}

/// Bins of (code, y) pairs sorted by code.
fn merge(pairs: &[(u8, f64)]) -> Vec<Bin> {
    let mut bins: Vec<Bin> = Vec::new();
    for &(code, y) in pairs {
        match bins.last_mut() {
            Some(b) if b.code == code => {
                b.sum += y;
                b.n += 1;
            }
            _ => bins.push(Bin { code, sum: y, n: 1 }),
        }
    }
    bins
}

/// The best "code <= k" split of a node's bins and its variance reduction, or None when the
/// TF is constant in the node.
fn best_threshold(bins: &[Bin], n: usize, sum: f64) -> Option<(u8, f64)> {
    let n = n as f64;
    let (mut sum_left, mut n_left) = (0.0, 0u32);
    let mut best: Option<(u8, f64)> = None;
    for b in &bins[..bins.len().saturating_sub(1)] {
        sum_left += b.sum;
        n_left += b.n;
        let (nl, nr) = (n_left as f64, n - n_left as f64);
        let diff = sum_left / nl - (sum - sum_left) / nr;
        let gain = nl * nr / n * diff * diff;
        if best.is_none_or(|x| gain > x.1) {
            best = Some((b.code, gain));
        }
    }
    best
}

fn split_node(codes: &TfCodes, s: &mut JobState, o: Open, split: Split, next: &mut Vec<Open>) {
    let f = split.feature as usize;
    let cells = &mut s.order[o.start..o.end];
    let column = codes.column(f);
    let code = |c: u32| column[c as usize];
    // Stable partition: left cells compacted in place, right cells through the scratch.
    s.scratch.clear();
    let (mut n_left, mut sum_left, mut sum_right) = (0, 0.0, 0.0);
    for k in 0..cells.len() {
        let c = cells[k];
        if code(c) <= split.threshold {
            cells[n_left] = c;
            n_left += 1;
            sum_left += s.y[c as usize];
        } else {
            s.scratch.push(c);
            sum_right += s.y[c as usize];
        }
    }
    let n_right = s.scratch.len();
    cells[n_left..].copy_from_slice(&s.scratch);
    let mid = o.start + n_left;
    s.gain[f] += split.gain;
    let (l, r) = (s.tree.nodes.len() as u32, s.tree.nodes.len() as u32 + 1);
    s.tree.nodes[o.node as usize] = Node {
        feature: split.feature,
        threshold: split.threshold,
        left: l,
        right: r,
        value: o.sum / (o.end - o.start) as f64,
    };
    s.tree.nodes.push(leaf(sum_left / n_left as f64));
    s.tree.nodes.push(leaf(sum_right / n_right as f64));
    let job = o.job;
    next.push(new_open(s, job, l, o.start, mid, sum_left));
    next.push(new_open(s, job, r, mid, o.end, sum_right));
}
