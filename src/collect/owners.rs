//! Who holds which socket: one walk over `/proc/PID/fd/N` links, which read `socket:[INODE]`
//! for a socket (proc(5)), the way `ss -p` maps owners, plus each process's network namespace
//! (`/proc/PID/ns/net`) when the summary needs to find namespaces.
//!
//! Processes come and go and other users' fd tables are closed to us: a vanished (`ENOENT`,
//! `ESRCH`) or denied (`EACCES`, `EPERM`) process is counted, never fatal, and the counts are
//! shown so the user knows the census is then a lower bound. Every owner of a shared socket
//! is kept (fork, dup, passed fds).
//!
//! Links are read with `readlinkat` relative to an open `/proc/PID/fd` directory, one path
//! component per call instead of a full path resolution: on 100k sockets this is most of the
//! cost of `-p`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::{Dir, Mode, OFlags, openat, readlinkat_raw};
use rustix::io::Errno;

use crate::collect::cgroup;
use crate::model::{Owner, SysText};

/// Threads of the `/proc` walk at most.
const MAX_WORKERS: usize = 4;

/// One socket file descriptor of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketFd {
    /// The socket's inode modulo 2^32, as `idiag_inode` carries it.
    pub inode: u32,
    /// Index into [`ProcScan::processes`].
    pub process: u32,
    pub fd: u32,
}

/// A process that holds at least one socket, or (with namespaces asked for) any process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// `/proc/PID/comm`: whatever the process named itself (`prctl(PR_SET_NAME)`).
    pub comm: SysText,
    /// Inode of `/proc/PID/ns/net`, when asked for and readable.
    pub netns: Option<u64>,
    /// A kernel thread (`PF_KTHREAD` in `/proc/PID/stat`), known when namespaces are asked
    /// for: such a process does not name a namespace when another one can.
    pub kernel_thread: bool,
    /// Its start time in clock ticks since boot (field 22 of `/proc/PID/stat`), read from the
    /// same read as [`Process::kernel_thread`]: with the pid, the identity of a process (a pid
    /// reused by a new process has another start time). `None` when not asked for or gone.
    pub start_time: Option<u64>,
    /// Its cgroup path (`/proc/PID/cgroup`, see [`crate::collect::cgroup`]), when readable.
    pub cgroup: Option<SysText>,
}

/// How many processes the walk could not inspect, and why.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ScanStats {
    pub scanned: u32,
    /// fd table closed to us (another user's process, or another user namespace).
    pub denied: u32,
    /// Exited during the walk.
    pub vanished: u32,
}

/// The result of one walk over `/proc`.
#[derive(Debug, Default)]
pub struct ProcScan {
    /// Sorted by inode, then process, then fd.
    pub sockets: Vec<SocketFd>,
    pub processes: Vec<Process>,
    pub stats: ScanStats,
    /// The processes counted in `stats.denied`, each with its network namespace when even
    /// `/proc/PID/ns/net` is readable: whether what they hide can matter to a namespace.
    pub denied: Vec<(u32, Option<u64>)>,
    proc_root: PathBuf,
}

impl ProcScan {
    /// Walks `{proc_root}/[0-9]*`; with `with_netns` also records every process's network
    /// namespace. Fails only when `proc_root` itself cannot be read.
    pub fn scan(proc_root: &Path, with_netns: bool) -> io::Result<ProcScan> {
        let root = open_root(proc_root)?;
        let own_pid = std::process::id();
        let mut pids = Vec::new();
        let mut dir = Dir::read_from(&root)?;
        while let Some(entry) = dir.read() {
            if let Some(pid) = parse_u32(entry?.file_name().to_bytes())
                && pid != own_pid
            {
                pids.push(pid);
            }
        }
        Self::scan_list(root, proc_root, &pids, with_netns)
    }

    /// Like [`ProcScan::scan`], for the given pids only: only their fd directories are read
    /// (`watch --pid`). A pid that does not exist is counted as vanished.
    pub fn scan_pids(proc_root: &Path, pids: &[u32], with_netns: bool) -> io::Result<ProcScan> {
        let root = open_root(proc_root)?;
        let mut pids = pids.to_vec();
        pids.sort_unstable();
        pids.dedup();
        Self::scan_list(root, proc_root, &pids, with_netns)
    }

    fn scan_list(root: OwnedFd, proc_root: &Path, pids: &[u32], with_netns: bool) -> io::Result<ProcScan> {
        // Reading fd links is kernel work (dentry lookups in procfs): one thread per core,
        // each taking the next process, with its own partial scan.
        let next = AtomicUsize::new(0);
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WORKERS));
        let parts: Vec<Result<ProcScan, Errno>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut part = ProcScan::default();
                        while let Some(&pid) = pids.get(next.fetch_add(1, Ordering::Relaxed)) {
                            scan_or_count(&root, pid, with_netns, &mut part)?;
                        }
                        Ok(part)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });

        let mut scan = ProcScan {
            proc_root: proc_root.to_owned(),
            ..ProcScan::default()
        };
        for part in parts {
            let part = part.map_err(|e| {
                io::Error::other(format!(
                    "{}: out of file descriptors ({e}) while reading the processes' fd tables: raise the limit (ulimit -n)",
                    proc_root.display()
                ))
            })?;
            let offset = scan.processes.len() as u32;
            scan.sockets.extend(part.sockets.into_iter().map(|s| SocketFd {
                process: s.process + offset,
                ..s
            }));
            scan.processes.extend(part.processes);
            scan.stats.scanned += part.stats.scanned;
            scan.stats.denied += part.stats.denied;
            scan.stats.vanished += part.stats.vanished;
            scan.denied.extend(part.denied);
        }
        // By inode, then owners in pid order.
        let processes = &scan.processes;
        scan.sockets
            .sort_unstable_by_key(|s| (s.inode, processes[s.process as usize].pid, s.fd));
        Ok(scan)
    }

    /// Every file descriptor of the socket with this inode.
    pub fn sockets_of(&self, inode: u32) -> impl Iterator<Item = &SocketFd> + '_ {
        let start = self.sockets.partition_point(|s| s.inode < inode);
        self.sockets[start..].iter().take_while(move |s| s.inode == inode)
    }

    /// Every holder of the socket with this inode.
    pub fn owners(&self, inode: u32) -> impl Iterator<Item = Owner<'_>> + '_ {
        self.sockets_of(inode).map(|s| {
            let process = self.process(s);
            Owner {
                pid: process.pid,
                comm: &process.comm,
                fd: s.fd,
                cgroup: process.cgroup.as_ref(),
            }
        })
    }

    /// The process an entry of [`ProcScan::sockets`] belongs to.
    pub fn process(&self, socket: &SocketFd) -> &Process {
        &self.processes[socket.process as usize]
    }

    /// The protocol name of a socket fd (`system.sockprotoname`, net/socket.c
    /// `sockfs_xattr_get`): `TCP`, `TCPv6`, `UDP`, `UNIX-STREAM`, `NETLINK`, ...
    pub fn protocol(&self, socket: &SocketFd) -> io::Result<String> {
        let pid = self.process(socket).pid;
        let path = self.proc_root.join(format!("{pid}/fd/{}", socket.fd));
        let mut name = [0u8; 32];
        let len = rustix::fs::getxattr(&path, "system.sockprotoname", &mut name[..])?;
        let name = CStr::from_bytes_until_nul(&name[..len])
            .map(CStr::to_bytes)
            .unwrap_or(&name[..len]);
        Ok(String::from_utf8_lossy(name).into_owned())
    }
}

/// Scans one process into `part`, counting it as scanned, vanished or denied. A process whose
/// entries cannot be read for any other reason (a fake tree's `fd` link loop, `ELOOP`; an
/// I/O error) is one process not inspected, counted with the denied: never the end of the walk.
/// Running out of descriptors (`EMFILE`, `ENFILE`) is ours, not the process's: returned, so
/// that the walk fails instead of counting every process after it as denied.
fn scan_or_count(root: &OwnedFd, pid: u32, with_netns: bool, part: &mut ProcScan) -> Result<(), Errno> {
    let kept = part.sockets.len();
    let outcome = scan_process(root, pid, with_netns, part);
    if outcome.is_err() {
        part.sockets.truncate(kept); // a process half read is not kept
    }
    match outcome {
        Ok(()) => part.stats.scanned += 1,
        Err(Errno::NOENT | Errno::SRCH) => part.stats.vanished += 1,
        // An exiting process refuses its fd table too: that one has vanished.
        Err(Errno::ACCESS | Errno::PERM) if is_exiting(root, pid) => part.stats.vanished += 1,
        Err(e @ (Errno::MFILE | Errno::NFILE)) => return Err(e),
        Err(_) => {
            part.stats.denied += 1;
            part.denied.push((pid, read_netns(root, pid)));
        }
    }
    Ok(())
}

fn scan_process(root: &OwnedFd, pid: u32, with_netns: bool, scan: &mut ProcScan) -> Result<(), Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    // `Dir::new` reads through the descriptor it is given; `Dir::read_from` would reopen it
    // (`fcntl(F_GETFL)`, `openat(fd, ".")`, one more `close`): 3 of ~25 syscalls a process.
    // Entries are owned, so the same descriptor serves the `readlinkat` calls.
    let mut dir = Dir::new(openat(root, format!("{pid}/fd"), flags, Mode::empty())?)?;
    let index = scan.processes.len() as u32;
    let before = scan.sockets.len();
    let mut link = [0u8; 64];
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name();
        let Some(fd) = parse_u32(name.to_bytes()) else {
            continue;
        };
        let len = match readlinkat_raw(dir.fd()?, name, &mut link[..]) {
            Ok(len) => len,
            Err(Errno::NOENT) => continue, // closed meanwhile
            Err(e) => return Err(e),
        };
        if let Some(inode) = socket_inode(&link[..len]) {
            scan.sockets.push(SocketFd {
                inode,
                process: index,
                fd,
            });
        }
    }
    let holds_sockets = scan.sockets.len() > before;
    if holds_sockets || with_netns {
        let (netns, (kernel_thread, start_time)) = if with_netns {
            (read_netns(root, pid), kernel_thread_and_start(root, pid))
        } else {
            (None, (false, None))
        };
        scan.processes.push(Process {
            pid,
            comm: read_comm(root, pid),
            netns,
            kernel_thread,
            start_time,
            cgroup: read_cgroup(root, pid),
        });
    }
    Ok(())
}

fn read_comm(root: &OwnedFd, pid: u32) -> SysText {
    let read = || -> Result<SysText, Errno> {
        let file = openat(
            root,
            format!("{pid}/comm"),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut buf = [0u8; 64];
        let len = rustix::io::read(file.as_fd(), &mut buf[..])?;
        Ok(SysText::new(
            buf[..len].strip_suffix(b"\n").unwrap_or(&buf[..len]),
        ))
    };
    read().unwrap_or_else(|_| SysText::from("?"))
}

/// The fields of `/proc/PID/stat` after the command name (proc(5)), which is in parentheses
/// and may contain any byte: ` S PPID ...`. `None` when the process is gone.
fn stat_after_comm(root: &OwnedFd, pid: u32) -> Option<Vec<u8>> {
    let file = openat(
        root,
        format!("{pid}/stat"),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; 512];
    let len = rustix::io::read(file.as_fd(), &mut buf[..]).ok()?;
    let stat = &buf[..len];
    let start = stat.iter().rposition(|&b| b == b')')? + 1;
    Some(stat[start..].to_vec())
}

/// The cgroup path of `/proc/PID/cgroup` ([`cgroup::parse_proc_cgroup`]); the file is a few
/// hundred bytes even on a v1 host with every controller.
fn read_cgroup(root: &OwnedFd, pid: u32) -> Option<SysText> {
    let file = openat(
        root,
        format!("{pid}/cgroup"),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let len = rustix::io::read(file.as_fd(), &mut buf[..]).ok()?;
        if len == 0 || text.len() > 64 * 1024 {
            break;
        }
        text.extend_from_slice(&buf[..len]);
    }
    cgroup::parse_proc_cgroup(&text).map(|path| SysText::new(&path))
}

/// Gone, or a zombie (`Z`) or dead (`X`) task according to `/proc/PID/stat`.
fn is_exiting(root: &OwnedFd, pid: u32) -> bool {
    stat_after_comm(root, pid).is_none_or(|rest| matches!(rest.get(1), Some(b'Z' | b'X') | None))
}

/// From one read of `/proc/PID/stat`: `PF_KTHREAD` (include/linux/sched.h) in the flags
/// (9th field), and the start time (22nd field).
fn kernel_thread_and_start(root: &OwnedFd, pid: u32) -> (bool, Option<u64>) {
    match stat_after_comm(root, pid) {
        Some(rest) => parse_stat_rest(&rest),
        None => (false, None),
    }
}

/// The flags and start time from the fields after the comm: state(3) ppid(4) pgrp(5)
/// session(6) tty_nr(7) tpgid(8) flags(9) ... starttime(22).
fn parse_stat_rest(rest: &[u8]) -> (bool, Option<u64>) {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let Ok(rest) = std::str::from_utf8(rest) else {
        return (false, None);
    };
    let field = |n: usize| rest.split_ascii_whitespace().nth(n - 3)?.parse::<u64>().ok();
    (field(9).is_some_and(|flags| flags & PF_KTHREAD != 0), field(22))
}

fn open_root(proc_root: &Path) -> io::Result<OwnedFd> {
    rustix::fs::open(
        proc_root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io::Error::other(format!("{}: {e}", proc_root.display())))
}

fn read_netns(root: &OwnedFd, pid: u32) -> Option<u64> {
    let mut link = [0u8; 64];
    let len = readlinkat_raw(root, format!("{pid}/ns/net"), &mut link[..]).ok()?;
    bracketed_number(&link[..len], b"net:[")
}

/// `socket:[12345]` → 12345 modulo 2^32 (the link may print more than 32 bits, Linux 7.3).
pub fn socket_inode(link: &[u8]) -> Option<u32> {
    bracketed_number(link, b"socket:[").map(|inode| inode as u32)
}

/// `net:[4026531840]` and the like.
pub fn bracketed_number(link: &[u8], prefix: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(prefix)?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn parse_u32(name: &[u8]) -> Option<u32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_flags_and_start_time() {
        // The fields after `PID (comm)` of a real /proc/PID/stat line.
        let rest = b" S 1 1234 1234 0 -1 4194560 1000 0 0 0 10 5 0 0 20 0 1 0 987654 12345678 300";
        assert_eq!(parse_stat_rest(rest), (false, Some(987654)));
        let kthread = b" I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 0 -20 1 0 42 0 0";
        assert_eq!(parse_stat_rest(kthread), (true, Some(42)));
        assert_eq!(parse_stat_rest(b" S 1"), (false, None));
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(
            socket_inode(b"socket:[4294967297]"),
            Some(1),
            "compared modulo 2^32"
        );
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[12"), None);
        assert_eq!(bracketed_number(b"net:[4026531840]", b"net:["), Some(4026531840));
    }

    #[test]
    fn fake_proc_tree() {
        let tree = tempfile::tempdir().expect("fake /proc");
        let root = tree.path();
        let mk = |pid: &str, comm: &str, links: &[(&str, &str)]| {
            let fd = root.join(pid).join("fd");
            std::fs::create_dir_all(&fd).expect("mkdir");
            std::fs::write(root.join(pid).join("comm"), format!("{comm}\n")).expect("comm");
            for (n, target) in links {
                std::os::unix::fs::symlink(target, fd.join(n)).expect("symlink");
            }
        };
        mk(
            "10",
            "nginx",
            &[("3", "socket:[500]"), ("4", "socket:[501]"), ("5", "/dev/null")],
        );
        mk("11", "nginx", &[("7", "socket:[500]")]);
        mk("12", "cat", &[("0", "pipe:[9]")]);
        std::fs::create_dir_all(root.join("self")).expect("self");
        // A process that exited between readdir and the open of its fd directory.
        std::fs::create_dir_all(root.join("13")).expect("pid dir");
        let scan = ProcScan::scan(root, false).expect("scan");
        assert_eq!(
            scan.stats,
            ScanStats {
                scanned: 3,
                denied: 0,
                vanished: 1
            }
        );
        let owners: Vec<Owner> = scan.owners(500).collect();
        assert_eq!(
            owners,
            [
                Owner {
                    pid: 10,
                    comm: &SysText::from("nginx"),
                    cgroup: None,
                    fd: 3
                },
                Owner {
                    pid: 11,
                    comm: &SysText::from("nginx"),
                    cgroup: None,
                    fd: 7
                }
            ]
        );
        assert_eq!(scan.owners(501).count(), 1);
        assert_eq!(scan.owners(502).count(), 0);
        assert_eq!(scan.processes.len(), 2, "processes without sockets are not kept");
    }

    /// One pid entry that cannot be read (an `fd` link that loops, `ELOOP`) is one process not
    /// inspected, not the end of the walk.
    #[test]
    fn a_looping_entry_is_one_process_not_inspected() {
        let tree = tempfile::tempdir().expect("fake /proc");
        let root = tree.path();
        std::fs::create_dir_all(root.join("20")).expect("pid dir");
        std::os::unix::fs::symlink("fd", root.join("20/fd")).expect("loop");
        std::fs::create_dir_all(root.join("21/fd")).expect("pid dir");
        std::fs::write(root.join("21/comm"), "ok\n").expect("comm");
        std::os::unix::fs::symlink("socket:[7]", root.join("21/fd/3")).expect("link");
        let scan = ProcScan::scan(root, false).expect("scan");
        assert_eq!(
            scan.stats,
            ScanStats {
                scanned: 1,
                denied: 1,
                vanished: 0
            }
        );
        assert_eq!(scan.owners(7).count(), 1);
    }

    /// A process with 20,000 descriptors, 10,000 of them sockets: every one is kept.
    #[test]
    fn a_process_with_twenty_thousand_fds() {
        let tree = tempfile::tempdir().expect("fake /proc");
        let fd = tree.path().join("30/fd");
        std::fs::create_dir_all(&fd).expect("fd dir");
        std::fs::write(tree.path().join("30/comm"), "big\n").expect("comm");
        for n in 0..20_000u32 {
            let target = if n % 2 == 0 {
                format!("socket:[{}]", 100_000 + n)
            } else {
                "/dev/null".to_owned()
            };
            std::os::unix::fs::symlink(target, fd.join(n.to_string())).expect("link");
        }
        let scan = ProcScan::scan(tree.path(), false).expect("scan");
        assert_eq!(scan.sockets.len(), 10_000);
        assert_eq!(scan.owners(100_000).count(), 1);
        assert_eq!(scan.owners(119_998).next().map(|o| o.fd), Some(19_998));
    }

    #[test]
    fn unreadable_proc_root_is_an_error() {
        let err = ProcScan::scan(Path::new("/nonexistent/proc"), false).expect_err("fails");
        assert!(err.to_string().contains("/nonexistent/proc"), "{err}");
    }
}
