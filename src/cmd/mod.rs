//! One thin file per command: collect, reconcile, render.
pub mod completions;
pub mod list;
pub mod metrics;
pub mod summary;
pub mod watch;
