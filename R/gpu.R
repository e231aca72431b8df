#' GPU adapters and where steps run
#'
#' cellstream's GPU path runs through wgpu: Vulkan on Linux and Windows, Metal on macOS,
#' DX12 on Windows, so one build uses an NVIDIA, AMD, Intel or Apple GPU. `gpu_info()` lists
#' the adapters it finds. Steps that can use a GPU ([run_pca()], [find_neighbors()],
#' [run_umap()], [run_pipeline()]) take
#' `device = c("auto", "cpu", "gpu")`, by default `getOption("cellstream.device", "auto")`:
#' `"auto"` uses a hardware GPU from a size where it pays and never a software adapter,
#' `"gpu"` is an error when there is none, `"cpu"` never uses one. The device used is
#' recorded in the step's parameters (`print(x)`, [steps()]).
#'
#' `options(cellstream.gpu_adapter = "text")` picks the first adapter whose name contains
#' the text (any case), software ones included: tests select Mesa's lavapipe with
#' `"llvmpipe"`.
#'
#' What to install: Linux, the Vulkan loader (`libvulkan1`) and your GPU's driver
#' (`mesa-vulkan-drivers` for AMD and Intel, the NVIDIA driver with its Vulkan ICD); macOS,
#' nothing; Windows, the vendor's driver.
#'
#' @return A data.frame, one row per adapter: `name`, `backend`, `device_type`
#'   ("DiscreteGpu", "IntegratedGpu", "VirtualGpu", "Cpu", "Other"), `driver`, `software`
#'   (a CPU rasteriser such as lavapipe: correct, about as fast as one CPU core),
#'   `max_storage_binding_mb` and `max_buffer_mb` (the largest storage binding and buffer).
#' @examples
#' gpu_info()
#' @export
gpu_info <- function() {
  as.data.frame(rust(wrap__cs_gpu_info), stringsAsFactors = FALSE)
}

device_arg <- function(device) {
  if (!is.character(device) || length(device) != 1 || !device %in% c("auto", "cpu", "gpu")) {
    stop("`device` must be \"auto\", \"cpu\" or \"gpu\"", call. = FALSE)
  }
  device
}

gpu_adapter <- function() {
  adapter <- getOption("cellstream.gpu_adapter")
  if (!is.null(adapter) && (!is.character(adapter) || length(adapter) != 1)) {
    stop("option cellstream.gpu_adapter must be one string (part of an adapter's name)", call. = FALSE)
  }
  adapter
}

gpu_notes <- new.env(parent = emptyenv())

# Says once per session that "auto" found no GPU and ran on the CPU.
note_device <- function(used, verbose) {
  if (verbose && grepl("no GPU adapter", used, fixed = TRUE) && is.null(gpu_notes$said)) {
    gpu_notes$said <- TRUE
    message("No GPU adapter found: running on the CPU (see ?gpu_info for what to install).")
  }
}

# Compiles a WGSL compute shader on the GPU that `device = "gpu"` would use; returns the
# adapter's name. For tests: a rejected shader must be an R error, never a crash.
gpu_compile <- function(wgsl) {
  rust(wrap__cs_gpu_compile, gpu_adapter(), wgsl)
}
