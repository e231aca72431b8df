//! Finding an adapter, opening a device on it, and the device's errors as [`Error`]s.

use crate::error::{panic_message, Error, Result};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake};
use wgpu::util::DeviceExt;

/// What one adapter is, for `gpu_info()` and for choosing.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    /// "DiscreteGpu", "IntegratedGpu", "VirtualGpu", "Cpu" or "Other".
    pub device_type: String,
    pub driver: String,
    /// A software rasteriser (lavapipe, WARP, SwiftShader): correct, about as fast as one CPU.
    pub software: bool,
    pub max_storage_binding: u64,
    pub max_buffer: u64,
}

impl AdapterSummary {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let (info, limits) = (adapter.get_info(), adapter.limits());
        AdapterSummary {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: [info.driver, info.driver_info]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
            software: info.device_type == wgpu::DeviceType::Cpu,
            max_storage_binding: limits.max_storage_buffer_binding_size,
            max_buffer: limits.max_buffer_size,
        }
    }
}

/// Which adapter to open.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// The best hardware GPU: discrete, then integrated, then virtual; never a software one.
    Hardware,
    /// The first adapter whose name contains this text (any case), software ones included:
    /// tests name lavapipe ("llvmpipe") this way.
    Named(String),
}

/// What to install when no adapter is found.
const NO_ADAPTER: &str = "no GPU adapter was found: install your GPU's Vulkan driver (Debian/Ubuntu: \
    'libvulkan1' and 'mesa-vulkan-drivers' for AMD and Intel, the NVIDIA driver with its Vulkan \
    ICD for NVIDIA; on macOS Metal is built in; on Windows the vendor's driver), or use device = \"cpu\"";

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(desc)
}

fn all_adapters(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
}

/// Every adapter of the primary backends (Vulkan, Metal, DX12), software ones included.
pub fn adapters() -> Vec<AdapterSummary> {
    all_adapters(&instance()).iter().map(AdapterSummary::of).collect()
}

/// Rank of a hardware adapter type (lower is preferred); None for software.
fn hardware_rank(device_type: wgpu::DeviceType) -> Option<u8> {
    match device_type {
        wgpu::DeviceType::DiscreteGpu => Some(0),
        wgpu::DeviceType::IntegratedGpu => Some(1),
        wgpu::DeviceType::VirtualGpu => Some(2),
        wgpu::DeviceType::Other => Some(3),
        wgpu::DeviceType::Cpu => None,
    }
}

/// The environment variable that, set to a number of bytes, makes kernels bind less than
/// the device allows (in smaller chunks): R's tests run the chunked paths this way.
pub const MAX_BINDING_VARIABLE: &str = "CELLSTREAM_GPU_MAX_BINDING";

/// An open device and its queue.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    /// Errors raised outside an error scope (the device's uncaptured-error handler).
    uncaptured: Arc<Mutex<Vec<String>>>,
    /// The largest storage binding a kernel may use, in bytes: the device's limit, or less
    /// when forced (tests).
    max_binding: u64,
}

impl Gpu {
    pub fn open(choice: &Choice) -> Result<Gpu> {
        let instance = instance();
        let found = all_adapters(&instance);
        let adapter = match choice {
            Choice::Hardware => found
                .into_iter()
                .filter_map(|a| hardware_rank(a.get_info().device_type).map(|r| (r, a)))
                .min_by_key(|(r, _)| *r)
                .map(|(_, a)| a)
                .ok_or_else(|| {
                    let software: Vec<String> = adapters().into_iter().map(|a| a.name).collect();
                    let also = if software.is_empty() {
                        String::new()
                    } else {
                        format!(" (only software adapters: {})", software.join(", "))
                    };
                    Error::Request(format!("{NO_ADAPTER}{also}"))
                })?,
            Choice::Named(text) => {
                let names: Vec<String> = found.iter().map(|a| a.get_info().name).collect();
                let wanted = text.to_lowercase();
                found
                    .into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&wanted))
                    .ok_or_else(|| {
                        Error::Request(if names.is_empty() {
                            NO_ADAPTER.to_string()
                        } else {
                            format!(
                                "no GPU adapter's name contains '{text}'; found: {}",
                                names.join(", ")
                            )
                        })
                    })?
            }
        };
        let summary = AdapterSummary::of(&adapter);
        let desc = wgpu::DeviceDescriptor {
            label: Some("cellstream"),
            required_limits: adapter.limits(),
            ..Default::default()
        };
        let (device, queue) = block_on(adapter.request_device(&desc))
            .map_err(|e| Error::Request(format!("could not open the GPU '{}': {e}", summary.name)))?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut errors) = sink.lock() {
                errors.push(e.to_string());
            }
        }));
        let max_binding = summary.max_storage_binding.min(summary.max_buffer);
        let mut gpu = Gpu {
            device,
            queue,
            adapter: summary,
            uncaptured,
            max_binding,
        };
        if let Some(bytes) = std::env::var(MAX_BINDING_VARIABLE)
            .ok()
            .and_then(|v| v.parse().ok())
        {
            gpu.limit_bindings(bytes);
        }
        Ok(gpu)
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    pub fn max_binding(&self) -> u64 {
        self.max_binding
    }

    /// Kernels use storage bindings of at most `bytes` (at least 4 KiB), so that tests run
    /// the chunked paths on small data.
    pub fn limit_bindings(&mut self, bytes: u64) {
        self.max_binding = self.max_binding.min(bytes.max(4096));
    }

    /// Runs `work` (which records and submits GPU commands), waits for the device, and returns
    /// its result, or the first wgpu error it raised (or its panic) as an [`Error`] naming
    /// `what`.
    pub fn run<T>(&self, what: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let out_of_memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let out = catch_unwind(AssertUnwindSafe(work));
        let waited = self.wait();
        let scoped = [internal, validation, out_of_memory]
            .into_iter()
            .filter_map(|scope| block_on(scope.pop()).map(|e| e.to_string()))
            .collect::<Vec<_>>();
        let uncaptured = self
            .uncaptured
            .lock()
            .map(|mut errors| std::mem::take(&mut *errors))
            .unwrap_or_default();
        let fail =
            |why: String| Error::Request(format!("the GPU ({}) failed in {what}: {why}", self.adapter.name));
        if let Some(why) = scoped.into_iter().chain(uncaptured).next() {
            return Err(fail(why));
        }
        waited.map_err(fail)?;
        match out {
            Ok(result) => result,
            Err(panic) => Err(fail(panic_message(panic.as_ref()))),
        }
    }

    /// A compute pipeline of the WGSL `source`'s entry point `main` (its bind group layout
    /// derived from the shader).
    pub fn pipeline(&self, label: &str, source: &str) -> wgpu::ComputePipeline {
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        self.device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            })
    }

    /// Whether the device accepts a shader, and how a rejected one is reported.
    pub fn compile(&self, source: &str) -> Result<()> {
        self.run("compiling a shader", || {
            drop(self.pipeline("check", source));
            Ok(())
        })
    }

    /// Blocks until the device has done all work submitted so far.
    pub fn finish(&self) -> Result<()> {
        self.wait().map_err(Error::Request)
    }

    fn wait(&self) -> std::result::Result<(), String> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// A storage buffer holding `data`.
    pub fn upload(&self, label: &str, data: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: data,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        })
    }

    /// A uniform buffer of `bytes`, written before each use.
    pub fn uniform(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// A uniform buffer holding `data`.
    pub fn upload_uniform(&self, label: &str, data: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: data,
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    /// A bind group of `buffers` at bindings 0, 1, ... of the pipeline's group 0.
    pub fn bind(&self, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// An uninitialised (zeroed) storage buffer of `bytes`.
    pub fn storage(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    /// The first `bytes` of `buffer`, copied back to the host.
    pub fn download(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("download"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let mapped = Arc::new(Mutex::new(None));
        let done = Arc::clone(&mapped);
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            if let Ok(mut slot) = done.lock() {
                *slot = Some(r);
            }
        });
        self.finish()?;
        let state = mapped.lock().ok().and_then(|mut s| s.take());
        match state {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Request(format!("reading a GPU buffer back failed: {e}"))),
            None => return Err(Error::Request("reading a GPU buffer back did not finish".into())),
        }
        let bytes = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::Request(format!("reading a GPU buffer back failed: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

/// Workgroups (x, y) for `threads` invocations of `workgroup` each, within the 65,535 per
/// dimension every device allows; a shader numbers its workgroup `y * x_count + x`.
pub(crate) fn grid(threads: usize, workgroup: usize) -> (u32, u32) {
    let groups = threads.div_ceil(workgroup).max(1);
    let x = groups.min(65_535);
    (x as u32, groups.div_ceil(x) as u32)
}

/// Waits for a future on this thread (wgpu's native futures resolve while the device is
/// polled, so no executor is needed).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}
