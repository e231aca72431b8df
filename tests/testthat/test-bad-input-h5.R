# Bad HDF5 input: clear errors, nothing left behind, no HDF5 error stack on the console.

expect_h5_error <- function(ingest, file, pattern, ...) {
  parent <- tempfile("parent_")
  dir.create(parent)
  expect_error(ingest(file, file.path(parent, "store"), ...), pattern, class = "cellstream_error")
  expect_only_files(parent)
}

bad_h5ad_files <- function() {
  dir <- tempfile("bad_h5_")
  dir.create(dir)
  run_python('
import sys, anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp, h5py
out = sys.argv[1]
X = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 0]], dtype=np.float32))
a = ad.AnnData(X, obs=pd.DataFrame(index=["c1", "c2"]), var=pd.DataFrame(index=["g1", "g2", "g3"]))
a.write_h5ad(out + "/good.h5ad")
for name, edit in {
    "no_x": lambda f: f.__delitem__("X"),
    "shape": lambda f: f["X"].attrs.__setitem__("shape", np.array([2, 4])),
    "coo": lambda f: f["X"].attrs.__setitem__("encoding-type", "coo_matrix"),
    "indptr": lambda f: f["X"]["indptr"].__setitem__(2, 7),
    "utf8": lambda f: (f["obs"].__delitem__("_index"), f["obs"].create_dataset("_index",
        data=np.array([b"c1", b"c\\xff"], dtype="S2"))),
    "column": lambda f: (f["obs"].create_group("weird").attrs.__setitem__("encoding-type", "awkward-array"),
                         f["obs"].attrs.__setitem__("column-order", np.array(["weird"],
                             dtype=object).astype(h5py.string_dtype()))),
}.items():
    import shutil; shutil.copy(out + "/good.h5ad", out + "/" + name + ".h5ad")
    with h5py.File(out + "/" + name + ".h5ad", "r+") as f: edit(f)
with h5py.File(out + "/not10x.h5", "w") as f: f.create_group("foo")["bar"] = np.arange(3)
with h5py.File(out + "/nofeatures.h5", "w") as f:
    g = f.create_group("matrix"); g["shape"] = np.array([3, 2]); g["barcodes"] = np.array([b"A", b"B"])
', dir)
  dir
}

test_that("a control h5ad ingests", {
  dir <- bad_h5ad_files()
  x <- ingest_h5ad(file.path(dir, "good.h5ad"), tempfile())
  expect_equal(as.matrix(counts(x)), matrix(c(1, 0, 2, 0, 3, 0), 3, dimnames = list(c("g1", "g2", "g3"),
      c("c1", "c2"))))
})

test_that("bad h5ad files are refused with a message naming the problem", {
  dir <- bad_h5ad_files()
  f <- function(name) file.path(dir, name)
  expect_h5_error(ingest_h5ad, f("no_x.h5ad"),
                  "holds no raw counts .*layers/counts is absent, raw/X is absent, X is absent")
  expect_h5_error(ingest_h5ad, f("no_x.h5ad"), "has no matrix 'X'", counts = "X")
  expect_h5_error(ingest_h5ad, f("shape.h5ad"), "matrix 'X' is 2 x 4 but obs has 2 cells and var has 3 genes")
  expect_h5_error(ingest_h5ad, f("coo.h5ad"),
                  "matrix 'X' has encoding \"coo_matrix\"; cellstream reads csr_matrix, csc_matrix and dense")
  expect_h5_error(ingest_h5ad, f("indptr.h5ad"),
                  "indptr must start at 0 and never decrease|indptr ends at 7 but data holds 3")
  expect_h5_error(ingest_h5ad, f("utf8.h5ad"),
                  "'/obs/_index' holds a string that is not valid UTF-8 \\(element 2\\)")
  expect_h5_error(ingest_h5ad, f("column.h5ad"), "column 'weird': unknown encoding 'awkward-array'")
  expect_h5_error(ingest_h5ad, f("good.h5ad"), "has no matrix 'layers/spliced'", counts = "layers/spliced")
})

test_that("non-HDF5, truncated and non-10x files", {
  dir <- bad_h5ad_files()
  text <- tempfile(fileext = ".h5ad")
  writeLines("not hdf5", text)
  expect_h5_error(ingest_h5ad, text, "is not an HDF5 file, so it cannot be an h5ad file")
  expect_h5_error(ingest_10x_h5, text, "is not an HDF5 file, so it cannot be an 10x HDF5 file")
  expect_h5_error(ingest_h5ad, file.path(dir, "missing.h5ad"), "does not exist")
  expect_h5_error(ingest_10x_h5, file.path(dir, "not10x.h5"),
                  "is not a 10x HDF5 file: it has neither a /matrix group")
  expect_h5_error(ingest_10x_h5, file.path(dir, "nofeatures.h5"), "has no group '/matrix/features'")

  src <- pbmc_h5ad()
  truncated <- tempfile(fileext = ".h5ad")
  bytes <- readBin(src, "raw", file.size(src))
  writeBin(bytes[seq_len(length(bytes) %/% 2)], truncated)
  expect_h5_error(ingest_h5ad, truncated,
                  paste0("cannot open .* as HDF5 \\(truncated or damaged file\\?\\): unable to open ",
                      "file: truncated file"))
  # The HDF5 library's own error stack never reaches the console.
  out <- system2(file.path(R.home("bin"), "Rscript"),
                 c("-e", shQuote(sprintf("try(cellstream::ingest_h5ad('%s', tempfile()))", truncated))),
                 stdout = TRUE, stderr = TRUE)
  expect_true(any(grepl("truncated or damaged", out)))
  expect_false(any(grepl("HDF5-DIAG|#000|H5Fopen", out)))
})
