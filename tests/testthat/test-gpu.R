# The GPU path on Mesa's lavapipe (a software Vulkan adapter, selected by name): correct,
# about as fast as one CPU core. Without it (no libvulkan1 / mesa-vulkan-drivers) the tests
# that need an adapter skip.
skip_without_lavapipe <- function() {
  found <- gpu_info()
  if (!any(grepl("llvmpipe", found$name))) skip("no lavapipe adapter (install mesa-vulkan-drivers)")
}

# Lavapipe, its kernels binding at most 64 KiB so that they work in many chunks.
with_lavapipe <- function(code) {
  old <- options(cellstream.gpu_adapter = "llvmpipe")
  Sys.setenv(CELLSTREAM_GPU_MAX_BINDING = 65536)
  on.exit({
    options(old)
    Sys.unsetenv("CELLSTREAM_GPU_MAX_BINDING")
  })
  code
}

test_that("gpu_info lists the adapters as a data.frame", {
  info <- gpu_info()
  expect_named(info, c("name", "backend", "device_type", "driver", "software",
                       "max_storage_binding_mb", "max_buffer_mb"))
  skip_without_lavapipe()
  lavapipe <- info[grepl("llvmpipe", info$name), ]
  expect_true(all(lavapipe$software))
  expect_equal(lavapipe$device_type[1], "Cpu")
  expect_gte(lavapipe$max_storage_binding_mb[1], 128)
})

test_that("the GPU's exact neighbours are the CPU's on Seurat's PBMC3k PCs", {
  skip_without_lavapipe()
  emb <- reference_csv("pbmc3k_seurat", "pca_embedding.csv")
  cpu <- find_neighbors(emb, k = 20, n_pcs = 10, method = "exact", device = "cpu", verbose = FALSE)
  gpu <- with_lavapipe(find_neighbors(emb, k = 20, n_pcs = 10, device = "gpu", verbose = FALSE))
  expect_match(gpu$device, "^gpu: llvmpipe")
  expect_equal(cpu$device, "cpu")
  expect_identical(gpu$index, cpu$index)
  expect_lte(max(abs(gpu$distance - cpu$distance) / pmax(cpu$distance, 1e-12)), 1e-5)
  g1 <- with_lavapipe(find_neighbors(emb, k = 20, n_pcs = 10, device = "gpu", verbose = FALSE))
  expect_identical(g1$index, gpu$index)
  expect_identical(g1$distance, gpu$distance)
})

test_that("PCA on the GPU gives the CPU's PCs and variances on PBMC3k, bit for bit again", {
  skip_without_lavapipe()
  x <- ingest_mtx(skip_without_shared("data", "pbmc3k", "filtered_gene_bc_matrices", "hg19"),
                  tempfile("pbmc_"), min_cells = 3, min_genes = 200, verbose = FALSE)
  calculate_qc_metrics(x, verbose = FALSE)
  set_keep(x, "n_genes > 200 AND n_genes < 2500 AND pct_mt < 5", verbose = FALSE)
  find_hvg(x, n = 2000, verbose = FALSE)
  run_pca(x, device = "cpu", verbose = FALSE)
  cpu <- pca(x)
  cpu_variance <- pca_variance(x)
  # 2,638 cells of 60 f32 in 64 KiB bindings: 10 tiles.
  expect_message(with_lavapipe(run_pca(x, device = "gpu")), "on gpu: llvmpipe")
  gpu <- pca(x)
  expect_identical(gpu$cell_id, cpu$cell_id)
  r <- sapply(1:10, function(k) abs(stats::cor(gpu[[k + 1]], cpu[[k + 1]])))
  expect_gte(min(r), 0.9999)
  expect_lte(max(abs(pca_variance(x)$variance_ratio - cpu_variance$variance_ratio)), 1e-5)
  expect_lte(max(abs(pca_variance(x)$stdev - cpu_variance$stdev) / cpu_variance$stdev), 1e-5)
  expect_match(steps(x)$params[steps(x)$step == "pca"], "on gpu: llvmpipe")
  with_lavapipe(run_pca(x, device = "gpu", verbose = FALSE))
  expect_identical(pca(x), gpu)
})

test_that("find_neighbors on a store records the device in the step", {
  skip_without_lavapipe()
  x <- ingest_mtx(simulate_counts(800, 500, path = tempfile(), seed = 3), tempfile(), min_cells = 3,
                  verbose = FALSE)
  x |> find_hvg(n = 300, verbose = FALSE) |> run_pca(n_pcs = 10, verbose = FALSE)
  find_neighbors(x, k = 15, n_pcs = 10, method = "exact", device = "cpu", verbose = FALSE)
  cpu <- neighbors(x)
  with_lavapipe(find_neighbors(x, k = 15, n_pcs = 10, device = "gpu", verbose = FALSE))
  expect_identical(neighbors(x)$index, cpu$index)
  params <- steps(x)$params[steps(x)$step == "neighbors"]
  expect_match(params, "exact on gpu: llvmpipe")
})

test_that("without a hardware GPU, auto runs on the CPU and says so once; gpu is an error", {
  info <- gpu_info()
  skip_if(any(!info$software), "a hardware GPU is present")
  set.seed(1)
  emb <- matrix(rnorm(20000 * 5), ncol = 5)
  rm(list = ls(getFromNamespace("gpu_notes", "cellstream")), envir = getFromNamespace("gpu_notes", "cellstream"))
  expect_message(a <- find_neighbors(emb, k = 10, device = "auto"), "No GPU adapter found")
  expect_equal(a$device, "cpu (no GPU adapter found)")
  expect_equal(a$method, "nndescent")
  expect_no_message(find_neighbors(emb, k = 10, device = "auto"), message = "No GPU adapter")
  expect_error(find_neighbors(emb[1:100, ], k = 10, device = "gpu", verbose = FALSE),
               "no GPU adapter was found: install your GPU's Vulkan driver")
  expect_error(with_lavapipe(find_neighbors(emb[1:100, ], k = 10, method = "hnsw", device = "gpu")),
               "the GPU searches neighbours exactly")
  old <- options(cellstream.gpu_adapter = "no-such-adapter")
  on.exit(options(old))
  expect_error(find_neighbors(emb[1:100, ], k = 10, device = "gpu", verbose = FALSE),
               "no-such-adapter")
  expect_error(find_neighbors(emb[1:100, ], k = 10, device = "tpu"), "`device` must be")
})

test_that("a shader the device rejects is an R error, and R goes on", {
  skip_without_lavapipe()
  bad <- "@compute @workgroup_size(64) fn main() { let active = 1u; }"
  expect_error(with_lavapipe(gpu_compile(bad)), "the GPU .* failed in compiling a shader.*reserved")
  good <- "@compute @workgroup_size(64) fn main() { }"
  expect_match(with_lavapipe(gpu_compile(good)), "llvmpipe")
})

test_that("the GPU's exact neighbours are the CPU's on 20,000 simulated cells", {
  skip_without_lavapipe()
  x <- ingest_mtx(simulate_counts(20000, 1000, path = tempfile(), seed = 5), tempfile(), min_cells = 3,
                  verbose = FALSE)
  x |> find_hvg(n = 500, verbose = FALSE) |> run_pca(n_pcs = 10, verbose = FALSE)
  emb <- as.matrix(pca(x)[, -1])
  cpu <- find_neighbors(emb, k = 20, method = "exact", device = "cpu", verbose = FALSE)
  gpu <- with_lavapipe(find_neighbors(emb, k = 20, device = "gpu", verbose = FALSE))
  expect_identical(gpu$index, cpu$index)
  expect_lte(max(abs(gpu$distance - cpu$distance) / pmax(cpu$distance, 1e-12)), 1e-5)
})

test_that("GPU UMAP of Seurat's PBMC3k PCs is as trustworthy as the CPU's and repeats bit for bit", {
  skip_without_lavapipe()
  skip_if_not_installed("cluster")
  pcs <- reference_csv("pbmc3k_seurat", "pca_embedding.csv")[, 1:10]
  clusters <- utils::read.csv(skip_without_shared("reference", "pbmc3k_seurat", "obs.csv"),
                              row.names = 1)[rownames(pcs), "seurat_clusters"]
  cpu <- run_umap(pcs, n_neighbors = 30, threads = 1, device = "cpu", verbose = FALSE)
  gpu <- with_lavapipe(run_umap(pcs, n_neighbors = 30, device = "gpu", verbose = FALSE))
  expect_match(attr(gpu, "device"), "^gpu: llvmpipe")
  expect_equal(attr(cpu, "device"), "cpu")
  again <- with_lavapipe(run_umap(pcs, n_neighbors = 30, device = "gpu", verbose = FALSE))
  expect_identical(again, gpu)
  expect_lt(abs(trustworthiness(pcs, gpu) - trustworthiness(pcs, cpu)), 0.01)
  expect_lt(abs(mean_silhouette(gpu, clusters) - mean_silhouette(cpu, clusters)), 0.02)
})
