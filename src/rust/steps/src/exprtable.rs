//! The SQL table function `expr(genes, layer)` of the readers' connection: the values of one
//! or a few genes (comma-separated ids or symbols) read from their gene-major chunks, as rows
//! (cell_index, gene, value) to join with `obs`. `layer` is 'raw' (counts), 'norm' (exact
//! log-normalised values) or 'cp10k' (count / library size x target). Only non-zeros are
//! rows unless `zeros := true`: a mean over a group's cells must divide by the group's cell
//! count, so join from `obs` (LEFT JOIN) or ask for the zeros.

use crate::{db_err, MetaDb, Result};
use cellstream_engine::aggregate::Value;
use cellstream_engine::store::chunkfile::ChunkReader;
use cellstream_engine::store::manifest::GENES_FILE;
use duckdb::core::{DataChunkHandle, Inserter, LogicalTypeHandle, LogicalTypeId};
use duckdb::vtab::{BindInfo, InitInfo, TableFunctionInfo, VTab};
use std::collections::HashMap;
use std::error::Error;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Rows per output chunk (DuckDB's vector size).
const ROWS_PER_CHUNK: usize = 2048;

/// What the function reads: the store's gene-major chunks, its library sizes and gene names.
struct Source {
    genes: ChunkReader,
    library: Vec<f64>,
    target_sum: f64,
    /// gene_id and unambiguous symbols -> gene index; ambiguous symbols -> None.
    names: HashMap<String, Option<u32>>,
}

#[derive(Clone)]
struct Shared(Arc<Source>);

struct Rows {
    cell: Vec<i32>,
    /// Position in `names` of each row's gene.
    gene: Vec<u32>,
    value: Vec<f64>,
    /// The genes as the query named them.
    names: Vec<String>,
}

struct Cursor {
    next: AtomicUsize,
}

struct Expr;

impl VTab for Expr {
    type InitData = Cursor;
    type BindData = Rows;

    fn bind(bind: &BindInfo) -> std::result::Result<Rows, Box<dyn Error>> {
        // SAFETY: registered with a `Shared` as extra info (`register`), alive with the connection.
        let source = unsafe { &*bind.get_extra_info::<Shared>() }.clone();
        let wanted = bind.get_parameter(0).to_string();
        let value = match bind.get_parameter(1).to_string().as_str() {
            "raw" => Value::Raw,
            "norm" => Value::Norm,
            "cp10k" => Value::Scaled,
            other => {
                return Err(format!("expr(): layer must be 'raw', 'norm' or 'cp10k', not '{other}'").into())
            }
        };
        let zeros = bind.get_named_parameter("zeros").is_some_and(|v| v.to_bool());
        bind.add_result_column("cell_index", LogicalTypeHandle::from(LogicalTypeId::Integer));
        bind.add_result_column("gene", LogicalTypeHandle::from(LogicalTypeId::Varchar));
        bind.add_result_column("value", LogicalTypeHandle::from(LogicalTypeId::Double));
        let s = &source.0;
        let mut rows = Rows {
            cell: Vec::new(),
            gene: Vec::new(),
            value: Vec::new(),
            names: Vec::new(),
        };
        for name in wanted.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let at = rows.names.len() as u32;
            rows.names.push(name.to_string());
            let g = match s.names.get(name) {
                Some(Some(g)) => *g,
                Some(None) => {
                    return Err(format!("expr(): gene symbol '{name}' is ambiguous; use its gene_id").into())
                }
                None => {
                    return Err(
                        format!("expr(): no gene '{name}' in the store (give gene ids or symbols)").into(),
                    )
                }
            };
            let chunk = s.genes.read(g as usize)?;
            let mut dense = zeros.then(|| vec![0f64; s.library.len()]);
            for (&c, &x) in chunk.indices.iter().zip(&chunk.counts) {
                let v = value.of(x, s.library[c as usize], s.target_sum);
                match &mut dense {
                    Some(d) => d[c as usize] = v,
                    None => {
                        rows.cell.push(c as i32 + 1);
                        rows.gene.push(at);
                        rows.value.push(v);
                    }
                }
            }
            if let Some(d) = dense {
                rows.cell.extend(1..=d.len() as i32);
                rows.gene.extend(std::iter::repeat_n(at, d.len()));
                rows.value.extend(d);
            }
        }
        Ok(rows)
    }

    fn init(_: &InitInfo) -> std::result::Result<Cursor, Box<dyn Error>> {
        Ok(Cursor {
            next: AtomicUsize::new(0),
        })
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> std::result::Result<(), Box<dyn Error>> {
        let rows = func.get_bind_data();
        let start = func
            .get_init_data()
            .next
            .fetch_add(ROWS_PER_CHUNK, Ordering::Relaxed);
        let end = (start + ROWS_PER_CHUNK).min(rows.cell.len());
        if start >= end {
            output.set_len(0);
            return Ok(());
        }
        let n = end - start;
        // SAFETY: the columns were declared INTEGER, VARCHAR, DOUBLE in `bind`; n <= vector size.
        unsafe {
            output
                .flat_vector(0)
                .as_mut_slice_with_len::<i32>(n)
                .copy_from_slice(&rows.cell[start..end]);
            output
                .flat_vector(2)
                .as_mut_slice_with_len::<f64>(n)
                .copy_from_slice(&rows.value[start..end]);
        }
        let names = output.flat_vector(1);
        for (k, &g) in rows.gene[start..end].iter().enumerate() {
            names.insert(k, rows.names[g as usize].as_str());
        }
        output.set_len(n);
        Ok(())
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![
            LogicalTypeHandle::from(LogicalTypeId::Varchar),
            LogicalTypeHandle::from(LogicalTypeId::Varchar),
        ])
    }

    fn named_parameters() -> Option<Vec<(String, LogicalTypeHandle)>> {
        Some(vec![(
            "zeros".into(),
            LogicalTypeHandle::from(LogicalTypeId::Boolean),
        )])
    }
}

impl MetaDb {
    /// Makes `expr()` available on this connection, for the store in folder `dir`.
    pub(crate) fn register_expr(&self, dir: &Path, target_sum: f64) -> Result<()> {
        let genes = ChunkReader::open(&dir.join(GENES_FILE)).map_err(|e| e.to_string())?;
        let var = self.query("SELECT gene_id, symbol FROM var_base ORDER BY gene_index")?;
        let (ids, symbols) = (var.columns[0].to_text(), var.columns[1].to_text());
        let mut names: HashMap<String, Option<u32>> = HashMap::new();
        for (g, symbol) in symbols.into_iter().enumerate() {
            if let Some(symbol) = symbol {
                names
                    .entry(symbol)
                    .and_modify(|e| *e = None)
                    .or_insert(Some(g as u32));
            }
        }
        for (g, id) in ids.into_iter().enumerate() {
            names.insert(id.unwrap_or_default(), Some(g as u32));
        }
        let library = self.obs_numbers("n_counts")?;
        let source = Shared(Arc::new(Source {
            genes,
            library,
            target_sum,
            names,
        }));
        self.conn
            .register_table_function_with_extra_info::<Expr, _>("expr", &source)
            .map_err(db_err("cannot register expr()"))
    }
}
