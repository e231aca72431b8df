//! The GPU path: compute shaders through wgpu (Vulkan, Metal, DX12), so one build uses whatever
//! GPU a machine has and falls back to the CPU without one. The Vulkan loader is opened at run
//! time: a machine without it simply finds no adapter.
//!
//! Every kernel works in chunks that fit the device's limits on one storage binding (128 MiB
//! by default; chunk sizes can be forced small so tests run the chunked paths), and every
//! wgpu error (validation, out of memory, a lost device) comes back as an [`Error`], never a
//! panic. GPU results are the CPU's: exact kNN ranks the GPU's candidates again in f64 on the
//! CPU, so its neighbours are those of the CPU's exact search.
//!
//! [`Error`]: crate::error::Error

mod context;
pub mod knn;

pub use context::{adapters, AdapterSummary, Choice, Gpu};

use crate::error::Result;

/// Where the user asked a step to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Device {
    Cpu,
    /// A hardware GPU when the data is large enough to gain from one, else the CPU.
    Auto,
    /// The GPU, or an error saying what is missing.
    Gpu,
}

/// The GPU a step on `n` rows runs on, or None for the CPU: `adapter` names one (any part of
/// its name; else the best hardware one). `Auto` takes a hardware GPU only from `auto_min`
/// rows, and never a software adapter.
pub fn for_step(device: &Device, adapter: Option<&str>, n: usize, auto_min: usize) -> Result<Option<Gpu>> {
    let choice = adapter.map_or(Choice::Hardware, |name| Choice::Named(name.to_string()));
    match device {
        Device::Cpu => Ok(None),
        Device::Gpu => Gpu::open(&choice).map(Some),
        Device::Auto if n < auto_min => Ok(None),
        Device::Auto => Ok(Gpu::open(&choice).ok().filter(|g| !g.adapter.software)),
    }
}
