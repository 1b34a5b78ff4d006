//! Finding and entering network namespaces (setns(2), network_namespaces(7)).
//!
//! A `NETLINK_SOCK_DIAG` socket dumps the namespace it was created in, so to census another
//! namespace we create the socket from a short-lived thread that `setns` into it; the socket
//! stays there after the thread ends and the caller never leaves its own namespace.
//! Namespaces are identified by the inode of their `nsfs` file.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::SysText;
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// Where the named namespaces of `ip netns` live.
pub const NAMED_DIR: &str = "/run/netns";

/// Opens a namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`) for later `setns`.
pub fn open(path: &Path) -> Result<File> {
    let file = File::open(path).with_context(|| format!("netns {}", path.display()))?;
    namespace_inode(&file).with_context(|| format!("netns {}", path.display()))?;
    Ok(file)
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

/// Runs `work` in the namespace of `file` on a short-lived thread, or right here when `file`
/// is `None` (the caller's own namespace). The caller never leaves its namespace; what
/// `work` creates there (a sock_diag socket, a probe socket) stays in that namespace.
pub fn within<R: Send>(file: Option<&File>, work: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    let Some(file) = file else {
        return work();
    };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
                    .context("setns(CLONE_NEWNET)")?;
                work()
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("netns thread panicked")))
    })
}

/// The directories of bind-mounted namespace files: `ip netns` (and CNI plugins, whose
/// `cni-…` files live there too), and Docker's.
pub const BIND_MOUNT_DIRS: [&str; 2] = [NAMED_DIR, "/run/docker/netns"];

/// A namespace file found under [`BIND_MOUNT_DIRS`].
#[derive(Debug, Clone)]
pub struct BindMount {
    pub inode: u64,
    /// The file name: the `ip netns` name, or Docker's sandbox id.
    pub name: SysText,
    pub path: PathBuf,
    /// Found under `/run/docker/netns`.
    pub docker: bool,
}

/// Every namespace file under [`BIND_MOUNT_DIRS`]. A missing directory means none; a file
/// that is not a namespace (a stale one, whose mount is gone) is skipped.
pub fn bind_mounts() -> Vec<BindMount> {
    let mut found = Vec::new();
    for dir in BIND_MOUNT_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(file) = File::open(&path) else { continue };
            let Ok(inode) = namespace_inode(&file) else {
                continue;
            };
            found.push(BindMount {
                inode,
                name: SysText::new(entry.file_name().as_encoded_bytes()),
                path,
                docker: dir != NAMED_DIR,
            });
        }
    }
    found.sort_by(|a, b| (a.docker, &a.name).cmp(&(b.docker, &b.name)));
    found
}

/// The inode of a file that is a namespace (on nsfs), or an error.
fn namespace_inode(file: &File) -> Result<u64> {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    let fs = rustix::fs::fstatfs(file)?;
    anyhow::ensure!(fs.f_type as i64 == NSFS_MAGIC, "not a namespace file");
    inode(file)
}
