//! Regression trees on TF codes, grown level by level for a batch of jobs (each job one tree)
//! in the same pass. A tree fits `W` responses at once: `W = 1` is one target (its value or
//! its residual); `W > 1` is `shared_splits`, where a split maximises the summed variance
//! reduction of the `W` targets and each target is credited its own share.
//!
//! Per node the TFs are drawn one after another from the node's own random stream, as
//! scikit-learn's best splitter does: a TF constant in the node does not count towards
//! `max_features` and another is drawn (one found constant in an ancestor is skipped
//! without a histogram, as scikit-learn's known-constant features). Each drawn TF's histogram
//! (sum of y and cell count per code) is built from whichever is smaller: the node's cells
//! through the dense codes, or the TF's non-zeros (shared by every node of every job of the
//! batch that drew that TF); code 0 follows from the node's totals. A split "code <= k"
//! maximises the variance reduction (n_l n_r / n)(mean_l - mean_r)^2, first best in draw
//! order as scikit-learn; a response whose own TF is the one split on takes no part in that
//! split's gain. The node's random stream depends only on the job's seed and the node's index
//! in its tree, so a tree is the same whatever batch it grows in.

use super::codes::TfCodes;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub const LEAF: u32 = u32::MAX;
const NO_SLOT: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node<const W: usize> {
    /// The TF split on, or [`LEAF`].
    pub feature: u32,
    /// Cells with code <= threshold go left.
    pub threshold: u8,
    pub left: u32,
    pub right: u32,
    /// A leaf's mean of each response over its fitting cells.
    pub value: [f64; W],
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree<const W: usize> {
    pub nodes: Vec<Node<W>>,
}

impl<const W: usize> Tree<W> {
    pub fn predict(&self, codes: &TfCodes, cell: usize) -> [f64; W] {
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
pub struct TreeJob<'a, const W: usize> {
    /// The responses fitted, per cell (a target or its residual; `W` targets).
    pub y: &'a [[f64; W]],
    /// The cells the tree is fitted on, ascending.
    pub bag: Vec<u32>,
    /// The TFs the tree may split on.
    pub candidates: &'a [u32],
    /// (TF, response): a response's own TF among the candidates, never a predictor of it.
    pub own: &'a [(u32, usize)],
    /// Non-constant TFs visited per split.
    pub max_features: usize,
    pub seed: u64,
}

/// A grown tree and, per TF and response, the sum of the variance reductions (n times the
/// decrease of the variance) of its splits on that TF.
pub struct Grown<const W: usize> {
    pub tree: Tree<W>,
    pub gain: Vec<[f64; W]>,
}

/// A node being split: its cells are `order[start..end]` of its job.
struct Open<const W: usize> {
    job: usize,
    node: u32,
    start: usize,
    end: usize,
    sum: [f64; W],
    rng: Xoshiro256PlusPlus,
    /// The candidates not drawn yet; filled at the first draw (a partial Fisher-Yates
    /// shuffle: in sparse data most TFs are constant in a small node, and a node may draw
    /// hundreds before it has met `max_features` non-constant ones).
    undrawn: Option<Vec<u32>>,
    /// Drawn TFs whose histogram waits to be built, in draw order.
    pending: Vec<u32>,
    non_constant: usize,
    /// TFs known to be constant in the node, ascending: found so in an ancestor, where its
    /// cells were a superset (as scikit-learn, drawing one costs nothing and does not count).
    constant: Vec<u32>,
    /// TFs found constant in this node, for its children.
    found_constant: Vec<u32>,
    best: Option<Split>,
}

#[derive(Debug, Clone, Copy)]
struct Split {
    feature: u32,
    threshold: u8,
    gain: f64,
}

struct JobState<'a, const W: usize> {
    y: &'a [[f64; W]],
    candidates: &'a [u32],
    own: &'a [(u32, usize)],
    max_features: usize,
    seed: u64,
    /// The fitting cells, grouped by node (stable: ascending within a node).
    order: Vec<u32>,
    /// Per cell the index of its open node in this level, or NO_SLOT.
    open_of: Vec<u32>,
    tree: Tree<W>,
    gain: Vec<[f64; W]>,
    scratch: Vec<u32>,
}

impl<const W: usize> JobState<'_, W> {
    /// The response whose own TF is `tf`, if any.
    fn own_response(&self, tf: u32) -> Option<usize> {
        self.own.iter().find(|o| o.0 == tf).map(|o| o.1)
    }
}

pub fn grow<const W: usize>(codes: &TfCodes, jobs: Vec<TreeJob<W>>, max_depth: usize) -> Vec<Grown<W>> {
    let n_tfs = codes.n_tfs;
    let mut states: Vec<JobState<W>> = jobs
        .into_iter()
        .map(|j| JobState {
            y: j.y,
            candidates: j.candidates,
            own: j.own,
            max_features: j.max_features,
            seed: j.seed,
            open_of: vec![NO_SLOT; codes.n_cells],
            order: j.bag,
            tree: Tree {
                nodes: vec![leaf([0.0; W])],
            },
            gain: vec![[0.0; W]; n_tfs],
            scratch: Vec::new(),
        })
        .collect();
    let mut open: Vec<Open<W>> = Vec::new();
    for (j, s) in states.iter_mut().enumerate() {
        let sum = sum_of(s.y, &s.order);
        let n = s.order.len();
        s.tree.nodes[0].value = mean(&sum, n);
        open.push(new_open(s, j, 0, 0, n, sum, Vec::new()));
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

fn leaf<const W: usize>(value: [f64; W]) -> Node<W> {
    Node {
        feature: LEAF,
        threshold: 0,
        left: 0,
        right: 0,
        value,
    }
}

/// Per response, the sum over `cells`.
fn sum_of<const W: usize>(y: &[[f64; W]], cells: &[u32]) -> [f64; W] {
    let mut sum = [0.0; W];
    for &c in cells {
        add(&mut sum, &y[c as usize]);
    }
    sum
}

fn add<const W: usize>(to: &mut [f64; W], y: &[f64; W]) {
    to.iter_mut().zip(y).for_each(|(a, b)| *a += b);
}

/// Per response, the mean of `n` values summing to `sum` (0 for no value).
fn mean<const W: usize>(sum: &[f64; W], n: usize) -> [f64; W] {
    sum.map(|s| if n > 0 { s / n as f64 } else { 0.0 })
}

fn new_open<const W: usize>(
    s: &JobState<W>,
    job: usize,
    node: u32,
    start: usize,
    end: usize,
    sum: [f64; W],
    constant: Vec<u32>,
) -> Open<W> {
    let stream = s.seed ^ (node as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Open {
        job,
        node,
        start,
        end,
        sum,
        rng: Xoshiro256PlusPlus::seed_from_u64(stream),
        undrawn: None,
        pending: Vec::new(),
        non_constant: 0,
        constant,
        found_constant: Vec::new(),
        best: None,
    }
}

/// scikit-learn's leaf rules with min_samples_leaf = 1 (besides the depth limit): fewer
/// than 2 cells, or responses already constant (impurity, the mean of their variances, at
/// most machine epsilon).
fn splittable<const W: usize>(o: &Open<W>, s: &JobState<W>) -> bool {
    let n = o.end - o.start;
    if n < 2 {
        return false;
    }
    let mean = mean(&o.sum, n);
    let var = s.order[o.start..o.end]
        .iter()
        .map(|&c| {
            let y = &s.y[c as usize];
            (0..W).map(|t| (y[t] - mean[t]).powi(2)).sum::<f64>()
        })
        .sum::<f64>()
        / (n * W) as f64;
    var > f64::EPSILON
}

/// Draws TFs for every open node, builds their histograms and keeps each node's best split,
/// drawing again for nodes that met constant TFs until `max_features` non-constant TFs were
/// visited or none is left.
fn find_splits<const W: usize>(codes: &TfCodes, states: &[JobState<W>], open: &mut [Open<W>]) {
    loop {
        let mut any = false;
        for o in open.iter_mut() {
            let s = &states[o.job];
            let mut want = s.max_features.saturating_sub(o.non_constant);
            let undrawn = o.undrawn.get_or_insert_with(|| s.candidates.to_vec());
            while want > 0 {
                match draw(&mut o.rng, undrawn) {
                    Some(f) if o.constant.binary_search(&f).is_ok() => {}
                    Some(f) => {
                        o.pending.push(f);
                        want -= 1;
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
            let s = &states[o.job];
            for (&f, hist) in o.pending.iter().zip(&hists[i]) {
                let skip = s.own_response(f);
                let Some((threshold, gain)) = best_threshold(hist, o.end - o.start, &o.sum, skip) else {
                    o.found_constant.push(f);
                    continue;
                };
                o.non_constant += 1;
                if o.best.is_none_or(|b| gain > b.gain) {
                    o.best = Some(Split {
                        feature: f,
                        threshold,
                        gain,
                    });
                }
            }
            o.pending.clear();
        }
    }
}

/// One of the undrawn candidates (uniform), taken out; None when every one was drawn.
fn draw(rng: &mut Xoshiro256PlusPlus, undrawn: &mut Vec<u32>) -> Option<u32> {
    (!undrawn.is_empty()).then(|| undrawn.swap_remove(rng.random_range(0..undrawn.len())))
}

/// The cells of a node with one code of a TF: their sum of each response and number.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bin<const W: usize> {
    code: u8,
    sum: [f64; W],
    n: u32,
}

/// Sums of the responses and cells for each possible code.
type Bins<const W: usize> = [([f64; W], u32); 256];

/// Nodes with fewer cells than this sort their (code, y) pairs instead of filling one bin
/// per code: deep trees have many small nodes and up to 256 codes per TF.
const SORT_BELOW: usize = 64;

/// Per open node, per pending TF: the non-empty bins, by code.
fn histograms<const W: usize>(
    codes: &TfCodes,
    states: &[JobState<W>],
    open: &[Open<W>],
) -> Vec<Vec<Vec<Bin<W>>>> {
    // One bin per possible code: a u8 code indexes it without a bounds check.
    let mut full: Vec<Vec<Box<Bins<W>>>> = open
        .iter()
        .map(|o| match o.end - o.start {
            n if n < SORT_BELOW => Vec::new(),
            _ => o.pending.iter().map(|_| Box::new([([0.0; W], 0); 256])).collect(),
        })
        .collect();
    let mut out: Vec<Vec<Vec<Bin<W>>>> = open.iter().map(|o| vec![Vec::new(); o.pending.len()]).collect();
    // (TF, open node, pending index) of the histograms built from the TF's non-zeros.
    let mut by_tf: Vec<(u32, u32, u32)> = Vec::new();
    let mut pairs: Vec<(u8, u32)> = Vec::new();
    for (i, o) in open.iter().enumerate() {
        let s = &states[o.job];
        let cells = &s.order[o.start..o.end];
        if cells.len() < SORT_BELOW {
            for (k, &f) in o.pending.iter().enumerate() {
                pairs.clear();
                let column = codes.column(f as usize);
                pairs.extend(cells.iter().map(|&c| (column[c as usize], c)));
                pairs.sort_by_key(|p| p.0);
                out[i][k] = merge(&pairs, s.y);
            }
            continue;
        }
        let mut ys: Option<Vec<[f64; W]>> = None;
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
        let (cells, tf_codes) = codes.nonzeros(group[0].0 as usize);
        // One pass over the TF's non-zeros per job (its nodes are contiguous in `open`).
        for members in group.chunk_by(|a, b| open[a.1 as usize].job == open[b.1 as usize].job) {
            let s = &states[open[members[0].1 as usize].job];
            if let [(_, i, k)] = *members {
                one_node_histogram(cells, tf_codes, s, i, &mut full[i as usize][k as usize]);
                continue;
            }
            members.iter().for_each(|&(_, i, k)| slot[i as usize] = k);
            for (&c, &code) in cells.iter().zip(tf_codes) {
                let i = s.open_of[c as usize];
                if i != NO_SLOT && slot[i as usize] != NO_SLOT {
                    let (sum, n) = &mut full[i as usize][slot[i as usize] as usize][code as usize];
                    add(sum, &s.y[c as usize]);
                    *n += 1;
                }
            }
            members.iter().for_each(|&(_, i, _)| slot[i as usize] = NO_SLOT);
        }
    }
    for (i, o) in open.iter().enumerate() {
        let n = (o.end - o.start) as u32;
        if o.end - o.start < SORT_BELOW {
            continue;
        }
        for (k, h) in full[i].iter_mut().enumerate() {
            let h = &mut h[..codes.n_codes[o.pending[k] as usize] as usize];
            let (mut zero, mut m) = (o.sum, 0);
            for (sum, count) in &h[1..] {
                zero.iter_mut().zip(sum).for_each(|(z, s)| *z -= s);
                m += count;
            }
            h[0] = (zero, n - m);
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

/// Fills `h` of open node `i` from a TF's non-zeros. Branch-free: a cell of another node
/// (about half of them below the root) adds 0.
fn one_node_histogram<const W: usize>(
    cells: &[u32],
    tf_codes: &[u8],
    s: &JobState<W>,
    i: u32,
    h: &mut Bins<W>,
) {
    for (&c, &code) in cells.iter().zip(tf_codes) {
        let member = s.open_of[c as usize] == i;
        let (sum, n) = &mut h[code as usize];
        let y = &s.y[c as usize];
        for t in 0..W {
            sum[t] += if member { y[t] } else { 0.0 };
        }
        *n += u32::from(member);
    }
}

/// Fills `h` from the node's cells through the TF's dense codes. One target: alternate cells
/// into two histograms, since neighbouring cells often share a code (zeros above all) and with
/// one histogram every addition would wait for the previous one; several targets give the
/// additions enough independent work.
fn dense_histogram<const W: usize>(column: &[u8], cells: &[u32], ys: &[[f64; W]], h: &mut Bins<W>) {
    if W > 1 {
        for (&c, y) in cells.iter().zip(ys) {
            let (sum, n) = &mut h[column[c as usize] as usize];
            add(sum, y);
            *n += 1;
        }
        return;
    }
    let mut other = [([0.0; W], 0u32); 256];
    let (cell_pairs, y_pairs) = (cells.chunks_exact(2), ys.chunks_exact(2));
    for (c, y) in cell_pairs.zip(y_pairs) {
        let (a, b) = (column[c[0] as usize] as usize, column[c[1] as usize] as usize);
        add(&mut h[a].0, &y[0]);
        h[a].1 += 1;
        add(&mut other[b].0, &y[1]);
        other[b].1 += 1;
    }
    if let (Some(&c), Some(y)) = (
        cells.chunks_exact(2).remainder().first(),
        ys.chunks_exact(2).remainder().first(),
    ) {
        let (sum, n) = &mut h[column[c as usize] as usize];
        add(sum, y);
        *n += 1;
    }
    for (x, o) in h.iter_mut().zip(&other) {
        add(&mut x.0, &o.0);
        x.1 += o.1;
    }
}

/// Bins of (code, cell) pairs sorted by code.
fn merge<const W: usize>(pairs: &[(u8, u32)], y: &[[f64; W]]) -> Vec<Bin<W>> {
    let mut bins: Vec<Bin<W>> = Vec::new();
    for &(code, c) in pairs {
        let y = &y[c as usize];
        match bins.last_mut() {
            Some(b) if b.code == code => {
                add(&mut b.sum, y);
                b.n += 1;
            }
            _ => bins.push(Bin { code, sum: *y, n: 1 }),
        }
    }
    bins
}

/// The best "code <= k" split of a node's bins and its variance reduction summed over the
/// responses but `skip`, or None when the TF is constant in the node.
fn best_threshold<const W: usize>(
    bins: &[Bin<W>],
    n: usize,
    sum: &[f64; W],
    skip: Option<usize>,
) -> Option<(u8, f64)> {
    let n = n as f64;
    let (mut sum_left, mut n_left) = ([0.0; W], 0u32);
    let mut best: Option<(u8, f64)> = None;
    for b in &bins[..bins.len().saturating_sub(1)] {
        add(&mut sum_left, &b.sum);
        n_left += b.n;
        let (nl, nr) = (n_left as f64, n - n_left as f64);
        let spread = |t: usize| {
            let diff = sum_left[t] / nl - (sum[t] - sum_left[t]) / nr;
            diff * diff
        };
        let mut squares: f64 = (0..W).map(spread).sum();
        if let Some(t) = skip {
            squares -= spread(t);
        }
        let gain = nl * nr / n * squares;
        if best.is_none_or(|x| gain > x.1) {
            best = Some((b.code, gain));
        }
    }
    best
}

fn split_node<const W: usize>(
    codes: &TfCodes,
    s: &mut JobState<W>,
    o: Open<W>,
    split: Split,
    next: &mut Vec<Open<W>>,
) {
    let f = split.feature as usize;
    let cells = &mut s.order[o.start..o.end];
    let column = codes.column(f);
    let code = |c: u32| column[c as usize];
    // Stable partition: left cells compacted in place, right cells through the scratch.
    s.scratch.clear();
    let (mut n_left, mut sum_left, mut sum_right) = (0, [0.0; W], [0.0; W]);
    for k in 0..cells.len() {
        let c = cells[k];
        if code(c) <= split.threshold {
            cells[n_left] = c;
            n_left += 1;
            add(&mut sum_left, &s.y[c as usize]);
        } else {
            s.scratch.push(c);
            add(&mut sum_right, &s.y[c as usize]);
        }
    }
    let n_right = s.scratch.len();
    cells[n_left..].copy_from_slice(&s.scratch);
    let mid = o.start + n_left;
    let skip = s.own_response(split.feature);
    let (nl, nr) = (n_left as f64, n_right as f64);
    for t in (0..W).filter(|&t| Some(t) != skip) {
        let diff = sum_left[t] / nl - sum_right[t] / nr;
        s.gain[f][t] += nl * nr / (nl + nr) * diff * diff;
    }
    let (l, r) = (s.tree.nodes.len() as u32, s.tree.nodes.len() as u32 + 1);
    s.tree.nodes[o.node as usize] = Node {
        feature: split.feature,
        threshold: split.threshold,
        left: l,
        right: r,
        value: mean(&o.sum, o.end - o.start),
    };
    s.tree.nodes.push(leaf(mean(&sum_left, n_left)));
    s.tree.nodes.push(leaf(mean(&sum_right, n_right)));
    let job = o.job;
    let mut constant = o.constant;
    constant.extend(o.found_constant);
    constant.sort_unstable();
    next.push(new_open(s, job, l, o.start, mid, sum_left, constant.clone()));
    next.push(new_open(s, job, r, mid, o.end, sum_right, constant));
}
