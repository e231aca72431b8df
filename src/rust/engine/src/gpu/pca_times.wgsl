// Y = B Ω - 1 sᵀ for one tile of cells (s = cᵀ Ω): one invocation per output (row, column),
// the gather of the row's non-zeros.

struct Params {
    rows: u32,
    n_cols: u32,
    k: u32,
    first_tile: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> row_ptr: array<u32>;
// Column numbers, two u16 to a word.
@group(0) @binding(2) var<storage, read> cols: array<u32>;
@group(0) @binding(3) var<storage, read> vals: array<f32>;
@group(0) @binding(4) var<storage, read> omega: array<f32>;
@group(0) @binding(5) var<storage, read> shift: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
// Invocations done, by workgroup number modulo 256: the host checks that none was dropped.
@group(0) @binding(7) var<storage, read_write> finished: array<atomic<u32>, 256>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let group = wg.y * groups.x + wg.x;
    let i = group * 64u + lid;
    if i >= p.rows * p.k {
        return;
    }
    let r = i / p.k;
    let t = i % p.k;
    var s = 0.0;
    for (var q = row_ptr[r]; q < row_ptr[r + 1u]; q++) {
        let j = (cols[q >> 1u] >> ((q & 1u) * 16u)) & 0xffffu;
        s += vals[q] * omega[j * p.k + t];
    }
    y[i] = s - shift[t];
    atomicAdd(&finished[group % 256u], 1u);
}
