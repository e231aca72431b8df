//! The record of analysis steps and their results. Each step writes its result columns to
//! tables of its own (`obs_result_<step>`, `var_result_<step>`, one row per cell / gene);
//! the `obs` and `var` views paste them after the base tables. Rerunning a step replaces its
//! tables: nothing is updated in place, so results of any size stream into the file and
//! never pile up there. The record says which result columns each step wrote, on which
//! kept-cell generation, from which inputs (other steps, by serial number) and with which
//! parameters, and which result files (`<kind>.<id>` in the store folder) hold its output.
//! A result is current when its generation is the store's (for steps that use the kept
//! cells) and each input is still the version it used; otherwise it is stale.

use crate::write::{create_table, own, quote_ident, Values};
use crate::{db_err, MetaDb, Result};
use cellstream_engine::frame::Frame;
use duckdb::{params, Connection};
use std::path::{Path, PathBuf};

/// Table of steps. `files` lists `kind=name` pairs.
const STEPS_DDL: &str = "CREATE TABLE steps (
    step VARCHAR PRIMARY KEY, serial BIGINT NOT NULL, generation BIGINT,
    inputs VARCHAR NOT NULL, params VARCHAR NOT NULL, columns VARCHAR NOT NULL,
    created TIMESTAMP NOT NULL, files VARCHAR NOT NULL)";

/// The kinds of per-cell result file; each run writes its own, named `<kind>.<id>`.
pub const RESULT_KINDS: &[&str] = &[
    crate::pca::EMBEDDING_FILE,
    crate::graph::KNN_FILE,
    crate::graph::SNN_FILE,
    crate::umap::UMAP_FILE,
];

/// What a step writes and what it was computed from.
pub struct StepRecord<'a> {
    pub step: &'a str,
    /// Whether the result depends on the kept cells (stamped with their generation).
    pub uses_kept_cells: bool,
    /// Steps whose results this one used.
    pub inputs: &'a [&'a str],
    /// The parameters, as text for the user (e.g. "method = vst, n = 2000").
    pub params: String,
    /// Further result tables, stored as `<step>_<name>`.
    pub tables: &'a [(&'a str, &'a Frame)],
}

/// A step as `print()` shows it.
#[derive(Clone)]
pub struct StepStatus {
    pub step: String,
    pub params: String,
    pub generation: Option<i64>,
    /// Why the result is stale; None when current.
    pub stale: Option<String>,
    /// "obs.<column>" / "var.<column>" entries, and "table.<name>" for further tables.
    pub columns: Vec<String>,
}

/// The R call that recomputes a step, for messages.
pub fn rerun_hint(step: &str) -> String {
    match step.split_once(':') {
        _ if step == "qc" => "calculate_qc_metrics(x)".into(),
        _ if step == "hvg" => "find_hvg(x)".into(),
        _ if step == "pca" => "run_pca(x)".into(),
        _ if step == "neighbors" => "find_neighbors(x)".into(),
        _ if step == "umap" => "run_umap(x)".into(),
        Some(("outliers", column)) => format!("find_outliers(x, column = \"{column}\")"),
        Some(("leiden", column)) => format!("cluster_leiden(x, name = \"{column}\")"),
        Some(("markers", name)) => format!("find_all_markers(x, name = \"{name}\")"),
        Some(("grn", name)) => format!("infer_grn(x, tfs, name = \"{name}\")"),
        Some(("obs", column)) => format!("set_obs(x, \"{column}\", values)"),
        _ => format!("the {step} step"),
    }
}

fn describe(step: &str) -> String {
    match step.split_once(':') {
        _ if step == "qc" => "QC metrics".into(),
        _ if step == "hvg" => "highly variable genes".into(),
        _ if step == "pca" => "principal components".into(),
        _ if step == "neighbors" => "nearest neighbours".into(),
        _ if step == "umap" => "UMAP coordinates".into(),
        Some(("outliers", column)) => format!("outlier calls in '{column}'"),
        Some(("leiden", column)) => format!("Leiden clusters in '{column}'"),
        Some(("markers", name)) => format!("marker genes '{name}'"),
        Some(("grn", name)) => format!("gene regulatory network '{name}'"),
        Some(("obs", column)) => format!("cell annotations in '{column}'"),
        _ => step.into(),
    }
}

pub(crate) fn create_steps_table(conn: &Connection) -> Result<()> {
    conn.execute_batch(STEPS_DDL)
        .map_err(db_err("cannot create the steps table"))
}

impl MetaDb {
    /// Writes a step's result columns (`obs` rows in cell order, `var` rows in gene order)
    /// as its own result tables, replacing those of its previous run, records the step and
    /// rebuilds the obs / var views; all in one transaction.
    pub fn store_result(&mut self, record: &StepRecord, obs: &Frame, var: &Frame) -> Result<()> {
        self.commit_step(record, obs, var, "")
    }

    fn commit_step(&mut self, record: &StepRecord, obs: &Frame, var: &Frame, files: &str) -> Result<()> {
        let failed = format!("cannot store the {}", describe(record.step));
        let generation = if record.uses_kept_cells {
            Some(self.generation()?)
        } else {
            None
        };
        let inputs = record
            .inputs
            .iter()
            .map(|s| self.serial(s).map(|n| format!("{s}={}", n.unwrap_or(0))))
            .collect::<Result<Vec<_>>>()?
            .join(",");
        for (table, frame) in [("obs", obs), ("var", var)] {
            self.require_free_names(record.step, table, &frame.names)?;
        }
        let previous = self.step_columns(record.step)?;
        let tx = self.conn.transaction().map_err(db_err(&failed))?;
        let mut columns = Vec::new();
        for (table, key, frame) in [("obs", "cell_index", obs), ("var", "gene_index", var)] {
            let results = result_table(table, record.step);
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote_ident(&results)))
                .map_err(db_err(&failed))?;
            if !frame.names.is_empty() {
                create_table(&tx, &results, vec![own(key, "INTEGER", Values::RowNumber)], frame)
                    .map_err(|e| format!("{failed}: {e}"))?;
            }
            columns.extend(frame.names.iter().map(|n| format!("{table}.{n}")));
        }
        for entry in previous.iter().filter(|e| e.starts_with("table.")) {
            tx.execute_batch(&format!(
                "DROP TABLE IF EXISTS {}",
                quote_ident(&entry["table.".len()..])
            ))
            .map_err(db_err(&failed))?;
        }
        for (name, frame) in record.tables {
            let table = format!("{}_{name}", record.step);
            create_table(&tx, &table, vec![], frame).map_err(|e| format!("{failed}: {e}"))?;
            columns.push(format!("table.{table}"));
        }
        tx.execute_batch(
            "INSERT INTO state VALUES ('step_serial', 0) ON CONFLICT DO NOTHING;
                          UPDATE state SET value = value + 1 WHERE key = 'step_serial';",
        )
        .map_err(db_err(&failed))?;
        tx.execute(
            "INSERT OR REPLACE INTO steps SELECT ?, value, ?, ?, ?, ?, now(), ? FROM state WHERE key = \
                'step_serial'",
            params![
                record.step,
                generation,
                inputs,
                record.params,
                columns.join(","),
                files
            ],
        )
        .map_err(db_err(&failed))?;
        rebuild_views(&tx).map_err(|e| format!("{failed}: {e}"))?;
        tx.commit().map_err(db_err(&failed))?;
        self.checkpoint()
    }

    fn serial(&self, step: &str) -> Result<Option<i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT serial FROM steps WHERE step = ?")
            .map_err(db_err("cannot read the steps"))?;
        let mut rows = stmt
            .query(params![step])
            .map_err(db_err("cannot read the steps"))?;
        rows.next()
            .map_err(db_err("cannot read the steps"))?
            .map(|r| r.get(0))
            .transpose()
            .map_err(db_err("cannot read the steps"))
    }

    fn step_columns(&self, step: &str) -> Result<Vec<String>> {
        Ok(self
            .steps()?
            .into_iter()
            .find(|s| s.step == step)
            .map(|s| s.columns)
            .unwrap_or_default())
    }

    /// The step that wrote result column `column` of `table` (obs or var); None for a column
    /// of the base table.
    fn step_writing(&self, table: &str, column: &str) -> Result<Option<String>> {
        let entry = format!("{table}.{column}");
        Ok(self
            .steps()?
            .into_iter()
            .find(|s| s.columns.contains(&entry))
            .map(|s| s.step))
    }

    /// Ok when obs column `column` is a base column or the current result of its step;
    /// returns that step.
    pub fn require_current_column(&self, column: &str) -> Result<Option<String>> {
        let step = self.step_writing("obs", column)?;
        if let Some(step) = &step {
            self.require_current(step)?;
        }
        Ok(step)
    }

    /// Ok when `step` may write result columns `names` to `table` (obs or var): none is taken
    /// (ignoring case) by another step or the base table; its own earlier columns are free.
    pub fn require_free_names(&self, step: &str, table: &str, names: &[String]) -> Result<()> {
        let previous = self.step_columns(step)?;
        let taken: Vec<String> = self
            .columns(table)?
            .into_iter()
            .filter(|c| !previous.contains(&format!("{table}.{c}")))
            .collect();
        match names
            .iter()
            .find(|n| taken.iter().any(|t| t.eq_ignore_ascii_case(n)))
        {
            Some(clash) => Err(format!(
                "cannot store the {}: {table} already has a column '{clash}'; choose another name",
                describe(step)
            )),
            None => Ok(()),
        }
    }

    /// `store_result`, for a step whose results also include files of the store, each given
    /// as its kind and the new file written for this run (see [`new_result_file`]); the record
    /// that names them commits last. On failure the new files are removed.
    pub fn store_result_with_files(
        &mut self,
        record: &StepRecord,
        obs: &Frame,
        var: &Frame,
        files: &[(&str, &Path)],
    ) -> Result<()> {
        let named = files
            .iter()
            .map(|(kind, path)| {
                let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                format!("{kind}={name}")
            })
            .collect::<Vec<_>>()
            .join(",");
        let stored = self.commit_step(record, obs, var, &named);
        if stored.is_err() {
            files
                .iter()
                .for_each(|(_, path)| drop(std::fs::remove_file(path)));
        }
        stored
    }

    /// The file holding `kind` for `step`'s current result, in the store folder `dir`.
    pub fn result_file(&self, step: &str, kind: &str, dir: &Path) -> Result<PathBuf> {
        self.require_current(step)?;
        let files: String = self
            .conn
            .query_row("SELECT files FROM steps WHERE step = ?", params![step], |r| {
                r.get(0)
            })
            .map_err(db_err("cannot read the steps"))?;
        files
            .split(',')
            .find_map(|entry| entry.strip_prefix(kind)?.strip_prefix('='))
            .map(|name| dir.join(name))
            .ok_or_else(|| {
                format!(
                    "the record of {} names no {kind}; rerun {}",
                    describe(step),
                    rerun_hint(step)
                )
            })
    }

    /// The names of every result file a step record names.
    pub(crate) fn result_files(&self) -> Result<Vec<String>> {
        let read = db_err("cannot read the steps");
        let mut stmt = self.conn.prepare("SELECT files FROM steps").map_err(&read)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(&read)?;
        let mut names = Vec::new();
        for files in rows {
            let files = files.map_err(&read)?;
            names.extend(
                files
                    .split(',')
                    .filter_map(|e| Some(e.split_once('=')?.1.to_string())),
            );
        }
        Ok(names)
    }

    /// Every recorded step, in the order they were last run, with whether it is current.
    pub fn steps(&self) -> Result<Vec<StepStatus>> {
        Ok(self.remembered("steps", Self::read_steps)?.to_vec())
    }

    fn read_steps(&self) -> Result<Vec<StepStatus>> {
        let read = db_err("cannot read the steps");
        let current_generation = self.generation()?;
        let mut stmt = self
            .conn
            .prepare("SELECT step, serial, generation, inputs, params, columns FROM steps ORDER BY serial")
            .map_err(&read)?;
        let rows: Vec<(String, i64, Option<i64>, String, String, String)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .map_err(&read)?
            .collect::<std::result::Result<_, _>>()
            .map_err(&read)?;
        let serial_of = |name: &str| rows.iter().find(|r| r.0 == name).map(|r| r.1);
        // In serial order an input comes before the steps that used it, so its own status is
        // known: a result built on a stale input is stale too.
        let mut statuses: Vec<StepStatus> = Vec::with_capacity(rows.len());
        for (step, _, generation, inputs, params, columns) in &rows {
            let mut stale = match generation {
                Some(g) if *g != current_generation => Some(format!(
                    "the kept cells changed since (generation {g}, now {current_generation})"
                )),
                _ => None,
            };
            for input in inputs.split(',').filter(|s| !s.is_empty()) {
                let (name, used) = input.split_once('=').unwrap_or((input, "0"));
                if stale.is_some() {
                    break;
                }
                if serial_of(name).map(|s| s.to_string()) != Some(used.to_string()) {
                    stale = Some(format!("its input, the {}, was recomputed since", describe(name)));
                } else if statuses.iter().any(|s| s.step == name && s.stale.is_some()) {
                    stale = Some(format!("its input, the {}, is stale", describe(name)));
                }
            }
            statuses.push(StepStatus {
                step: step.clone(),
                params: params.clone(),
                generation: *generation,
                stale,
                columns: columns
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
        }
        Ok(statuses)
    }

    /// Ok when `step` has a current result; otherwise an error naming what to rerun.
    pub fn require_current(&self, step: &str) -> Result<()> {
        match self.steps()?.into_iter().find(|s| s.step == step) {
            None => Err(format!(
                "there are no {} in this store yet; run {} first",
                describe(step),
                rerun_hint(step)
            )),
            Some(StepStatus { stale: Some(why), .. }) => Err(format!(
                "the {} are stale: {why}; rerun {}",
                describe(step),
                rerun_hint(step)
            )),
            Some(_) => Ok(()),
        }
    }
}

/// A new file for a result of `kind` in the store folder `dir`, named for this run.
pub fn new_result_file(dir: &Path, kind: &str) -> PathBuf {
    dir.join(format!(
        "{kind}.{}",
        cellstream_engine::store::manifest::new_store_id()
    ))
}

/// The table holding one step's result columns for `obs` or `var`.
fn result_table(table: &str, step: &str) -> String {
    format!("{table}_result_{step}")
}

/// Redefines the `obs` and `var` views: the base table followed by every step's result
/// columns, in the order the steps were run. Result tables hold one row per cell (gene) in
/// the base table's order, so they are pasted side by side (POSITIONAL JOIN, no key lookup).
pub(crate) fn rebuild_views(conn: &Connection) -> Result<()> {
    let err = |e: duckdb::Error| format!("cannot define the obs and var views: {e}");
    let existing: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'")
            .map_err(err)?;
        let names = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
        names.collect::<std::result::Result<_, _>>().map_err(err)?
    };
    let steps: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT step FROM steps ORDER BY serial")
            .map_err(err)?;
        let names = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
        names.collect::<std::result::Result<_, _>>().map_err(err)?
    };
    for (table, key) in [("obs", "cell_index"), ("var", "gene_index")] {
        let parts: Vec<String> = steps
            .iter()
            .map(|s| result_table(table, s))
            .filter(|t| existing.contains(t))
            .collect();
        let select = std::iter::once("b.*".to_string())
            .chain((0..parts.len()).map(|k| format!("r{k}.* EXCLUDE ({key})")))
            .collect::<Vec<_>>()
            .join(", ");
        let from = std::iter::once(format!("{table}_base b"))
            .chain(
                parts
                    .iter()
                    .enumerate()
                    .map(|(k, t)| format!("{} r{k}", quote_ident(t))),
            )
            .collect::<Vec<_>>()
            .join(" POSITIONAL JOIN ");
        conn.execute_batch(&format!(
            "CREATE OR REPLACE VIEW {table} AS SELECT {select} FROM {from}"
        ))
        .map_err(err)?;
    }
    Ok(())
}
