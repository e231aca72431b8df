//! Marker genes and differential expression.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, session};
use cellstream_engine::markers::ranks::Ranking;
use cellstream_engine::markers::table::Filters;
use cellstream_engine::markers::test::{FoldChange, Test, TestOptions};
use cellstream_steps::{find_markers, MarkersRequest};
use extendr_api::prelude::*;

/// `opts`: the named list R's `markers_options()` builds. Returns list(table, skipped).
#[extendr]
fn cs_markers(
    store: Robj,
    name: Robj,
    group_by: Robj,
    ident_1: Robj,
    ident_2: Robj,
    opts: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let get = fields(&opts, "opts")?;
        let test = match string(&get("test")?, "test")?.as_str() {
            "wilcox" => Test::Wilcox,
            "roc" => Test::Roc,
            "t" => Test::T,
            other => {
                return Err(format!(
                    "`test` must be \"wilcox\", \"roc\" or \"t\", not \"{other}\""
                ))
            }
        };
        let fold_change = match string(&get("fc")?, "fc")?.as_str() {
            "seurat_v5" => FoldChange::SeuratV5,
            "seurat_v4" => FoldChange::SeuratV4,
            "scanpy" => FoldChange::Scanpy,
            other => {
                return Err(format!(
                    "`fc` must be \"seurat_v5\", \"seurat_v4\" or \"scanpy\", not \"{other}\""
                ))
            }
        };
        let ranking = if flag(&get("rank_stored")?, "rank_stored")? {
            Ranking::Stored
        } else {
            Ranking::Exact
        };
        let return_thresh = number(&get("return_thresh")?, "return_thresh")?;
        let max_cells = number(&get("max_cells_per_ident")?, "max_cells_per_ident")?;
        let (name, group_by) = (string(&name, "name")?, string(&group_by, "group_by")?);
        let req = MarkersRequest {
            name: &name,
            group_by: &group_by,
            ident_1: optional_strings(&ident_1, "ident_1")?,
            ident_2: optional_strings(&ident_2, "ident_2")?,
            ranking,
            test: TestOptions {
                test,
                correct: flag(&get("correct")?, "correct")?,
                tie_correct: flag(&get("tie_correct")?, "tie_correct")?,
                fold_change,
            },
            filters: Filters {
                logfc_threshold: number(&get("logfc_threshold")?, "logfc_threshold")?,
                min_pct: number(&get("min_pct")?, "min_pct")?,
                only_pos: flag(&get("only_pos")?, "only_pos")?,
                return_thresh: return_thresh.is_finite().then_some(return_thresh),
            },
            min_cells_group: count(&get("min_cells_group")?, "min_cells_group")?,
            max_cells_per_ident: max_cells.is_finite().then_some(max_cells as usize),
            seed: count(&get("seed")?, "seed")?,
        };
        let markers = with_progress(&progress, |monitor| {
            s.write(|db| find_markers(&s.store, db, &req, monitor))
        })?;
        let skipped: Robj = markers.skipped.into();
        Ok(list!(table = table_to_list(markers.table), skipped = skipped).into())
    })
}

extendr_module! {
    mod markers;
    fn cs_markers;
}
