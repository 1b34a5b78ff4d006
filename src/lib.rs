//! sockdiag: which sockets stand behind the numbers `ss -s` prints.
pub mod cli;
pub mod cmd;
pub mod collect;
pub mod figures;
pub mod filter;
#[cfg(test)]
mod man;
pub mod model;
pub mod reconcile;
pub mod render;
pub mod saved_ss;
pub mod watch;
