// Exact nearest candidates by brute force: each invocation keeps one query row's `m` nearest
// base rows so far, by (squared Euclidean distance, row index), and merges the base rows
// [base_start, base_end) of the bound base chunk into them; the workgroup stages base rows in
// workgroup memory, TILE at a time.

struct Params {
    n_queries: u32,
    dims: u32,
    m: u32,
    // 1 when the lists start empty (the first base chunk of this query chunk).
    first: u32,
    // The global row number of the base chunk's first row.
    base_offset: u32,
    base_start: u32,
    base_end: u32,
    pad: u32,
}

const WORKGROUP: u32 = 64u;
const TILE: u32 = 32u;
const MAX_DIMS: u32 = 128u;
const MAX_M: u32 = 64u;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> base: array<f32>;
@group(0) @binding(3) var<storage, read_write> best_distance: array<f32>;
@group(0) @binding(4) var<storage, read_write> best_index: array<u32>;
// Invocations that stored their lists: the host checks that none was dropped.
@group(0) @binding(5) var<storage, read_write> finished: atomic<u32>;

var<workgroup> tile: array<f32, 4096>; // TILE * MAX_DIMS

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
    var query: array<f32, MAX_DIMS>;
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
        for (var k = 0u; k < p.dims; k++) {
            query[k] = queries[q * p.dims + k];
        }
    }
    for (var b0 = p.base_start; b0 < p.base_end; b0 += TILE) {
        let rows = min(TILE, p.base_end - b0);
        workgroupBarrier();
        for (var e = lid.x; e < rows * p.dims; e += WORKGROUP) {
            tile[e] = base[b0 * p.dims + e];
        }
        workgroupBarrier();
        if in_chunk {
            for (var r = 0u; r < rows; r++) {
                var s = 0.0;
                for (var k = 0u; k < p.dims; k++) {
                    let x = query[k] - tile[r * p.dims + k];
                    s += x * x;
                }
                let j = p.base_offset + b0 + r;
                if before(s, j, distance[p.m - 1u], index[p.m - 1u]) {
                    var t = p.m - 1u;
                    while t > 0u && before(s, j, distance[t - 1u], index[t - 1u]) {
                        distance[t] = distance[t - 1u];
                        index[t] = index[t - 1u];
                        t--;
                    }
                    distance[t] = s;
                    index[t] = j;
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
