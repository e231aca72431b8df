//! The record of analysis steps: which result columns each step wrote, on which kept-cell
//! generation, from which inputs (other steps, by serial number) and with which parameters.
//! A result is current when its generation is the store's (for steps that use the kept
//! cells) and each input is still the version it used; otherwise it is stale.

use crate::write::{create_table, own, quote_ident, sql_type, Values};
use crate::{db_err, MetaDb, Result};
use cellstream_engine::frame::Frame;
use duckdb::{params, Connection};

/// Table of steps; created on first use so that stores from earlier versions open.
const STEPS_DDL: &str = "CREATE TABLE IF NOT EXISTS steps (
    step VARCHAR PRIMARY KEY, serial BIGINT NOT NULL, generation BIGINT,
    inputs VARCHAR NOT NULL, params VARCHAR NOT NULL, columns VARCHAR NOT NULL,
    created TIMESTAMP NOT NULL)";

/// What a step writes and what it was computed from.
pub struct StepRecord<'a> {
    pub step: &'a str,
    /// Whether the result depends on the kept cells (stamped with their generation).
    pub uses_kept_cells: bool,
    /// Steps whose results this one used.
    pub inputs: &'a [&'a str],
    /// The parameters, as text for the user (e.g. "method = vst, n = 2000").
    pub params: String,
}

/// A step as `print()` shows it.
pub struct StepStatus {
    pub step: String,
    pub params: String,
    pub generation: Option<i64>,
    /// Why the result is stale; None when current.
    pub stale: Option<String>,
    /// "obs.<column>" / "var.<column>" entries.
    pub columns: Vec<String>,
}

/// The R call that recomputes a step, for messages.
pub fn rerun_hint(step: &str) -> String {
    match step.split_once(':') {
        _ if step == "qc" => "calculate_qc_metrics(x)".into(),
        _ if step == "hvg" => "find_hvg(x)".into(),
        Some(("outliers", column)) => format!("find_outliers(x, column = \"{column}\")"),
        _ => format!("the {step} step"),
    }
}

fn describe(step: &str) -> String {
    match step.split_once(':') {
        _ if step == "qc" => "QC metrics".into(),
        _ if step == "hvg" => "highly variable genes".into(),
        Some(("outliers", column)) => format!("outlier calls in '{column}'"),
        _ => step.into(),
    }
}

pub(crate) fn ensure_table(conn: &Connection) -> Result<()> {
    conn.execute_batch(STEPS_DDL).map_err(db_err("cannot create the steps table"))
}

impl MetaDb {
    /// Writes a step's result columns (`obs` rows in cell order, `var` rows in gene order),
    /// replacing those of its previous run, and records the step; all in one transaction.
    pub fn store_result(&mut self, record: &StepRecord, obs: &Frame, var: &Frame) -> Result<()> {
        let failed = format!("cannot store the {}", describe(record.step));
        let generation = if record.uses_kept_cells { Some(self.generation()?) } else { None };
        let inputs = record
            .inputs
            .iter()
            .map(|s| self.serial(s).map(|n| format!("{s}={}", n.unwrap_or(0))))
            .collect::<Result<Vec<_>>>()?
            .join(",");
        let previous = self.step_columns(record.step)?;
        let tx = self.conn.transaction().map_err(db_err(&failed))?;
        for entry in &previous {
            let (table, column) = entry.split_once('.').unwrap_or(("obs", entry));
            tx.execute_batch(&format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {}", quote_ident(column))).map_err(db_err(&failed))?;
        }
        let mut columns = Vec::new();
        for (table, key, frame) in [("obs", "cell_index", obs), ("var", "gene_index", var)] {
            set_columns(&tx, table, key, frame).map_err(|e| format!("{failed}: {e}"))?;
            columns.extend(frame.names.iter().map(|n| format!("{table}.{n}")));
        }
        tx.execute_batch("INSERT INTO state VALUES ('step_serial', 0) ON CONFLICT DO NOTHING;
                          UPDATE state SET value = value + 1 WHERE key = 'step_serial';")
            .map_err(db_err(&failed))?;
        tx.execute(
            "INSERT OR REPLACE INTO steps SELECT ?, value, ?, ?, ?, ?, now() FROM state WHERE key = 'step_serial'",
            params![record.step, generation, inputs, record.params, columns.join(",")],
        )
        .map_err(db_err(&failed))?;
        tx.commit().map_err(db_err(&failed))
    }

    fn serial(&self, step: &str) -> Result<Option<i64>> {
        let mut stmt = self.conn.prepare("SELECT serial FROM steps WHERE step = ?").map_err(db_err("cannot read the steps"))?;
        let mut rows = stmt.query(params![step]).map_err(db_err("cannot read the steps"))?;
        Ok(rows.next().map_err(db_err("cannot read the steps"))?.map(|r| r.get(0)).transpose().map_err(db_err("cannot read the steps"))?)
    }

    fn step_columns(&self, step: &str) -> Result<Vec<String>> {
        Ok(self.steps()?.into_iter().find(|s| s.step == step).map(|s| s.columns).unwrap_or_default())
    }

    /// Every recorded step, in the order they were last run, with whether it is current.
    pub fn steps(&self) -> Result<Vec<StepStatus>> {
        let read = db_err("cannot read the steps");
        let current_generation = self.generation()?;
        let mut stmt = self.conn.prepare("SELECT step, serial, generation, inputs, params, columns FROM steps ORDER BY serial").map_err(&read)?;
        let rows: Vec<(String, i64, Option<i64>, String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .map_err(&read)?
            .collect::<std::result::Result<_, _>>()
            .map_err(&read)?;
        let serial_of = |name: &str| rows.iter().find(|r| r.0 == name).map(|r| r.1);
        Ok(rows
            .iter()
            .map(|(step, _, generation, inputs, params, columns)| {
                let mut stale = match generation {
                    Some(g) if *g != current_generation => Some(format!("the kept cells changed since (generation {g}, now {current_generation})")),
                    _ => None,
                };
                for input in inputs.split(',').filter(|s| !s.is_empty()) {
                    let (name, used) = input.split_once('=').unwrap_or((input, "0"));
                    if stale.is_none() && serial_of(name).map(|s| s.to_string()) != Some(used.to_string()) {
                        stale = Some(format!("its input, the {}, was recomputed since", describe(name)));
                    }
                }
                StepStatus {
                    step: step.clone(),
                    params: params.clone(),
                    generation: *generation,
                    stale,
                    columns: columns.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                }
            })
            .collect())
    }

    /// Ok when `step` has a current result; otherwise an error naming what to rerun.
    pub fn require_current(&self, step: &str) -> Result<()> {
        match self.steps()?.into_iter().find(|s| s.step == step) {
            None => Err(format!("there are no {} in this store yet; run {} first", describe(step), rerun_hint(step))),
            Some(StepStatus { stale: Some(why), .. }) => Err(format!("the {} are stale: {why}; rerun {}", describe(step), rerun_hint(step))),
            Some(_) => Ok(()),
        }
    }
}

/// Adds (or replaces) the columns of `frame` in `table`, whose rows it holds in `key` order.
fn set_columns(conn: &Connection, table: &str, key: &str, frame: &Frame) -> Result<()> {
    if frame.names.is_empty() {
        return Ok(());
    }
    let err = |e: duckdb::Error| e.to_string();
    for (name, column) in frame.names.iter().zip(&frame.columns) {
        let name = quote_ident(name);
        conn.execute_batch(&format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {name}; ALTER TABLE {table} ADD COLUMN {name} {}", sql_type(column))).map_err(err)?;
    }
    let incoming = format!("incoming_{table}");
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {incoming}")).map_err(err)?;
    create_table(conn, &incoming, vec![own("row_number", "INTEGER", Values::RowNumber)], frame)?;
    let assignments = frame.names.iter().map(|n| format!("{0} = i.{0}", quote_ident(n))).collect::<Vec<_>>().join(", ");
    conn.execute_batch(&format!("UPDATE {table} SET {assignments} FROM {incoming} i WHERE {table}.{key} = i.row_number; DROP TABLE {incoming};")).map_err(err)?;
    Ok(())
}
