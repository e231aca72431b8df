# Export: h5ad read back by anndata, Seurat and SingleCellExperiment objects.

test_that("store -> write_h5ad -> anndata: counts, obs, var identical", {
  py <- peer_python()
  dir <- tempfile("export_")
  dir.create(dir)
  a <- write_mtx(c("1 1 3", "2 2 1", "3 2 7"), 3, 2, genes = c("G1", "G2", "G3"), barcodes = c("AAA", "BBB"))
  b <- write_mtx(c("1 1 5", "2 1 2"), 2, 1, genes = c("G3", "G2"), barcodes = "AAA")
  x <- ingest_mtx(c(s1 = a, s2 = b), tempfile())
  set_keep(x, c(TRUE, FALSE, TRUE))
  out <- file.path(dir, "x.h5ad")
  write_h5ad(x, out, layer = c("raw", "norm"))
  expect_error(write_h5ad(x, out), "already exists", class = "cellstream_error")
  dumped <- run_python('
import sys, anndata as ad, numpy as np
a = ad.read_h5ad(sys.argv[1])
print(a.shape)
print(",".join(a.obs_names)); print(",".join(a.var_names))
print(",".join(map(str, a.X.toarray().ravel())))
print(",".join(f"{v:.4f}" for v in a.layers["logcounts"].toarray().ravel()))
for c in a.obs.columns: print(c, a.obs[c].dtype, ",".join(map(str, a.obs[c])))
for c in a.var.columns: print(c, a.var[c].dtype, ",".join(map(str, a.var[c])))
', out)
  expect_identical(dumped[1:4], c("(2, 3)", "s1_AAA,s2_AAA", "G1,G2,G3", "3.0,0.0,0.0,0.0,2.0,5.0"))
  norm <- as.matrix(counts(x, cells = c(1, 3), layer = "norm"))
  expect_equal(as.numeric(strsplit(dumped[5], ",")[[1]]), as.vector(norm), tolerance = 1e-4)
  expect_true("sample category s1,s2" %in% dumped)
  expect_true("n_counts int64 3,7" %in% dumped)
  expect_true("keep bool True,True" %in% dumped)
  expect_true("symbol object SYMG1,SYMG2,SYMG3" %in% dumped)
  expect_true("n_cells int64 1,2,2" %in% dumped)

  # and back: the exported file ingests to the same counts, obs and var
  back <- ingest_h5ad(out, tempfile())
  expect_identical(unname(counts(back)), unname(counts(x, cells = c(1, 3))))
  expect_identical(obs(back)$sample, factor(c("s1", "s2")))
  expect_identical(obs(back)$n_counts_input, c(3L, 7L))
  expect_identical(var(back)$symbol, var(x)$symbol)
})

test_that("PBMC3k round trip through anndata keeps every count", {
  py <- peer_python()
  x <- ingest_h5ad(pbmc_h5ad(), tempfile())
  out <- tempfile(fileext = ".h5ad")
  write_h5ad(x, out)
  res <- run_python('
import sys, anndata as ad, numpy as np
b = ad.read_h5ad(sys.argv[1]); a = ad.read_h5ad(sys.argv[2])
print(a.shape == b.shape, (a.obs_names == b.obs_names).all(),
      (b.var_names.values == a.var["gene_ids"].values).all(),
      (b.var["symbol"].values == a.var_names.values).all(), abs(a.X - b.X).sum() == 0)
# scipy wants one integer type for indices and indptr (its sparsetools refuse a mix).
print(b.X.indices.dtype == b.X.indptr.dtype == np.int32); b.X.eliminate_zeros()
', out, pbmc_h5ad())
  expect_identical(res, c("True True True True True", "True"))
})

test_that("as_Seurat and as_SingleCellExperiment carry counts, data and metadata", {
  x <- ingest_mtx(write_mtx(c("1 1 3", "2 1 1", "1 2 2", "3 2 5", "2 3 1"), 3, 3), tempfile())
  set_keep(x, c(TRUE, TRUE, FALSE))
  if (requireNamespace("SeuratObject", quietly = TRUE)) {
    s <- as_Seurat(x)
    expect_equal(dim(s), c(3, 2))
    expect_equal(as.matrix(SeuratObject::GetAssayData(s, slot = "counts")), as.matrix(counts(x, cells = 1:2)))
    expect_equal(as.matrix(SeuratObject::GetAssayData(s, slot = "data")), as.matrix(counts(x, cells = 1:2,
        layer = "norm")))
    expect_equal(s$n_counts, c(C1 = 4, C2 = 7))
  }
  if (requireNamespace("SingleCellExperiment", quietly = TRUE)) {
    sce <- as_SingleCellExperiment(x, genes = c("G1", "G3"))
    expect_equal(dim(sce), c(2, 2))
    expect_equal(as.matrix(SummarizedExperiment::assay(sce, "counts")), as.matrix(counts(x, cells = 1:2,
        genes = c(1, 3))))
    expect_equal(SummarizedExperiment::colData(sce)$n_genes, c(2L, 2L))
    expect_equal(SummarizedExperiment::rowData(sce)$symbol, c("SYMG1", "SYMG3"))
  }
  if (!requireNamespace("SeuratObject", quietly = TRUE) && !requireNamespace("SingleCellExperiment",
      quietly = TRUE)) {
    skip("neither SeuratObject nor SingleCellExperiment is installed")
  }
})
