//! Formatting finished data; every function writes to a `&mut impl Write`.

pub mod escape;
pub mod list;
pub mod summary;
