//! `simulate --ensure COND`: the grammar and evaluation are the engine's
//! (`simulate::ensure`), shared with the desktop app's Simulator panel.

pub use sockscope_engine::simulate::ensure::{parse, Ensure};
