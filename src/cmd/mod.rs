//! One thin file per command: collect, reconcile, render.
pub mod list;
pub mod summary;
