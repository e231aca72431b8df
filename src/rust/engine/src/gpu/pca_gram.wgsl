// Z += Bᵀ Y for one tile of cells: one invocation per output (gene, column), the gather of
// the gene's non-zeros in the tile. Z is summed across tiles with Kahan's compensation,
// `compensation` holding the low-order part lost so far (the sum is z - compensation).

struct Params {
    rows: u32,
    n_cols: u32,
    k: u32,
    // 1 for the first tile: Z starts at zero.
    first_tile: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> col_ptr: array<u32>;
// Row numbers within the tile, two u16 to a word.
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read> vals: array<f32>;
@group(0) @binding(4) var<storage, read> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> z: array<f32>;
@group(0) @binding(6) var<storage, read_write> compensation: array<f32>;
@group(0) @binding(7) var<storage, read_write> finished: array<atomic<u32>, 256>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let group = wg.y * groups.x + wg.x;
    let i = group * 64u + lid;
    if i >= p.n_cols * p.k {
        return;
    }
    let j = i / p.k;
    let t = i % p.k;
    var s = 0.0;
    var c = 0.0;
    if p.first_tile == 0u {
        s = z[i];
        c = compensation[i];
    }
    for (var q = col_ptr[j]; q < col_ptr[j + 1u]; q++) {
        let r = (rows[q >> 1u] >> ((q & 1u) * 16u)) & 0xffffu;
        let term = vals[q] * y[r * p.k + t] - c;
        let next = s + term;
        c = (next - s) - term;
        s = next;
    }
    z[i] = s;
    compensation[i] = c;
    atomicAdd(&finished[group % 256u], 1u);
}
