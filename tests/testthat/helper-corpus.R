# The corpus of malformed inputs: each case writes one bad input (or gives a bad argument)
# and names the pattern its error must match. Families: MTX headers, MTX entries at several
# positions, names (NUL bytes, repeats, empty), compressed files cut short, and arguments.

corpus_genes <- 6
corpus_cells <- 5
corpus_lines <- c("1 1 3", "2 1 1", "4 2 2", "3 3 5", "6 4 1", "5 5 2", "2 5 7")

# A 10x directory from matrix lines, header fields and name files; gzip = TRUE compresses all.
corpus_dir <- function(lines = corpus_lines, dims = sprintf("%d %d %d", corpus_genes, corpus_cells, length(lines)),
                       banner = "%%MatrixMarket matrix coordinate integer general",
                       genes = sprintf("G%d\tS%d", seq_len(corpus_genes), seq_len(corpus_genes)),
                       barcodes = sprintf("C%d", seq_len(corpus_cells)), raw_barcodes = NULL) {
  dir <- tempfile("bad_")
  dir.create(dir)
  writeLines(c(banner, dims, lines), file.path(dir, "matrix.mtx"))
  writeLines(genes, file.path(dir, "genes.tsv"))
  if (is.null(raw_barcodes)) writeLines(barcodes, file.path(dir, "barcodes.tsv"))
  else writeBin(raw_barcodes, file.path(dir, "barcodes.tsv"))
  dir
}

# Replaces entry `k` of the valid matrix lines.
with_entry <- function(k, line) {
  lines <- corpus_lines
  lines[k] <- line
  corpus_dir(lines)
}

bad_input_corpus <- function() {
  cases <- list()
  add <- function(name, pattern, make, ...) {
    cases[[length(cases) + 1]] <<- list(name = name, pattern = pattern, make = make, args = list(...))
  }
  # Headers.
  add("no banner", "MatrixMarket", function() corpus_dir(banner = "% just a comment"))
  add("complex field", "complex", function() corpus_dir(banner = "%%MatrixMarket matrix coordinate complex general"))
  add("array layout", "array", function() corpus_dir(banner = "%%MatrixMarket matrix array integer general"))
  add("not a matrix", "MatrixMarket", function() corpus_dir(banner = "%%MatrixMarket vector coordinate integer general"))
  add("size line missing", "dimension mismatch: .* declares 1 genes x 1 cells", function() corpus_dir(dims = NULL))
  add("size line of text", "size line|header|number", function() corpus_dir(dims = "six five seven"))
  add("two size fields", "size line|header", function() corpus_dir(dims = "6 5"))
  add("negative size", "size line|header|number", function() corpus_dir(dims = "-6 5 7"))
  for (d in c("5 5 7", "7 5 7", "6 4 7", "6 6 7")) {
    # Each case keeps its own value: closures made in a loop see the loop's last one.
    add(paste("shape", d), "dimension mismatch", local({ d2 <- d; function() corpus_dir(dims = d2) }))
  }
  for (nnz in c(6, 8, 0, 100)) {
    add(paste("announces", nnz, "entries"), if (nnz == 0) "is an empty matrix" else sprintf("declares %d non-zeros in its header but holds 7", nnz),
        local({ n2 <- nnz; function() corpus_dir(dims = sprintf("6 5 %d", n2)) }))
  }
  # Entries, each kind of damage at three positions.
  kinds <- list(
    c("gene index past the end", "7 %d 1", "out of range|outside|exceeds|beyond"),
    c("cell index past the end", "1 6 1", "out of range|outside|exceeds|beyond"),
    c("zero gene index", "0 %d 1", "out of range|outside|1-based|zero|index"),
    c("negative count", "1 %d -4", "negative"),
    c("fractional count", "1 %d 2.5", "whole number|integer|not whole"),
    c("text count", "1 %d many", "number|parse|invalid"),
    c("missing count", "1 %d", "fields|columns|values|expected"),
    c("extra field", "1 %d 2 9", "fields|columns|values|expected"),
    c("NaN count", "1 %d nan", "number|parse|invalid|finite|NaN"),
    c("huge count", "1 %d 99999999999999", "too large|exceeds|overflow|range|number")
  )
  for (kind in kinds) {
    for (k in c(1, 3, 5, 7)) {
      line <- if (grepl("%d", kind[2])) sprintf(kind[2], c(1, 3, 3, 5)[match(k, c(1, 3, 5, 7))]) else kind[2]
      add(sprintf("%s (entry %d)", kind[1], k), kind[3], local({ l <- line; k2 <- k; function() with_entry(k2, l) }))
    }
  }
  for (k in c(2, 5, 7)) {
    add(sprintf("repeated entry %d", k), "appears twice|duplicate|repeat", local({
      k2 <- k; function() corpus_dir(c(corpus_lines, corpus_lines[k2]), dims = "6 5 8") }))
  }
  # Names.
  for (k in seq_len(corpus_cells)) {
    add(sprintf("NUL byte in barcode %d", k), sprintf("cell id number %d .*contains a NUL byte", k), local({
      k2 <- k
      function() {
        raw <- unlist(lapply(seq_len(corpus_cells), function(i) {
          if (i == k2) c(charToRaw("C"), as.raw(0), charToRaw(paste0(i, "\n"))) else charToRaw(paste0("C", i, "\n"))
        }))
        corpus_dir(raw_barcodes = raw)
      }
    }))
  }
  for (k in 2:corpus_cells) {
    add(sprintf("barcode %d repeats barcode 1", k), "barcode 'C1' appears twice", local({
      k2 <- k; function() { b <- sprintf("C%d", seq_len(corpus_cells)); b[k2] <- "C1"; corpus_dir(barcodes = b) } }))
  }
  for (k in 2:corpus_genes) {
    add(sprintf("gene %d repeats gene 1", k), "gene id 'G1' appears twice", local({
      k2 <- k; function() { g <- sprintf("G%d\tS%d", seq_len(corpus_genes), seq_len(corpus_genes)); g[k2] <- "G1\tS1"; corpus_dir(genes = g) } }))
  }
  for (k in c(1, 3, 5)) {
    add(sprintf("empty barcode %d", k), "empty|barcode", local({
      k2 <- k; function() { b <- sprintf("C%d", seq_len(corpus_cells)); b[k2] <- ""; corpus_dir(barcodes = b) } }))
  }
  # Compressed files cut short.
  for (f in c("matrix.mtx", "genes.tsv", "barcodes.tsv")) {
    for (keep in c(0.3, 0.6, 0.9)) {
      add(sprintf("%s.gz cut at %d%%", f, 100 * keep), "incomplete deflate stream|unexpected end|corrupt|end of file", local({
        f2 <- f; keep2 <- keep
        function() {
          dir <- corpus_dir(lines = c(corpus_lines, rep("6 5 1", 0)))
          for (name in c("matrix.mtx", "genes.tsv", "barcodes.tsv")) {
            p <- file.path(dir, name)
            bytes <- readBin(p, "raw", file.size(p))
            con <- gzfile(paste0(p, ".gz"), "wb"); writeBin(bytes, con); close(con)
            file.remove(p)
          }
          gz <- file.path(dir, paste0(f2, ".gz"))
          z <- readBin(gz, "raw", file.size(gz))
          writeBin(z[seq_len(floor(length(z) * keep2))], gz)
          if (f2 == "genes.tsv") file.rename(gz, file.path(dir, "features.tsv.gz"))
          dir
        }
      }))
    }
  }
  # Arguments.
  good <- function() corpus_dir()
  add("store = NA", "`store` must be a single string, not NA", good, store = NA_character_)
  add("store = NULL", "`store` must be a single string", good, store = NULL)
  add("store = 3", "`store` must be a single string", good, store = 3)
  add("two stores", "`store` must be a single string", good, store = c("a", "b"))
  add("store = ''", "`store` must be a path, not an empty string", good, store = "")
  add("min_cells = -1", "`min_cells` must be a non-negative whole number", good, min_cells = -1)
  add("min_cells = NA", "`min_cells` must be a single number", good, min_cells = NA)
  add("min_genes = 'a'", "`min_genes` must be a single number", good, min_genes = "a")
  add("min_counts = 1.5", "`min_counts` must be a non-negative whole number", good, min_counts = 1.5)
  add("min_counts = c(1, 2)", "`min_counts` must be a single number", good, min_counts = c(1, 2))
  add("target_sum = 0", "target_sum must be a positive number", good, target_sum = 0)
  add("target_sum = Inf", "target_sum must be a positive number", good, target_sum = Inf)
  add("target_sum = NA", "`target_sum` must be a single number", good, target_sum = NA_real_)
  add("genes = 'all'", "should be one of|`genes` must be", good, genes = "all")
  add("path = NA", "`path` must not contain NA|does not exist|is not a directory", function() NA_character_)
  add("path names nothing", "`path` names no input", function() character())
  add("features without barcodes", "give both `features` and `barcodes`", good,
      features = "genes.tsv")
  cases
}
