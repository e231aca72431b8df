// Exact nearest candidates by brute force: each invocation keeps one query row's `m` nearest
// base rows so far, by (squared Euclidean distance, row index), and merges the base rows
// [base_start, base_end) of the bound base chunk into them; the workgroup stages base rows in
// workgroup memory, TILE at a time. The host sets DIMS (the row length) before compiling, so
// the loops over a row have a constant length and the query row stays in registers.

struct Params {
    n_queries: u32,
    m: u32,
    // 1 when the lists start empty (the first base chunk of this query chunk).
    first: u32,
    // The global row number of the base chunk's first row.
    base_offset: u32,
    base_start: u32,
    base_end: u32,
    pad: vec2<u32>,
}

const WORKGROUP: u32 = 64u;
const TILE: u32 = 32u;
const DIMS: u32 = {DIMS}u;
const MAX_M: u32 = 64u;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> base: array<f32>;
@group(0) @binding(3) var<storage, read_write> best_distance: array<f32>;
@group(0) @binding(4) var<storage, read_write> best_index: array<u32>;
// Invocations that stored their lists: the host checks that none was dropped.
@group(0) @binding(5) var<storage, read_write> finished: atomic<u32>;

var<workgroup> tile: array<f32, 4096>; // TILE * 128, the largest DIMS

// (d, j) before (e, k) in the total order: distance, then row index.
fn before(d: f32, j: u32, e: f32, k: u32) -> bool {
    return d < e || (d == e && j < k);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let q = gid.x;
    let in_chunk = q < p.n_queries;
    var distance: array<f32, MAX_M>;
    var index: array<u32, MAX_M>;
    var query: array<f32, DIMS>;
    let infinity = bitcast<f32>(0x7f800000u);
    if in_chunk {
        for (var t = 0u; t < p.m; t++) {
            if p.first == 1u {
                distance[t] = infinity;
                index[t] = NONE;
            } else {
                distance[t] = best_distance[q * p.m + t];
                index[t] = best_index[q * p.m + t];
            }
        }
        for (var k = 0u; k < DIMS; k++) {
            query[k] = queries[q * DIMS + k];
        }
    }
    // The list's last entry, kept in registers: most base rows are compared with it only.
    var worst_distance = distance[p.m - 1u];
    var worst_index = index[p.m - 1u];
    for (var b0 = p.base_start; b0 < p.base_end; b0 += TILE) {
        let rows = min(TILE, p.base_end - b0);
        workgroupBarrier();
        for (var e = lid.x; e < rows * DIMS; e += WORKGROUP) {
            tile[e] = base[b0 * DIMS + e];
        }
        workgroupBarrier();
        if in_chunk {
            for (var r = 0u; r < rows; r++) {
                var s = 0.0;
                for (var k = 0u; k < DIMS; k++) {
                    let x = query[k] - tile[r * DIMS + k];
                    s += x * x;
                }
                let j = p.base_offset + b0 + r;
                if before(s, j, worst_distance, worst_index) {
                    var t = p.m - 1u;
                    while t > 0u && before(s, j, distance[t - 1u], index[t - 1u]) {
                        distance[t] = distance[t - 1u];
                        index[t] = index[t - 1u];
                        t--;
                    }
                    distance[t] = s;
                    index[t] = j;
                    worst_distance = distance[p.m - 1u];
                    worst_index = index[p.m - 1u];
                }
            }
        }
    }
    if in_chunk {
        for (var t = 0u; t < p.m; t++) {
            best_distance[q * p.m + t] = distance[t];
            best_index[q * p.m + t] = index[t];
        }
        atomicAdd(&finished, 1u);
    }
}
