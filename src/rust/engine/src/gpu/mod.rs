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
pub mod pca;
pub mod umap;

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

/// From this many cells `Device::Auto` uses a hardware GPU. Not measured on a hardware GPU
/// (none was available): on 2 CPU cores the exact kNN of 20,000 cells takes 7-10 s, UMAP
/// 3.5 s and PCA's products 1.2 s, where a GPU's setup costs well under one.
pub const AUTO_MIN_ROWS: usize = 20_000;

/// Where the user asked a step to run: the device and, optionally, part of an adapter's name
/// (else the best hardware GPU).
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub device: Device,
    pub adapter: Option<String>,
}

impl Placement {
    pub const CPU: Placement = Placement {
        device: Device::Cpu,
        adapter: None,
    };

    /// The GPU a step on `n` rows runs on, or None for the CPU. `Auto` takes a hardware GPU
    /// only from [`AUTO_MIN_ROWS`] rows, and never a software adapter.
    pub fn gpu_for(&self, n: usize) -> Result<Option<Gpu>> {
        let choice = self
            .adapter
            .as_ref()
            .map_or(Choice::Hardware, |name| Choice::Named(name.clone()));
        match self.device {
            Device::Cpu => Ok(None),
            Device::Gpu => Gpu::open(&choice).map(Some),
            Device::Auto if n < AUTO_MIN_ROWS => Ok(None),
            Device::Auto => Ok(Gpu::open(&choice).ok().filter(|g| !g.adapter.software)),
        }
    }

    /// Where a step on `n` rows ran, for its record: "gpu: <adapter>", "cpu", or
    /// "cpu (no GPU adapter found)" when `Auto` looked for one and found none.
    pub fn where_run(&self, gpu: Option<&Gpu>, n: usize) -> String {
        match gpu {
            Some(g) => format!("gpu: {}", g.adapter.name),
            None if self.device == Device::Auto && n >= AUTO_MIN_ROWS => "cpu (no GPU adapter found)".into(),
            None => "cpu".into(),
        }
    }
}
