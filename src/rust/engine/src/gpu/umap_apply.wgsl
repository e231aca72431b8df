// The epoch's moves (fixed point, see umap_epoch.wgsl) added to the positions, and the
// accumulator cleared for the next epoch.

const SCALE: f32 = 65536.0;

@group(0) @binding(0) var<uniform> n_points: u32;
@group(0) @binding(1) var<storage, read_write> position: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> delta: array<atomic<i32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= n_points {
        return;
    }
    let dx = atomicExchange(&delta[2u * i], 0);
    let dy = atomicExchange(&delta[2u * i + 1u], 0);
    position[i] += vec2<f32>(f32(dx), f32(dy)) / SCALE;
}
