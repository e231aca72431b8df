// One UMAP epoch over a chunk of edges (the CPU's `umap::sgd`): each due edge pulls its ends
// together and pushes its head away from random cells. Positions are read as they were at the
// epoch's start; every move is added, in fixed point, to `delta` with integer atomics, so the
// sum does not depend on the order invocations run in (float atomics would), and `apply`
// moves the points once the epoch's edges are done.

struct Params {
    n_edges: u32,
    n_points: u32,
    // The global number of the chunk's first edge: with the epoch and the sample, the key of
    // the negative samples' random numbers.
    edge_offset: u32,
    epoch: u32,
    seed: u32,
    negative_rate: f32,
    a: f32,
    b: f32,
    alpha: f32,
    gamma: f32,
    now: f32,
    pad: u32,
}

const CLIP: f32 = 4.0;
// Fixed point: 2^16 units per layout unit.
const SCALE: f32 = 65536.0;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> position: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> head: array<u32>;
@group(0) @binding(3) var<storage, read> tail: array<u32>;
@group(0) @binding(4) var<storage, read> epochs_per_sample: array<f32>;
@group(0) @binding(5) var<storage, read_write> next_sample: array<f32>;
@group(0) @binding(6) var<storage, read_write> next_negative: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<atomic<i32>>;

fn hash(x: u32) -> u32 {
    // PCG's output permutation of one LCG step.
    let state = x * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn move_point(i: u32, v: vec2<f32>) {
    atomicAdd(&delta[2u * i], i32(round(v.x * SCALE)));
    atomicAdd(&delta[2u * i + 1u], i32(round(v.y * SCALE)));
}

fn clipped(g: vec2<f32>) -> vec2<f32> {
    return clamp(g, vec2<f32>(-CLIP), vec2<f32>(CLIP));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = gid.x;
    if e >= p.n_edges || next_sample[e] > p.now {
        return;
    }
    let j = head[e];
    let k = tail[e];
    var current = position[j];
    let other = position[k];
    let diff = current - other;
    let dist2 = dot(diff, diff);
    var coeff = 0.0;
    if dist2 > 0.0 {
        let pb = pow(dist2, p.b);
        coeff = -2.0 * p.a * p.b * (pb / dist2) / (p.a * pb + 1.0);
    }
    let pull = clipped(coeff * diff) * p.alpha;
    current += pull;
    move_point(j, pull);
    move_point(k, -pull);
    let per_sample = epochs_per_sample[e];
    next_sample[e] += per_sample;
    let per_negative = per_sample / p.negative_rate;
    let n_negative = u32(max((p.now - next_negative[e]) / per_negative, 0.0));
    let key = hash(p.seed ^ hash(p.epoch ^ hash(p.edge_offset + e)));
    for (var s = 0u; s < n_negative; s++) {
        let r = hash(key ^ hash(s)) % p.n_points;
        if r == j {
            continue;
        }
        let away = current - position[r];
        let d2 = dot(away, away);
        if d2 <= 0.0 {
            continue;
        }
        let c = 2.0 * p.gamma * p.b / ((0.001 + d2) * (p.a * pow(d2, p.b) + 1.0));
        let push = clipped(c * away) * p.alpha;
        current += push;
        move_point(j, push);
    }
    next_negative[e] += f32(n_negative) * per_negative;
}

