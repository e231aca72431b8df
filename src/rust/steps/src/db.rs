//! The metadata database of a store (`meta.duckdb`): the views `obs` (one row per cell) and
//! `var` (one row per gene) over the base tables `obs_base` / `var_base` and the analysis
//! results (see `steps`), and `state` (key/value, e.g. the kept-cell generation). Row numbers
//! (`cell_index`, `gene_index`) are 1-based, as R users see them; Rust code only orders by them.
//! `state` also holds the tag of the store the database belongs to (`store_tag`).

use crate::steps;
use crate::table;
use crate::write::{create_table, own, Values};
use crate::{db_err, Frame, Result};
use cellstream_engine::store::manifest::Manifest;
use duckdb::{params, Connection};
use std::path::Path;

pub struct MetaDb {
    pub(crate) conn: Connection,
    /// Per-cell columns read once (readers only; see `cellcache`).
    pub(crate) cache: Option<crate::cellcache::CellCache>,
}

/// Columns of a new store's obs and var, as the ingest produced them; `extra` holds the
/// input's own annotation.
pub struct NewObs<'a> {
    pub cell_id: &'a [String],
    pub n_counts: &'a [u64],
    pub n_genes: &'a [u32],
    pub extra: &'a Frame,
}

pub struct NewVar<'a> {
    pub gene_id: &'a [String],
    pub symbol: &'a [String],
    pub feature_type: &'a [String],
    pub n_cells: &'a [u32],
    pub n_counts: &'a [u64],
    pub extra: &'a Frame,
}

impl MetaDb {
    /// Creates the database of a new store; every cell starts kept, generation 1. Returns it
    /// with notes on input columns renamed to avoid cellstream's own names.
    pub fn create(path: &Path, store_tag: u64, obs: &NewObs, var: &NewVar) -> Result<(Self, Vec<String>)> {
        let conn = Connection::open(path).map_err(db_err("cannot create the metadata database"))?;
        let mut notes = create_table(
            &conn,
            "obs_base",
            vec![
                own("cell_index", "INTEGER PRIMARY KEY", Values::RowNumber),
                own("cell_id", "VARCHAR NOT NULL UNIQUE", Values::Text(obs.cell_id)),
                own("n_counts", "BIGINT NOT NULL", Values::Big(obs.n_counts)),
                own("n_genes", "INTEGER NOT NULL", Values::Small(obs.n_genes)),
                own("keep", "BOOLEAN NOT NULL", Values::AllTrue),
            ],
            obs.extra,
        )?;
        notes.extend(create_table(
            &conn,
            "var_base",
            vec![
                own("gene_index", "INTEGER PRIMARY KEY", Values::RowNumber),
                own("gene_id", "VARCHAR NOT NULL UNIQUE", Values::Text(var.gene_id)),
                own("symbol", "VARCHAR NOT NULL", Values::Text(var.symbol)),
                own("feature_type", "VARCHAR NOT NULL", Values::Text(var.feature_type)),
                own("n_cells", "INTEGER NOT NULL", Values::Small(var.n_cells)),
                own("n_counts", "BIGINT NOT NULL", Values::Big(var.n_counts)),
            ],
            var.extra,
        )?);
        conn.execute_batch(&format!(
            "CREATE TABLE state (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
             INSERT INTO state VALUES ('keep_generation', 1), ('store_tag', {});
             CHECKPOINT;",
            store_tag as i64
        ))
        .map_err(db_err("cannot write the metadata database"))?;
        steps::create_steps_table(&conn)?;
        steps::rebuild_views(&conn)?;
        Ok((MetaDb { conn, cache: None }, notes))
    }

    /// Opens the database for writing; it must belong to the store of `manifest`.
    pub(crate) fn open(path: &Path, manifest: &Manifest) -> Result<Self> {
        if !path.is_file() {
            return Err(format!(
                "the metadata database '{}' is missing; the store is damaged",
                path.display()
            ));
        }
        let conn = Connection::open(path).map_err(|e| {
            if e.to_string().contains("Could not set lock") {
                format!(
                    "the store is open in another process ({e}); call close_store() there or end that R \
                    session"
                )
            } else {
                format!("cannot open the metadata database: {e}")
            }
        })?;
        let db = MetaDb { conn, cache: None };
        db.check_owner(manifest)?;
        Ok(db)
    }

    /// Ok when the database records the store of `manifest`.
    pub(crate) fn check_owner(&self, manifest: &Manifest) -> Result<()> {
        let tag: Option<i64> = self
            .conn
            .query_row("SELECT max(value) FROM state WHERE key = 'store_tag'", [], |r| {
                r.get(0)
            })
            .map_err(db_err("cannot read the metadata database"))?;
        match tag {
            Some(t) if t as u64 == manifest.tag() => Ok(()),
            Some(t) => Err(format!(
                "meta.duckdb belongs to another store (tag {:016x}, not this store's {:016x}, id {}): it was \
                    copied in from elsewhere; put back this store's own meta.duckdb or ingest the input again",
                t as u64,
                manifest.tag(),
                manifest.store_id
            )),
            None => Err("meta.duckdb records no store; it is damaged: ingest the input again".into()),
        }
    }

    /// One text column of `obs` or `var`'s base table in row order (e.g. cell ids, gene symbols).
    pub fn text_column(&self, table: &str, column: &str) -> Result<Vec<String>> {
        let order = if table == "obs" {
            "cell_index"
        } else {
            "gene_index"
        };
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT \"{column}\" FROM {table}_base ORDER BY {order}"))
            .map_err(db_err("cannot read metadata"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(db_err("cannot read metadata"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db_err("cannot read metadata"))
    }

    /// Runs cellstream's own SQL; statements that return nothing give an empty table.
    pub fn query(&self, sql: &str) -> Result<Frame> {
        table::query(&self.conn, sql)
    }

    pub fn generation(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT value FROM state WHERE key = 'keep_generation'", [], |r| {
                r.get(0)
            })
            .map_err(db_err("cannot read the kept-cell generation"))
    }

    /// Number of kept cells.
    pub fn n_kept(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT count(*) FILTER (WHERE keep) FROM obs_base", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(db_err("cannot count kept cells"))
    }

    /// The kept flag of every cell, in cell order.
    pub fn keep(&self) -> Result<Vec<bool>> {
        Ok(self.remembered("keep", Self::read_keep)?.to_vec())
    }

    fn read_keep(&self) -> Result<Vec<bool>> {
        let mut stmt = self
            .conn
            .prepare("SELECT keep FROM obs_base ORDER BY cell_index")
            .map_err(db_err("cannot read kept cells"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, bool>(0))
            .map_err(db_err("cannot read kept cells"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(db_err("cannot read kept cells"))
    }

    /// Replaces the kept-cell set and advances the generation; returns the new generation.
    pub fn set_keep(&mut self, keep: &[bool]) -> Result<i64> {
        let tx = self
            .conn
            .transaction()
            .map_err(db_err("cannot update kept cells"))?;
        tx.execute_batch("CREATE TEMP TABLE new_keep (cell_index INTEGER, keep BOOLEAN)")
            .map_err(db_err("cannot update kept cells"))?;
        {
            let mut app = tx
                .appender("new_keep")
                .map_err(db_err("cannot update kept cells"))?;
            for (i, &k) in keep.iter().enumerate() {
                app.append_row(params![i as i64 + 1, k])
                    .map_err(db_err("cannot update kept cells"))?;
            }
            app.flush().map_err(db_err("cannot update kept cells"))?;
        }
        tx.execute_batch(
            "UPDATE obs_base SET keep = new_keep.keep FROM new_keep WHERE obs_base.cell_index = \
                new_keep.cell_index;
             DROP TABLE new_keep;
             UPDATE state SET value = value + 1 WHERE key = 'keep_generation';",
        )
        .map_err(db_err("cannot update kept cells"))?;
        tx.commit().map_err(db_err("cannot update kept cells"))?;
        self.checkpoint()?;
        self.generation()
    }

    /// Writes the write-ahead log into the database file, so that a store whose session ends
    /// without closing (an R process that exits) holds no `meta.duckdb.wal`.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .execute_batch("CHECKPOINT")
            .map_err(db_err("cannot checkpoint the metadata database"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Column;

    pub(crate) fn manifest() -> Manifest {
        use cellstream_engine::store::manifest::{IngestRecord, STORE_MAGIC, STORE_VERSION};
        Manifest {
            magic: STORE_MAGIC.into(),
            format_version: STORE_VERSION,
            created_by: "test".into(),
            store_id: "test-store".into(),
            n_cells: 5,
            n_genes: 2,
            nnz: 0,
            target_sum: 1e4,
            ingest: IngestRecord {
                source: "test".into(),
                input_cells: 5,
                input_genes: 2,
                min_cells: 0,
                min_genes: 0,
                min_counts: 0,
            },
        }
    }

    fn small(dir: &Path) -> MetaDb {
        let ids: Vec<String> = (0..5).map(|i| format!("C{i}")).collect();
        let genes = vec!["G1".to_string(), "G2".to_string()];
        let mut obs_extra = Frame::default();
        obs_extra.push(
            "Keep",
            Column::Category {
                codes: vec![Some(1), None, Some(0), Some(1), Some(1)],
                levels: vec!["b'x".into(), "a".into()],
                ordered: false,
            },
        );
        obs_extra.push(
            "score",
            Column::Real(vec![Some(0.5), None, Some(1.5), Some(2.0), Some(-1.0)]),
        );
        MetaDb::create(
            &dir.join("m.duckdb"),
            manifest().tag(),
            &NewObs {
                cell_id: &ids,
                n_counts: &[10, 20, 30, 40, 50],
                n_genes: &[1, 2, 2, 1, 2],
                extra: &obs_extra,
            },
            &NewVar {
                gene_id: &genes,
                symbol: &["A".into(), "A".into()],
                feature_type: &["Gene Expression".into(), "Gene Expression".into()],
                n_cells: &[3, 5],
                n_counts: &[60, 90],
                extra: &Frame::default(),
            },
        )
        .unwrap()
        .0
    }

    /// A fresh directory under the system temp dir, removed when dropped.
    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn new(name: &str) -> Self {
            let p = std::env::temp_dir().join(format!("cellstream-steps-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn keep_set_roundtrips_and_bumps_generation_across_reopen() {
        let dir = TempDir::new("keep");
        let mut db = small(dir.path());
        assert_eq!(db.generation().unwrap(), 1);
        assert_eq!(db.keep().unwrap(), vec![true; 5]);
        assert_eq!(
            db.text_column("obs", "cell_id").unwrap(),
            vec!["C0", "C1", "C2", "C3", "C4"]
        );
        assert_eq!(db.text_column("var", "symbol").unwrap(), vec!["A", "A"]);
        assert_eq!(db.set_keep(&[true, false, true, false, true]).unwrap(), 2);
        drop(db);
        let db = MetaDb::open(&dir.path().join("m.duckdb"), &manifest()).unwrap();
        assert_eq!(db.keep().unwrap(), vec![true, false, true, false, true]);
        assert_eq!(db.n_kept().unwrap(), 3);
        assert_eq!(db.generation().unwrap(), 2);
    }

    #[test]
    fn query_returns_typed_columns() {
        let dir = TempDir::new("query");
        let db = small(dir.path());
        let t = db
            .query(
                "SELECT cell_id, n_counts, n_counts / 4 AS q, keep FROM obs WHERE n_genes = 2 \
            ORDER BY cell_index",
            )
            .unwrap();
        assert_eq!(t.names, vec!["cell_id", "n_counts", "q", "keep"]);
        assert_eq!(
            t.columns[0],
            Column::Text(vec![Some("C1".into()), Some("C2".into()), Some("C4".into())])
        );
        assert_eq!(t.columns[1], Column::Int(vec![Some(20), Some(30), Some(50)]));
        assert_eq!(t.columns[2], Column::Real(vec![Some(5.0), Some(7.5), Some(12.5)]));
        assert_eq!(t.columns[3], Column::Bool(vec![Some(true); 3]));
        let t = db
            .query("SELECT Keep_input, score FROM obs ORDER BY cell_index")
            .unwrap();
        assert_eq!(
            t.columns[0],
            Column::Category {
                codes: vec![Some(1), None, Some(0), Some(1), Some(1)],
                levels: vec!["b'x".into(), "a".into()],
                ordered: false
            }
        );
        assert_eq!(
            t.columns[1],
            Column::Real(vec![Some(0.5), None, Some(1.5), Some(2.0), Some(-1.0)])
        );
        let err = db.query("SELECT nope FROM obs").unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn results_extend_the_views_and_go_stale_with_the_kept_cells_or_their_inputs() {
        use crate::steps::StepRecord;
        let dir = TempDir::new("steps");
        let mut db = small(dir.path());
        let mut qc = Frame::default();
        qc.push(
            "pct_x",
            Column::Real(vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)]),
        );
        db.store_result(
            &StepRecord {
                step: "qc",
                uses_kept_cells: false,
                inputs: &[],
                params: "p".into(),
                tables: &[],
            },
            &qc,
            &Frame::default(),
        )
        .unwrap();
        // Each step is checkpointed: the database file holds it, with no write-ahead log left.
        let wal = dir.path().join("m.duckdb.wal");
        assert!(
            std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
            "{} bytes of WAL after a step",
            std::fs::metadata(&wal).unwrap().len()
        );
        let mut flag = Frame::default();
        flag.push(
            "bad",
            Column::Bool(vec![
                Some(false),
                Some(true),
                Some(false),
                Some(false),
                Some(true),
            ]),
        );
        db.store_result(
            &StepRecord {
                step: "outliers:bad",
                uses_kept_cells: false,
                inputs: &["qc"],
                params: "p".into(),
                tables: &[],
            },
            &flag,
            &Frame::default(),
        )
        .unwrap();
        let mut hvg = Frame::default();
        hvg.push("highly_variable", Column::Bool(vec![Some(true), Some(false)]));
        db.store_result(
            &StepRecord {
                step: "hvg",
                uses_kept_cells: true,
                inputs: &[],
                params: "p".into(),
                tables: &[],
            },
            &Frame::default(),
            &hvg,
        )
        .unwrap();

        let t = db
            .query("SELECT cell_id, pct_x, bad FROM obs WHERE bad ORDER BY cell_index")
            .unwrap();
        assert_eq!(
            t.columns[0],
            Column::Text(vec![Some("C1".into()), Some("C4".into())])
        );
        assert_eq!(t.columns[1], Column::Real(vec![Some(2.0), Some(5.0)]));
        assert_eq!(db.columns("var").unwrap().last().unwrap(), "highly_variable");
        assert!(db.steps().unwrap().iter().all(|s| s.stale.is_none()));
        db.require_current("hvg").unwrap();
        // Not stamped with the kept cells itself, but built on a result that is.
        db.store_result(
            &StepRecord {
                step: "pca",
                uses_kept_cells: false,
                inputs: &["hvg"],
                params: "p".into(),
                tables: &[],
            },
            &Frame::default(),
            &Frame::default(),
        )
        .unwrap();
        db.require_current("pca").unwrap();

        db.set_keep(&[true, true, false, true, true]).unwrap();
        let err = db.require_current("hvg").unwrap_err();
        assert!(
            err.contains("generation 1, now 2") && err.contains("rerun find_hvg(x)"),
            "{err}"
        );
        let err = db.require_current("pca").unwrap_err();
        assert!(
            err.contains("its input, the highly variable genes, is stale; rerun run_pca(x)"),
            "{err}"
        );
        db.require_current("qc").unwrap();
        db.store_result(
            &StepRecord {
                step: "qc",
                uses_kept_cells: false,
                inputs: &[],
                params: "p".into(),
                tables: &[],
            },
            &qc,
            &Frame::default(),
        )
        .unwrap();
        let err = db.require_current("outliers:bad").unwrap_err();
        assert!(err.contains("the QC metrics, was recomputed"), "{err}");
        let clash = db.store_result(
            &StepRecord {
                step: "outliers:n_counts",
                uses_kept_cells: false,
                inputs: &[],
                params: "p".into(),
                tables: &[],
            },
            &{
                let mut f = Frame::default();
                f.push("N_COUNTS", Column::Bool(vec![Some(true); 5]));
                f
            },
            &Frame::default(),
        );
        assert!(clash.unwrap_err().contains("obs already has a column 'N_COUNTS'"));
        drop(db);
        let db = MetaDb::open(&dir.path().join("m.duckdb"), &manifest()).unwrap();
        assert_eq!(
            db.query("SELECT count(*) AS n FROM obs WHERE bad")
                .unwrap()
                .columns[0],
            Column::Int(vec![Some(2)])
        );
        assert!(db.require_current("hvg").is_err());
    }

    #[test]
    fn a_database_of_another_store_is_refused() {
        let dir = TempDir::new("owner");
        drop(small(dir.path()));
        let mut other = manifest();
        other.store_id = "another".into();
        let err = MetaDb::open(&dir.path().join("m.duckdb"), &other).err().unwrap();
        assert!(
            err.contains("meta.duckdb belongs to another store") && err.contains("id another"),
            "{err}"
        );
    }
}
