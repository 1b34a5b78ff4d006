//! Formatting finished data: render owns every byte sockdiag writes to stdout, JSON included,
//! and every sentence it says about what it found. Each function writes to a `&mut impl Write`.

pub mod escape;
pub mod list;
pub mod metrics;
pub mod names;
pub mod notes;
pub mod ss;
pub mod summary;
pub mod watch;
