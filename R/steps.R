#' Analysis steps recorded in a store
#'
#' Every result (QC metrics, outlier calls, highly variable genes, ...) is recorded with the
#' kept-cell generation it was computed on and the results it used. A result is stale when
#' the kept cells changed since (for steps on kept cells) or when a result it used was
#' recomputed; stale results cannot be used until their step is rerun.
#'
#' @param x A store.
#' @return A data.frame: `step`, `params`, `generation` (NA for steps on all cells),
#'   `current`, `stale_because`, `rerun` (the call that refreshes it), `columns` (the obs/var
#'   columns it wrote, as `table.column`).
#' @export
steps <- function(x) {
  as_data_frame(rust(wrap__cs_steps, x$path))
}

# `gene_id`, `symbol` and the var columns of a step, which must be current; genes in store
# order, those meeting the SQL condition `where`.
step_genes <- function(x, step, where = "TRUE") {
  rust(wrap__cs_require_current, x$path, step)
  s <- steps(x)
  columns <- in_table(s$columns[s$step == step], "var")
  sql(x, sprintf("SELECT gene_id, symbol, %s FROM var WHERE %s ORDER BY gene_index",
                 paste(sprintf('"%s"', columns), collapse = ", "), where))
}

# Column names in `table` from steps' "table.column,..." lists.
in_table <- function(entries, table) {
  cols <- unlist(strsplit(entries, ",", fixed = TRUE))
  sub("^[a-z]+\\.", "", cols[startsWith(cols, paste0(table, "."))])
}

# Columns of stale steps in `table`, which obs() and var() leave out (with a message).
stale_columns <- function(x, table) {
  s <- steps(x)
  s <- s[!s$current, , drop = FALSE]
  hidden <- character()
  for (k in seq_len(nrow(s))) {
    cols <- in_table(s$columns[k], table)
    if (length(cols) > 0) {
      message(sprintf("%s(): leaving out %s, stale because %s; rerun %s", table,
                      paste(cols, collapse = ", "), s$stale_because[k], s$rerun[k]))
      hidden <- c(hidden, cols)
    }
  }
  hidden
}

# Stops unless obs column `column` is a base column or the current result of its step.
require_current_column <- function(x, column) {
  s <- steps(x)
  writer <- s$step[vapply(s$columns, function(cols) column %in% in_table(cols, "obs"), logical(1))]
  if (length(writer) > 0) rust(wrap__cs_require_current, x$path, writer[1])
  invisible(TRUE)
}
