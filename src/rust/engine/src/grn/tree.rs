//! Regression trees on TF codes, grown level by level for a batch of jobs (each job one tree)
//! in the same pass. A tree fits `W` responses at once: `W = 1` is one target (its value or
//! its residual); `W > 1` is `shared_splits`, where a split maximises the summed variance
//! reduction of the `W` targets and each target is credited its own share.
//!
//! The jobs of a batch share their fitting cells (the bag) and their random stream: the node at
//! one position of every job's tree (root, root's left child, ...) meets the TFs in the same
//! random order. Each job takes from that order, as scikit-learn's best splitter draws, its
//! own candidates until it has visited `max_features` TFs not constant in its node: a TF
//! constant in the node does not count and the next is taken (one found constant in an
//! ancestor is skipped without a histogram, as scikit-learn's known-constant features). A
//! tree is therefore the same whatever batch it grows in, and the jobs of a batch mostly draw
//! the same TFs at the same level, so one pass over a TF's non-zeros (reading, per cell, every
//! job's node and response side by side) builds the histograms of all of them.
//!
//! A drawn TF's histogram (sum of y and cell count per code) is built from whichever is
//! smaller: the node's cells through the dense codes, or the TF's non-zeros; code 0 follows
//! from the node's totals. A split "code <= k" maximises the variance reduction
//! (n_l n_r / n)(mean_l - mean_r)^2, first best in draw order as scikit-learn; a response whose
//! own TF is the one split on takes no part in that split's gain.

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

/// What the jobs of one batch share.
pub struct Batch<'a, const W: usize> {
    /// Per cell the responses of every job side by side: `y[cell * n_jobs + job]`.
    pub y: &'a [[f64; W]],
    /// The cells the trees are fitted on, ascending.
    pub bag: &'a [u32],
    /// Seeds the TF order of every node position.
    pub seed: u64,
}

/// One tree to grow.
pub struct TreeJob<'a> {
    /// The TFs the tree may split on, ascending.
    pub candidates: &'a [u32],
    /// (TF, response): a response's own TF among the candidates, never a predictor of it.
    pub own: &'a [(u32, usize)],
    /// Non-constant TFs visited per split.
    pub max_features: usize,
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
    /// The node's position, the same in every job's tree; `draws` indexes its TF order.
    key: u64,
    draws: usize,
    /// How far into its position's TF order the node has taken.
    cursor: usize,
    start: usize,
    end: usize,
    sum: [f64; W],
    /// Drawn TFs whose histogram waits to be built, in draw order, and their best splits.
    pending: Vec<u32>,
    found: Vec<Option<Split<W>>>,
    non_constant: usize,
    /// TFs known to be constant in the node, ascending: found so in an ancestor, where its
    /// cells were a superset (as scikit-learn, drawing one costs nothing and does not count).
    constant: Vec<u32>,
    /// TFs found constant in this node, for its children.
    found_constant: Vec<u32>,
    best: Option<Split<W>>,
}

#[derive(Debug, Clone, Copy)]
struct Split<const W: usize> {
    feature: u32,
    threshold: u8,
    gain: f64,
    /// The responses' sums over the cells that go left, and their number.
    left: [f64; W],
    n_left: u32,
}

struct JobState<'a, const W: usize> {
    job: &'a TreeJob<'a>,
    is_candidate: Vec<bool>,
    /// The fitting cells, grouped by node (stable: ascending within a node), and their
    /// responses in that order.
    order: Vec<u32>,
    order_y: Vec<[f64; W]>,
    tree: Tree<W>,
    gain: Vec<[f64; W]>,
}

impl<const W: usize> JobState<'_, W> {
    /// The response whose own TF is `tf`, if any.
    fn own_response(&self, tf: u32) -> Option<usize> {
        self.job.own.iter().find(|o| o.0 == tf).map(|o| o.1)
    }
}

/// The order in which the nodes at one position meet the TFs: a random permutation of all
/// of them, drawn only as far as some node needs.
struct Draws {
    rng: Xoshiro256PlusPlus,
    undrawn: Option<Vec<u32>>,
    drawn: Vec<u32>,
}

impl Draws {
    fn new(seed: u64, key: u64) -> Self {
        Draws {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ mix(key)),
            undrawn: None,
            drawn: Vec::new(),
        }
    }

    /// The `k`th TF of the order, or None past the last.
    fn get(&mut self, k: usize, n_tfs: usize) -> Option<u32> {
        if k == self.drawn.len() {
            // A partial Fisher-Yates shuffle: in sparse data most TFs are constant in a small
            // node, and a node may draw hundreds before it has met `max_features` others.
            let undrawn = self.undrawn.get_or_insert_with(|| (0..n_tfs as u32).collect());
            if undrawn.is_empty() {
                return None;
            }
            let f = undrawn.swap_remove(self.rng.random_range(0..undrawn.len()));
            self.drawn.push(f);
        }
        Some(self.drawn[k])
    }
}

fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The position of a node's child (`side` 0 left, 1 right).
fn child_key(key: u64, side: u64) -> u64 {
    mix(key.wrapping_mul(2).wrapping_add(side))
}

/// Grows trees, keeping its buffers from one call to the next.
#[derive(Default)]
pub struct Grower<const W: usize> {
    /// Per cell and job the index of the cell's open node in this level, or NO_SLOT.
    slot: Vec<u32>,
    work: Work<W>,
    scratch: Vec<u32>,
    /// Each job's cell order and responses in that order, from the last call.
    orders: Vec<(Vec<u32>, Vec<[f64; W]>)>,
}

impl<const W: usize> Grower<W> {
    /// One tree.
    pub fn grow_one(
        &mut self,
        codes: &TfCodes,
        batch: &Batch<W>,
        job: TreeJob,
        max_depth: usize,
    ) -> Grown<W> {
        self.grow(codes, batch, &[job], max_depth)
            .pop()
            .expect("one tree per job")
    }

    pub fn grow(
        &mut self,
        codes: &TfCodes,
        batch: &Batch<W>,
        jobs: &[TreeJob],
        max_depth: usize,
    ) -> Vec<Grown<W>> {
        let (n_tfs, n_jobs) = (codes.n_tfs, jobs.len());
        assert_eq!(
            batch.y.len(),
            codes.n_cells * n_jobs,
            "one response per cell and job"
        );
        let mut states: Vec<JobState<W>> = jobs
            .iter()
            .map(|job| {
                let (mut order, order_y) = self.orders.pop().unwrap_or_default();
                order.clear();
                order.extend_from_slice(batch.bag);
                let mut is_candidate = vec![false; n_tfs];
                job.candidates
                    .iter()
                    .for_each(|&f| is_candidate[f as usize] = true);
                JobState {
                    job,
                    is_candidate,
                    order,
                    order_y,
                    tree: Tree { nodes: Vec::new() },
                    gain: vec![[0.0; W]; n_tfs],
                }
            })
            .collect();
        let mut open: Vec<Open<W>> = Vec::new();
        for (j, s) in states.iter_mut().enumerate() {
            let sum = sum_of(batch, n_jobs, j, &s.order);
            let n = s.order.len();
            s.tree.nodes.push(leaf(mean(&sum, n)));
            open.push(new_open(j, 0, 1, 0, n, sum, Vec::new()));
        }
        self.slot.clear();
        self.slot.resize(codes.n_cells * n_jobs, NO_SLOT);
        self.work.start(n_jobs);
        for _ in 0..max_depth {
            for (j, s) in states.iter_mut().enumerate() {
                s.order_y.clear();
                let y = s.order.iter().map(|&c| batch.y[c as usize * n_jobs + j]);
                s.order_y.extend(y);
            }
            open.retain(|o| splittable(o, &states[o.job]));
            if open.is_empty() {
                break;
            }
            for (i, o) in open.iter().enumerate() {
                for &c in &states[o.job].order[o.start..o.end] {
                    self.slot[c as usize * n_jobs + o.job] = i as u32;
                }
            }
            let mut keys: Vec<u64> = open.iter().map(|o| o.key).collect();
            keys.sort_unstable();
            keys.dedup();
            let mut draws: Vec<Draws> = keys.iter().map(|&k| Draws::new(batch.seed, k)).collect();
            for o in open.iter_mut() {
                o.draws = keys.binary_search(&o.key).expect("a key of this level");
            }
            find_splits(
                codes,
                batch,
                &states,
                &self.slot,
                &mut open,
                &mut draws,
                &mut self.work,
            );
            let mut next = Vec::new();
            for o in open.drain(..) {
                let s = &mut states[o.job];
                for &c in &s.order[o.start..o.end] {
                    self.slot[c as usize * n_jobs + o.job] = NO_SLOT;
                }
                if let Some(split) = o.best {
                    split_node(codes, s, o, split, &mut self.scratch, &mut next);
                }
            }
            open = next;
        }
        states
            .into_iter()
            .map(|s| {
                self.orders.push((s.order, s.order_y));
                Grown {
                    tree: s.tree,
                    gain: s.gain,
                }
            })
            .collect()
    }
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

/// Per response of job `j`, the sum over `cells`.
fn sum_of<const W: usize>(batch: &Batch<W>, n_jobs: usize, j: usize, cells: &[u32]) -> [f64; W] {
    let mut sum = [0.0; W];
    for &c in cells {
        add(&mut sum, &batch.y[c as usize * n_jobs + j]);
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
    job: usize,
    node: u32,
    key: u64,
    start: usize,
    end: usize,
    sum: [f64; W],
    constant: Vec<u32>,
) -> Open<W> {
    Open {
        job,
        node,
        key,
        draws: 0,
        cursor: 0,
        start,
        end,
        sum,
        pending: Vec::new(),
        found: Vec::new(),
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
    let var = s.order_y[o.start..o.end]
        .iter()
        .map(|y| (0..W).map(|t| (y[t] - mean[t]).powi(2)).sum::<f64>())
        .sum::<f64>()
        / (n * W) as f64;
    var > f64::EPSILON
}

/// Draws TFs for every open node, builds their histograms and keeps each node's best split,
/// drawing again for nodes that met constant TFs until `max_features` non-constant TFs were
/// visited or none is left.
fn find_splits<const W: usize>(
    codes: &TfCodes,
    batch: &Batch<W>,
    states: &[JobState<W>],
    slot: &[u32],
    open: &mut [Open<W>],
    draws: &mut [Draws],
    work: &mut Work<W>,
) {
    loop {
        let mut any = false;
        for o in open.iter_mut() {
            let s = &states[o.job];
            let mut want = s.job.max_features.saturating_sub(o.non_constant);
            while want > 0 {
                let Some(f) = draws[o.draws].get(o.cursor, codes.n_tfs) else {
                    break;
                };
                o.cursor += 1;
                if s.is_candidate[f as usize] && o.constant.binary_search(&f).is_err() {
                    o.pending.push(f);
                    want -= 1;
                }
            }
            any |= !o.pending.is_empty();
        }
        if !any {
            return;
        }
        histograms(codes, batch, states, slot, open, work);
        for o in open.iter_mut() {
            for (&f, found) in o.pending.iter().zip(&o.found) {
                let Some(split) = *found else {
                    o.found_constant.push(f);
                    continue;
                };
                o.non_constant += 1;
                if o.best.is_none_or(|b| split.gain > b.gain) {
                    o.best = Some(split);
                }
            }
            o.pending.clear();
        }
    }
}

/// Sums of the responses and cells for one code.
type Bin<const W: usize> = ([f64; W], u32);

const CODES: usize = 256;

/// Histograms of `CODES` bins side by side in one buffer: first one per job that takes the
/// cells a sparse pass reads but no node of that job wants (never read), then one per node
/// of the pass, cleared after use.
#[derive(Default)]
struct Work<const W: usize> {
    bins: Vec<Bin<W>>,
    /// How many histograms at the start of `bins` were discard ones since they were cleared.
    n_discards: usize,
    /// Per open node of the level, then per job (cells in no open node), where in `bins` the
    /// histogram a sparse pass adds the cell to starts.
    target: Vec<u32>,
    pairs: Vec<(u8, u32)>,
}

impl<const W: usize> Work<W> {
    /// Clean histograms for `n_jobs` jobs, whatever the number of jobs of the last call.
    fn start(&mut self, n_jobs: usize) {
        self.reserve(n_jobs, 0);
        self.bins[..self.n_discards.max(n_jobs) * CODES].fill(([0.0; W], 0));
        self.n_discards = n_jobs;
    }

    /// Room for the discard histograms of `n_jobs` jobs and `n_nodes` histograms after them.
    fn reserve(&mut self, n_jobs: usize, n_nodes: usize) {
        let n = (n_jobs + n_nodes) * CODES;
        if self.bins.len() < n {
            self.bins.resize(n, ([0.0; W], 0));
        }
    }

    /// The `k`th histogram after the discard histograms.
    fn node_bins(&mut self, n_jobs: usize, k: usize) -> &mut [Bin<W>] {
        let start = (n_jobs + k) * CODES;
        &mut self.bins[start..start + CODES]
    }
}

/// Nodes with fewer cells than this sort their (code, cell) pairs instead of filling one bin
/// per code: deep trees have many small nodes and up to 256 codes per TF.
const SORT_BELOW: usize = 64;

/// Sets `found` of every open node: per pending TF its best split, or None when the TF is
/// constant in the node. TF by TF, so that one pass over a TF's non-zeros serves every node
/// that drew it and the TF's dense codes stay in cache for the others.
fn histograms<const W: usize>(
    codes: &TfCodes,
    batch: &Batch<W>,
    states: &[JobState<W>],
    slot: &[u32],
    open: &mut [Open<W>],
    work: &mut Work<W>,
) {
    let n_jobs = states.len();
    let mut tasks: Vec<(u32, u32, u32)> = Vec::new();
    for (i, o) in open.iter_mut().enumerate() {
        o.found.clear();
        o.found.resize(o.pending.len(), None);
        tasks.extend((0..o.pending.len()).map(|k| (o.pending[k], i as u32, k as u32)));
    }
    tasks.sort_unstable();
    work.target.clear();
    let discard = |j: usize| (j * CODES) as u32;
    work.target.extend(open.iter().map(|o| discard(o.job)));
    work.target.extend((0..n_jobs).map(discard));
    let mut sparse: Vec<(u32, u32)> = Vec::new();
    for group in tasks.chunk_by(|a, b| a.0 == b.0) {
        let f = group[0].0;
        let n_codes = codes.n_codes[f as usize] as usize;
        sparse.clear();
        for &(_, i, k) in group {
            let o = &open[i as usize];
            let s = &states[o.job];
            let (cells, ys) = (&s.order[o.start..o.end], &s.order_y[o.start..o.end]);
            let skip = s.own_response(f);
            let found = if cells.len() < SORT_BELOW {
                let column = codes.column(f as usize);
                work.pairs.clear();
                work.pairs
                    .extend((0..cells.len() as u32).map(|k| (column[cells[k as usize] as usize], k)));
                work.pairs.sort_by_key(|p| p.0);
                let bins = work.pairs.chunk_by(|a, b| a.0 == b.0).map(|run| {
                    let mut sum = [0.0; W];
                    run.iter().for_each(|&(_, k)| add(&mut sum, &ys[k as usize]));
                    (run[0].0, sum, run.len() as u32)
                });
                best_threshold(bins, f, cells.len(), &o.sum, skip)
            } else if cells.len() > codes.nnz(f as usize) {
                sparse.push((i, k));
                continue;
            } else {
                work.reserve(n_jobs, 1);
                let h = work.node_bins(n_jobs, 0);
                dense_histogram(codes.column(f as usize), cells, ys, h);
                let found = best_of_bins(h, n_codes, f, cells.len(), &o.sum, skip);
                h[..n_codes].fill(([0.0; W], 0));
                found
            };
            open[i as usize].found[k as usize] = found;
        }
        if !sparse.is_empty() {
            sparse_histograms(codes, f, batch, states, slot, open, &sparse, work);
        }
    }
}

/// The histograms of TF `f` in the open nodes `members` (open node, pending index), from one
/// pass over the TF's non-zeros: per non-zero cell, each member job's node and response.
/// Branch-free: a cell of no member node adds to its job's discard histogram.
#[allow(clippy::too_many_arguments)]
fn sparse_histograms<const W: usize>(
    codes: &TfCodes,
    f: u32,
    batch: &Batch<W>,
    states: &[JobState<W>],
    slot: &[u32],
    open: &mut [Open<W>],
    members: &[(u32, u32)],
    work: &mut Work<W>,
) {
    let (n_jobs, n_open) = (states.len(), open.len());
    let n_codes = codes.n_codes[f as usize] as usize;
    work.reserve(n_jobs, members.len());
    for (k, &(i, _)) in members.iter().enumerate() {
        work.target[i as usize] = ((n_jobs + k) * CODES) as u32;
    }
    let mut jobs: Vec<usize> = members.iter().map(|&(i, _)| open[i as usize].job).collect();
    jobs.dedup();
    let (bins, target) = (&mut work.bins[..], &work.target[..]);
    // Cell c of job j: its node's histogram, or the job's discard one.
    let mut add_cell = |c: usize, j: usize, code: u8| {
        let at = c * n_jobs + j;
        let i = match slot[at] {
            NO_SLOT => n_open + j,
            i => i as usize,
        };
        let (sum, n) = &mut bins[target[i] as usize + code as usize];
        add(sum, &batch.y[at]);
        // Discard counts may wrap: they are never read.
        *n = n.wrapping_add(1);
    };
    let (cells, tf_codes) = codes.nonzeros(f as usize);
    let nonzeros = cells.iter().zip(tf_codes);
    // One job (gbm, rf) in a loop of its own: its index stays out of the inner loop.
    if let [j] = jobs[..] {
        nonzeros.for_each(|(&c, &code)| add_cell(c as usize, j, code));
    } else {
        for (&c, &code) in nonzeros {
            jobs.iter().for_each(|&j| add_cell(c as usize, j, code));
        }
    }
    for (k, &(i, p)) in members.iter().enumerate() {
        let o = &mut open[i as usize];
        let skip = states[o.job].own_response(f);
        let h = work.node_bins(n_jobs, k);
        o.found[p as usize] = best_of_bins(h, n_codes, f, o.end - o.start, &o.sum, skip);
        h[..n_codes].fill(([0.0; W], 0));
        work.target[i as usize] = (o.job * CODES) as u32;
    }
}

/// Fills `h` from the node's cells through the TF's dense codes. One target: alternate cells
/// into two histograms, since neighbouring cells often share a code (zeros above all) and with
/// one histogram every addition would wait for the previous one; several targets give the
/// additions enough independent work.
fn dense_histogram<const W: usize>(column: &[u8], cells: &[u32], ys: &[[f64; W]], h: &mut [Bin<W>]) {
    if W > 1 {
        for (&c, y) in cells.iter().zip(ys) {
            let (sum, n) = &mut h[column[c as usize] as usize];
            add(sum, y);
            *n += 1;
        }
        return;
    }
    let mut other = [([0.0; W], 0u32); CODES];
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

/// [`best_threshold`] of a node's histogram of `n_codes` codes of TF `f`; its code 0 is not
/// read but follows from the node's `n` cells and sums.
fn best_of_bins<const W: usize>(
    h: &[Bin<W>],
    n_codes: usize,
    f: u32,
    n: usize,
    sum: &[f64; W],
    skip: Option<usize>,
) -> Option<Split<W>> {
    let (mut zero, mut m) = (*sum, 0);
    for (s, count) in &h[1..n_codes] {
        zero.iter_mut().zip(s).for_each(|(z, s)| *z -= s);
        m += count;
    }
    let zero_bin = (0u8, zero, n as u32 - m);
    let others = (1..n_codes).map(|code| (code as u8, h[code].0, h[code].1));
    let bins = std::iter::once(zero_bin).chain(others).filter(|b| b.2 > 0);
    best_threshold(bins, f, n, sum, skip)
}

/// The best split "code <= k" on TF `f` of a node's non-empty bins (code, sums, cells;
/// ascending by code), its gain the variance reduction summed over the responses but `skip`,
/// or None when the TF is constant in the node.
fn best_threshold<const W: usize>(
    bins: impl Iterator<Item = (u8, [f64; W], u32)>,
    f: u32,
    n: usize,
    sum: &[f64; W],
    skip: Option<usize>,
) -> Option<Split<W>> {
    let (n_all, n) = (n as u32, n as f64);
    let (mut left, mut n_left) = ([0.0; W], 0u32);
    let mut best: Option<Split<W>> = None;
    for (code, bin_sum, count) in bins {
        add(&mut left, &bin_sum);
        n_left += count;
        if n_left == n_all {
            break;
        }
        // (n_l n_r / n)(mean_l - mean_r)^2 = (n sum_l - n_l sum)^2 / (n_l n_r n): one division.
        let nl = n_left as f64;
        let spread = |t: usize| {
            let d = n * left[t] - nl * sum[t];
            d * d
        };
        let mut squares: f64 = (0..W).map(spread).sum();
        if let Some(t) = skip {
            squares -= spread(t);
        }
        let gain = squares / (nl * (n - nl) * n);
        if best.is_none_or(|b| gain > b.gain) {
            best = Some(Split {
                feature: f,
                threshold: code,
                gain,
                left,
                n_left,
            });
        }
    }
    best
}

fn split_node<const W: usize>(
    codes: &TfCodes,
    s: &mut JobState<W>,
    o: Open<W>,
    split: Split<W>,
    scratch: &mut Vec<u32>,
    next: &mut Vec<Open<W>>,
) {
    let f = split.feature as usize;
    let cells = &mut s.order[o.start..o.end];
    let column = codes.column(f);
    // Stable partition: left cells compacted in place, right cells through the scratch.
    scratch.clear();
    let mut n_left = 0;
    for k in 0..cells.len() {
        let c = cells[k];
        if column[c as usize] <= split.threshold {
            cells[n_left] = c;
            n_left += 1;
        } else {
            scratch.push(c);
        }
    }
    debug_assert_eq!(n_left, split.n_left as usize);
    cells[n_left..].copy_from_slice(scratch);
    let n_right = scratch.len();
    let (sum_left, mut sum_right) = (split.left, o.sum);
    sum_right.iter_mut().zip(&sum_left).for_each(|(r, l)| *r -= l);
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
    let mut constant = o.constant;
    constant.extend(o.found_constant);
    constant.sort_unstable();
    let (job, key) = (o.job, o.key);
    next.push(new_open(
        job,
        l,
        child_key(key, 0),
        o.start,
        mid,
        sum_left,
        constant.clone(),
    ));
    next.push(new_open(
        job,
        r,
        child_key(key, 1),
        mid,
        o.end,
        sum_right,
        constant,
    ));
}
