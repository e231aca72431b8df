# Progress bars (cli) for the engine's long passes. The binding calls the reporter, on R's
# main thread and at most ~10 times a second, with the task, the units done and the units in
# all (0: not known in advance); a new task ends the previous task's bar. In a console that
# redraws (RStudio, a terminal) every call moves the bar; elsewhere (Rscript into a log
# file, knitr) a line is written only at each fifth of the task (for a task of unknown size,
# after 10, 20, 40, ... seconds), so a log gets a few lines per pass, not one per update.
# `verbose = FALSE` or `options(cellstream.progress = FALSE)` shows no bar.
progress_reporter <- function(verbose, envir = parent.frame()) {
  if (!isTRUE(verbose) || !isTRUE(getOption("cellstream.progress", TRUE))) return(NULL)
  redraws <- cli::is_dynamic_tty()
  bar <- NULL
  task <- NULL
  started <- NULL
  fifth <- -1
  finished <- FALSE
  start <- function(name, total) {
    if (!is.null(bar) && !finished) cli::cli_progress_done(id = bar, .envir = envir)
    known <- total > 0
    # Counts with thousands separators (base R only: cli evaluates this in the caller's frame).
    count <- function(what) sprintf("{format(cli::pb_%s, big.mark = ',', scientific = FALSE)}", what)
    # A log line needs no bar, and cli cuts lines at the console width (80 in a log).
    bar_or_percent <- if (redraws) "{cli::pb_bar} " else ""
    format <- if (known) {
      paste0("{cli::pb_name} ", bar_or_percent, count("current"), "/", count("total"),
             " ({cli::pb_percent}) | ETA: {cli::pb_eta}")
    } else {
      "{cli::pb_name} {cli::pb_spin} {cli::pb_elapsed}"
    }
    bar <<- cli::cli_progress_bar(name = name, total = if (known) total else NA, format = format,
                                  clear = FALSE, .envir = envir)
    task <<- name
    started <<- Sys.time()
    fifth <<- -1
    finished <<- FALSE
  }
  function(name, done, total) {
    tryCatch({
      if (!identical(name, task)) start(name, total)
      if (finished) return(invisible())
      ends <- total > 0 && done >= total
      # A task of unknown size learns its total at its end.
      all <- if (total > 0) total else NA
      if (redraws) {
        cli::cli_progress_update(id = bar, set = done, total = all, .envir = envir)
      } else {
        elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))
        # Unknown totals: a line after 10, 20, 40, 80, ... s.
        now_fifth <- if (total > 0) floor(5 * done / total) else floor(log2(max(elapsed, 5) / 5))
        shown <- elapsed >= getOption("cli.progress_show_after", 2)
        if (now_fifth > fifth || ends) {
          fifth <<- now_fifth
          cli::cli_progress_update(id = bar, set = done, total = all, force = shown && !ends, .envir = envir)
        }
      }
      finished <<- ends
    }, error = function(e) NULL)
    invisible()
  }
}
