#' Read counts or normalised values as a sparse matrix
#'
#' Reads only the chunks needed, through the layout that suits the request: a few cells from
#' the cell-major file, a few genes from the gene-major file (whichever touches fewer
#' non-zeros).
#'
#' @param x A store.
#' @param cells,genes `NULL` (all), a logical mask, 1-based positions, or names (cell ids;
#'   gene ids or unique gene symbols). The result keeps the order given.
#' @param layer `"raw"` counts or `"norm"` values (`log1p(count / library size * target_sum)`,
#'   stored as 16-bit floats: about 3 significant digits).
#' @return A genes x cells `dgCMatrix` with gene ids and cell ids as dimnames.
#' @export
counts <- function(x, cells = NULL, genes = NULL, layer = c("raw", "norm")) {
  layer <- match.arg(layer)
  cells <- cell_positions(x, cells)
  genes <- gene_positions(x, genes)
  m <- rust(wrap__cs_counts, x$path, rust_index(cells), rust_index(genes), layer)
  # Matrix is loaded only here: attaching it with the package would cost ~150 MB of memory.
  Matrix::sparseMatrix(i = m$i, p = as.integer(m$p), x = m$x, dims = m$dim, index1 = FALSE,
                       dimnames = list(m$gene_ids, m$cell_ids), repr = "C")
}

#' Values of a few genes in every cell
#'
#' One gene-major chunk per gene: fast whatever the number of cells.
#'
#' @inheritParams counts
#' @param genes Gene ids, unique symbols or 1-based positions.
#' @param layer `"norm"` (default, for plotting) or `"raw"`.
#' @return A data.frame with `cell_id` and one column per requested gene (named as given).
#' @export
gene_values <- function(x, genes, layer = c("norm", "raw")) {
  layer <- match.arg(layer)
  pos <- gene_positions(x, genes)
  values <- rust(wrap__cs_gene_values, x$path, rust_index(pos), layer)
  names(values) <- as.character(genes)
  cbind(data.frame(cell_id = cell_ids(x), stringsAsFactors = FALSE), as_data_frame(values))
}

# A selection of the store's cells or genes (see resolve_index()) as 1-based positions;
# genes may also be named by unique symbol.
cell_positions <- function(x, cells) resolve_index(cells, x$dim[1], "cells", function() cell_ids(x))
gene_positions <- function(x, genes) {
  resolve_index(genes, x$dim[2], "genes", function() gene_ids(x), function() gene_symbols(x))
}
