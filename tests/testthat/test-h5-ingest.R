# h5ad and 10x HDF5 ingest, checked against the MTX ingest of the same data (../shared).

pbmc_mtx_store <- function() ingest_mtx(pbmc_dir(), tempfile("pbmc_mtx_"))
pbmc_dir <- function() skip_without_shared("data", "pbmc3k", "filtered_gene_bc_matrices", "hg19")

test_that("PBMC3k h5ad gives the store of the MTX ingest (counts, obs, var)", {
  h5ad <- pbmc_h5ad()
  expect_message(x <- ingest_h5ad(h5ad, tempfile("pbmc_h5ad_")),
                 "counts read from X \\(layers/counts is absent, raw/X is absent\\)")
  m <- pbmc_mtx_store()
  expect_same_store(x, m)
  # anndata made duplicated symbols unique ("TBCE-1"); all others are the MTX symbols.
  differ <- var(x)$symbol != var(m)$symbol
  expect_equal(sum(differ), 95)
  expect_identical(sub("-[0-9]+$", "", var(x)$symbol[differ]), var(m)$symbol[differ])
})

test_that("PBMC3k 10x HDF5 gives the store of the MTX ingest", {
  h5 <- skip_without_shared("data", "pbmc3k", "pbmc3k_filtered_gene_bc_matrices_h5_CONVERTED.h5")
  x <- ingest_10x_h5(h5, tempfile("pbmc_h5_"))
  expect_same_store(x, pbmc_mtx_store(), var_cols = c("gene_id", "symbol", "feature_type", "n_cells",
                                                      "n_counts"))
  expect_identical(unique(var(x)$genome), "hg19")
})

test_that("genuine Cell Ranger 2 HDF5 files: one genome, several genomes combined or chosen", {
  dir <- skip_without_shared("data", "10x_h5", "1.2.0")
  x <- ingest_10x_h5(file.path(dir, "filtered_gene_bc_matrices_h5.h5"), tempfile())
  expect_equal(dim(x), c(12, 343))
  mtx <- ingest_mtx(file.path(dir, "filtered_gene_bc_matrices", "hg19_chr21"), tempfile())
  expect_same_store(x, mtx, var_cols = c("gene_id", "symbol", "n_cells", "n_counts"))

  both <- ingest_10x_h5(file.path(dir, "multiple_genomes.h5"), tempfile())
  expect_equal(dim(both), c(12, 686))
  v <- var(both)
  expect_equal(as.vector(table(v$genome)), c(343, 343))
  expect_true(all(startsWith(v$gene_id, paste0(v$genome, "_"))))
  one <- ingest_10x_h5(file.path(dir, "multiple_genomes.h5"), tempfile(), genome = "another_genome")
  other <- ingest_10x_h5(file.path(dir, "multiple_genomes.h5"), tempfile(), genome = "hg19_chr21")
  expect_equal(dim(one), c(12, 343))
  expect_equal(obs(both)$n_counts, obs(one)$n_counts + obs(other)$n_counts)
  expect_equal(unname(counts(both)), unname(rbind(counts(one), counts(other))))
  expect_error(ingest_10x_h5(file.path(dir, "multiple_genomes.h5"), tempfile(), genome = "mm10"),
               "has no genome 'mm10'; it holds .*another_genome.*hg19_chr21", class = "cellstream_error")
})

test_that("genuine Cell Ranger 3 HDF5: shape and feature types match its MTX", {
  dir <- skip_without_shared("data", "10x_h5", "3.0.0")
  x <- ingest_10x_h5(file.path(dir, "filtered_feature_bc_matrix.h5"), tempfile())
  expect_equal(dim(x), c(1107, 507))
  expect_identical(unique(var(x)$feature_type), "Gene Expression")
  expect_same_store(x, ingest_mtx(file.path(dir, "filtered_feature_bc_matrix"), tempfile()),
                    var_cols = c("gene_id", "symbol", "feature_type", "n_cells", "n_counts"))
  expect_error(ingest_10x_h5(file.path(dir, "filtered_feature_bc_matrix.h5"), tempfile(),
                             feature_types = "Antibody Capture"),
               "feature types .*Antibody Capture.* were asked for; the file holds .*Gene Expression",
               class = "cellstream_error")
})

test_that("h5ad with X stored as CSC, as dense, as integers ingests identically", {
  src <- pbmc_h5ad()
  dir <- tempfile("variants_")
  dir.create(dir)
  run_python('
import sys, anndata as ad, numpy as np
a = ad.read_h5ad(sys.argv[1])
out = sys.argv[2]
b = a.copy(); b.X = b.X.tocsc(); b.write_h5ad(out + "/csc.h5ad")
c = a.copy(); c.X = c.X.toarray(); c.write_h5ad(out + "/dense.h5ad")
d = a.copy(); d.X = d.X.astype(np.int32); d.write_h5ad(out + "/int.h5ad", compression="gzip")
', src, dir)
  x <- ingest_h5ad(src, tempfile())
  expect_same_store(ingest_h5ad(file.path(dir, "csc.h5ad"), tempfile()), x)
  expect_same_store(ingest_h5ad(file.path(dir, "int.h5ad"), tempfile()), x)
  expect_same_store(ingest_h5ad(file.path(dir, "dense.h5ad"), tempfile()), x)
  unlink(dir, recursive = TRUE)
})

test_that("counts = 'auto' finds raw counts and refuses normalised data", {
  src <- pbmc_h5ad()
  dir <- tempfile("norm_")
  dir.create(dir)
  run_python('
import sys, anndata as ad, numpy as np, scipy.sparse as sp
a = ad.read_h5ad(sys.argv[1])[:500, :3000].copy()
out = sys.argv[2]
counts = a.X.copy()
lib = np.asarray(counts.sum(axis=1)).ravel()
norm = sp.diags(1e4 / np.maximum(lib, 1)) @ counts
norm.data = np.log1p(norm.data)
b = a.copy(); b.X = norm.tocsr(); b.write_h5ad(out + "/norm_only.h5ad")
c = a.copy(); c.X = norm.tocsr(); c.layers["counts"] = counts; c.write_h5ad(out + "/layer.h5ad")
d = a.copy(); d.raw = a; d.X = norm.tocsr(); d.write_h5ad(out + "/raw.h5ad")
e = a.copy(); e.X = counts * 1.5; e.write_h5ad(out + "/fractional.h5ad")
', src, dir)
  ref <- ingest_h5ad(file.path(dir, "layer.h5ad"), tempfile(), counts = "layers/counts")
  expect_message(x <- ingest_h5ad(file.path(dir, "layer.h5ad"), tempfile()), "counts read from layers/counts")
  expect_same_store(x, ref)
  expect_message(x <- ingest_h5ad(file.path(dir, "raw.h5ad"), tempfile()),
                 "counts read from raw/X \\(layers/counts is absent\\)")
  expect_same_store(x, ref)
  expect_error(ingest_h5ad(file.path(dir, "norm_only.h5ad"), tempfile()),
               "holds no raw counts .*X holds non-integer values such as .*look normalised",
               class = "cellstream_error")
  expect_error(ingest_h5ad(file.path(dir, "layer.h5ad"), tempfile(), counts = "X"),
               "not a whole number: this looks like normalised data", class = "cellstream_error")
  expect_message(r <- ingest_h5ad(file.path(dir, "fractional.h5ad"), tempfile(), counts = "X",
                                  allow_non_integer = TRUE),
                 "values of X were not whole numbers and were rounded")
  # halves round away from zero
  expect_equal(as.matrix(counts(r)), floor(as.matrix(counts(ref)) * 1.5 + 0.5))
})

test_that("obs and var columns keep their types, in both anndata encodings", {
  dir <- tempfile("types_")
  dir.create(dir)
  run_python('
import sys, anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp, h5py
out = sys.argv[1]
X = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 0], [4, 5, 6], [0, 0, 7]], dtype=np.float32))
obs = pd.DataFrame({
    "cluster": pd.Categorical(["b", "a", "b", None], categories=["b", "a"]),
    "score": [0.5, np.nan, 1.5, 2.0],
    "count": np.array([1, 2, 3, 4], dtype=np.int64),
    "ok": [True, False, True, True],
    "label": ["x", "y", "z", "w"],
    "maybe": pd.array([1, None, 3, 4], dtype="Int64"),
    "n_counts": [9, 9, 9, 9],
}, index=["c1", "c2", "c3", "c4"])
var = pd.DataFrame({"gene_ids": ["E1", "E2", "E3"], "chrom": pd.Categorical(["1", "X", "1"])}, index=["A",
    "B", "C"])
ad.AnnData(X, obs=obs, var=var).write_h5ad(out + "/new.h5ad")
# anndata < 0.7.2: categorical codes as a plain dataset, categories in __categories
with h5py.File(out + "/old.h5ad", "w") as f:
    g = f.create_group("X"); g.attrs["h5sparse_format"] = "csr"; g.attrs["h5sparse_shape"] = np.array([4, 3])
    g["data"] = X.data; g["indices"] = X.indices; g["indptr"] = X.indptr
    o = f.create_group("obs"); o.attrs["_index"] = "index"; o.attrs["column-order"] = np.array(["cluster",
        "score"], dtype=object).astype(h5py.string_dtype())
    o["index"] = np.array(["c1", "c2", "c3", "c4"], dtype="S")
    o["cluster"] = np.array([0, 1, 0, -1], dtype=np.int8)
    o.create_group("__categories")["cluster"] = np.array(["b", "a"], dtype="S")
    o["score"] = np.array([0.5, np.nan, 1.5, 2.0])
    v = f.create_group("var"); v.attrs["_index"] = "index"; v.attrs["column-order"] = np.array([],
        dtype=h5py.string_dtype())
    v["index"] = np.array(["A", "B", "C"], dtype="S")
', dir)
  x <- ingest_h5ad(file.path(dir, "new.h5ad"), tempfile())
  o <- obs(x)
  expect_identical(names(o), c("cell_id", "n_counts", "n_genes", "keep", "cluster", "score", "count", "ok",
                               "label", "maybe", "n_counts_input"))
  expect_identical(o$cell_id, c("c1", "c2", "c3", "c4"))
  expect_identical(o$cluster, factor(c("b", "a", "b", NA), levels = c("b", "a")))
  expect_identical(o$score, c(0.5, NA, 1.5, 2.0))
  expect_identical(o$count, 1:4)
  expect_identical(o$ok, c(TRUE, FALSE, TRUE, TRUE))
  expect_identical(o$label, c("x", "y", "z", "w"))
  expect_identical(o$maybe, c(1L, NA, 3L, 4L))
  expect_identical(o$n_counts_input, rep(9L, 4))
  expect_equal(o$n_counts, c(3, 3, 15, 7))
  v <- var(x)
  expect_identical(v$gene_id, c("E1", "E2", "E3"))
  expect_identical(v$symbol, c("A", "B", "C"))
  expect_identical(v$chrom, factor(c("1", "X", "1")))

  old <- obs(ingest_h5ad(file.path(dir, "old.h5ad"), tempfile()))
  expect_identical(old$cluster, factor(c("b", "a", "b", NA), levels = c("b", "a")))
  expect_identical(old$score, c(0.5, NA, 1.5, 2.0))
})
