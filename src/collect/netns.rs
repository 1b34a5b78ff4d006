//! Finding and entering network namespaces (setns(2), network_namespaces(7)).
//!
//! A `NETLINK_SOCK_DIAG` socket dumps the namespace it was created in, so to census another
//! namespace we create the socket from a short-lived thread that `setns` into it; the socket
//! stays there after the thread ends and the caller never leaves its own namespace.
//! Namespaces are identified by the inode of their `nsfs` file.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::collect::diag::DiagSocket;

/// Where the named namespaces of `ip netns` live.
pub const NAMED_DIR: &str = "/run/netns";

/// Opens a namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`) for later `setns`.
pub fn open(path: &Path) -> Result<File> {
    let file = File::open(path).with_context(|| format!("netns {}", path.display()))?;
    inode(&file).with_context(|| format!("netns {}", path.display()))?;
    Ok(file)
}

/// Moves the calling thread into the namespace `file` refers to.
pub fn enter(file: &File, path: &Path) -> Result<()> {
    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
        .with_context(|| format!("cannot enter netns {}", path.display()))
}

/// Inode of a namespace file.
pub fn inode(file: &File) -> Result<u64> {
    Ok(rustix::fs::fstat(file)?.st_ino)
}

/// Inode of the calling thread's network namespace.
pub fn current() -> Result<u64> {
    let file = File::open("/proc/thread-self/ns/net").context("/proc/thread-self/ns/net")?;
    inode(&file)
}

/// A sock_diag socket that dumps the namespace of `file`, opened without moving the caller.
pub fn diag_socket_in(file: &File, path: &Path) -> Result<DiagSocket> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                enter(file, path)?;
                Ok(DiagSocket::open()?)
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("netns thread panicked")))
    })
}

/// The namespaces `ip netns` named: (inode, name). A missing directory means none.
pub fn named() -> Vec<(u64, String)> {
    let Ok(entries) = std::fs::read_dir(NAMED_DIR) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let inode = std::fs::metadata(entry.path()).ok()?;
            let name = entry.file_name().into_string().ok()?;
            Some((std::os::unix::fs::MetadataExt::ino(&inode), name))
        })
        .collect()
}
