//! The syscall wrappers rustix does not provide: `ioctl(SIOCGSKNS)` (Linux 4.9,
//! net/socket.c `sock_ioctl`), which returns a new file descriptor for the network namespace
//! a socket was created in, and `getsockopt(TCP_INFO)` for its state.
//!
//! Together with `pidfd_open` + `pidfd_getfd` (Linux 5.6, needs ptrace rights over the
//! holder), it tells which namespace a socket held by another process belongs to: a socket
//! belongs to the namespace it was created in, not to the namespace of the process holding it.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use rustix::io;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode, ioctl};
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags, pidfd_getfd, pidfd_open};

/// `SIOCGSKNS` from `linux/sockios.h`.
const SIOCGSKNS: Opcode = 0x894C;

struct GetSocketNetns;

// SAFETY: SIOCGSKNS takes no argument and returns a new file descriptor, which
// `output_from_ptr` takes ownership of; nothing is read through the pointer.
unsafe impl Ioctl for GetSocketNetns {
    type Output = OwnedFd;
    const IS_MUTATING: bool = false;

    fn opcode(&self) -> Opcode {
        SIOCGSKNS
    }

    fn as_ptr(&mut self) -> *mut c_void {
        std::ptr::null_mut()
    }

    unsafe fn output_from_ptr(out: IoctlOutput, _: *mut c_void) -> io::Result<OwnedFd> {
        // SAFETY: on success the kernel returned a fresh descriptor that nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(out) })
    }
}

/// What a socket held by another process says about itself.
#[derive(Debug)]
pub struct HeldSocket {
    /// The network namespace it was created in (a descriptor of it, which also keeps it
    /// reachable for a census) and that namespace's inode.
    pub netns: OwnedFd,
    pub netns_inode: u64,
    /// `tcpi_state` of `TCP_INFO` (`tcp_get_info`): the state now, which may differ from the
    /// state at the dump for a socket that changed meanwhile.
    pub state: u8,
}

/// Asks socket `fd` of process `pid` for its namespace and TCP state, through a duplicate
/// (`pidfd_getfd`), closed before returning; the socket itself is not touched.
pub fn held_tcp_socket(pid: u32, fd: u32) -> io::Result<HeldSocket> {
    let pid = Pid::from_raw(pid as i32).ok_or(io::Errno::SRCH)?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    let socket = pidfd_getfd(&pidfd, fd as i32, PidfdGetfdFlags::empty())?;
    // SAFETY: `socket` is a valid open descriptor and GetSocketNetns upholds `Ioctl`'s contract.
    let netns = unsafe { ioctl(socket.as_fd(), GetSocketNetns) }?;
    let netns_inode = rustix::fs::fstat(&netns)?.st_ino;
    Ok(HeldSocket {
        netns,
        netns_inode,
        state: tcp_state(&socket)?,
    })
}

/// `tcpi_state`, the first byte of `struct tcp_info` (`linux/tcp.h`), read with
/// `getsockopt(IPPROTO_TCP, TCP_INFO)`, which rustix does not wrap.
fn tcp_state(socket: &OwnedFd) -> io::Result<u8> {
    let mut info = [0u8; 8];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info`, a live buffer of that size,
    // and updates `len`; the descriptor is valid for the call.
    let ret = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast::<c_void>(),
            &mut len,
        )
    };
    if ret != 0 {
        return Err(io::Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(io::Errno::IO));
    }
    Ok(info[0])
}

/// Whether fd 1 was closed when the process started (`sockdiag list >&-`). The Rust runtime
/// opens `/dev/null` on a closed standard fd before `main` (std's `sanitize_standard_fds`),
/// after which a closed stdout cannot be told from `>/dev/null`; so the question is asked
/// earlier, from `.init_array`, which the C runtime runs before Rust's own start-up.
pub fn stdout_was_closed() -> bool {
    STDOUT_CLOSED_AT_START.load(std::sync::atomic::Ordering::Relaxed)
}

static STDOUT_CLOSED_AT_START: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_closed_stdout() {
    // SAFETY: fcntl(F_GETFD) on fd 1 only reads its descriptor flags; it fails with EBADF
    // when fd 1 is not open.
    let closed = unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
    STDOUT_CLOSED_AT_START.store(closed, std::sync::atomic::Ordering::Relaxed);
}

// SAFETY: `.init_array` holds pointers to functions the C runtime calls once before `main`,
// with no arguments; `note_closed_stdout` is such a function and touches only an atomic.
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;
