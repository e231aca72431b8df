//! Files written from a store for other tools: AnnData h5ad (`h5ad`).

pub mod h5ad;
