//! Collection: everything sockdiag learns about the system, and nothing else.
pub mod diag;
pub mod netns;
pub mod owners;
pub mod sockstat;
pub mod sys;
