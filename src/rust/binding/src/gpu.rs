//! The GPU: which adapters there are, and the `device` argument of the steps that can use one.

use super::convert::*;
use super::{guarded, Res};
use cellstream_engine::gpu::{adapters, Choice, Device, Gpu, Placement};
use extendr_api::prelude::*;

/// A step's placement from R's `device` and adapter (NULL or part of an adapter's name).
pub fn placement_of(device: &Robj, adapter: &Robj) -> Res<Placement> {
    let device = match string(device, "device")?.as_str() {
        "auto" => Device::Auto,
        "cpu" => Device::Cpu,
        "gpu" => Device::Gpu,
        other => {
            return Err(format!(
                "`device` must be \"auto\", \"cpu\" or \"gpu\", not \"{other}\""
            ))
        }
    };
    Ok(Placement {
        device,
        adapter: optional_string(adapter, "adapter")?,
    })
}

/// Every adapter wgpu finds, one element per column.
#[extendr]
fn cs_gpu_info() -> Robj {
    guarded(|| {
        let found = adapters();
        let column = |f: fn(&cellstream_engine::gpu::AdapterSummary) -> String| -> Vec<String> {
            found.iter().map(f).collect()
        };
        Ok(list!(
            name = column(|a| a.name.clone()),
            backend = column(|a| a.backend.clone()),
            device_type = column(|a| a.device_type.clone()),
            driver = column(|a| a.driver.clone()),
            software = found.iter().map(|a| a.software).collect::<Vec<bool>>(),
            max_storage_binding_mb = found
                .iter()
                .map(|a| a.max_storage_binding as f64 / (1 << 20) as f64)
                .collect::<Vec<f64>>(),
            max_buffer_mb = found
                .iter()
                .map(|a| a.max_buffer as f64 / (1 << 20) as f64)
                .collect::<Vec<f64>>()
        )
        .into())
    })
}

/// Compiles a WGSL compute shader on the named adapter: a rejected one is an R error.
#[extendr]
fn cs_gpu_compile(adapter: Robj, wgsl: Robj) -> Robj {
    guarded(|| {
        let choice = optional_string(&adapter, "adapter")?.map_or(Choice::Hardware, Choice::Named);
        let gpu = Gpu::open(&choice).map_err(|e| e.to_string())?;
        gpu.compile(&string(&wgsl, "wgsl")?).map_err(|e| e.to_string())?;
        Ok(gpu.adapter.name.clone().into())
    })
}

extendr_module! {
    mod gpu;
    fn cs_gpu_info;
    fn cs_gpu_compile;
}
