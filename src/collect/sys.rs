//! The one syscall wrapper rustix does not provide: `ioctl(SIOCGSKNS)` (Linux 4.9,
//! net/socket.c `sock_ioctl`), which returns a new file descriptor for the network namespace
//! a socket was created in.
//!
//! Together with `pidfd_open` + `pidfd_getfd` (Linux 5.6, needs ptrace rights over the
//! holder), it tells which namespace a socket held by another process belongs to: a socket
//! belongs to the namespace it was created in, not to the namespace of the process holding it.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

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

/// Inode of the network namespace that socket `fd` of process `pid` was created in. The
/// duplicated descriptor is closed before returning; the socket itself is not touched.
pub fn socket_netns(pid: u32, fd: u32) -> io::Result<u64> {
    let pid = Pid::from_raw(pid as i32).ok_or(io::Errno::SRCH)?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    let socket = pidfd_getfd(&pidfd, fd as i32, PidfdGetfdFlags::empty())?;
    // SAFETY: `socket` is a valid open descriptor and GetSocketNetns upholds `Ioctl`'s contract.
    let netns = unsafe { ioctl(socket.as_fd(), GetSocketNetns) }?;
    Ok(rustix::fs::fstat(&netns)?.st_ino)
}
