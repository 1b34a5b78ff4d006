//! The syscall wrappers rustix does not provide: `ioctl(SIOCGSKNS)` (Linux 4.9,
//! net/socket.c `sock_ioctl`), which returns a new file descriptor for the network namespace
//! a socket was created in, and `getsockopt(TCP_INFO)` for its state.
//!
//! Together with `pidfd_open` + `pidfd_getfd` (Linux 5.6, needs ptrace rights over the
//! holder), it tells which namespace a socket held by another process belongs to: a socket
//! belongs to the namespace it was created in, not to the namespace of the process holding it.
//!
//! An MPTCP socket (`IPPROTO_MPTCP`) is asked `getsockopt(SOL_MPTCP, MPTCP_TCPINFO)` (Linux
//! 5.16, net/mptcp/sockopt.c `mptcp_getsockopt_tcpinfo`) instead of `TCP_INFO`: it walks the
//! subflows already on the socket's list and creates none, while `TCP_INFO` on an MPTCP socket
//! without a subflow goes through `mptcp_getsockopt_first_sf_only` → `__mptcp_nmpc_sk`, which
//! *creates* the first subflow, a TCP socket that `TCP: alloc` then counts (seen on 6.18: alloc
//! +1, `sockets: used` +1). Asking must not change what is counted.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use rustix::io;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode, ioctl};
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags, pidfd_getfd, pidfd_open};

use crate::model::Family;

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

/// A descriptor of process `pid` (`pidfd_open`), through which its sockets are duplicated:
/// opened once per process, whatever the number of its sockets asked.
pub fn pidfd(pid: u32) -> io::Result<OwnedFd> {
    let pid = Pid::from_raw(pid as i32).ok_or(io::Errno::SRCH)?;
    pidfd_open(pid, PidfdFlags::empty())
}

/// What a socket held by another process said about itself.
#[derive(Debug)]
pub enum Held {
    Tcp(HeldSocket),
    Mptcp(HeldMptcp),
    /// Neither TCP nor MPTCP.
    Other,
}

/// A TCP socket held by another process.
#[derive(Debug)]
pub struct HeldSocket {
    pub family: Family,
    /// The network namespace it was created in (a descriptor of it, which also keeps it
    /// reachable for a census) and that namespace's inode.
    pub netns: OwnedFd,
    pub netns_inode: u64,
    /// `tcpi_state` of `TCP_INFO` (`tcp_get_info`): the state now, which may differ from the
    /// state at the dump for a socket that changed meanwhile.
    pub state: u8,
}

/// An MPTCP socket held by another process.
#[derive(Debug)]
pub struct HeldMptcp {
    /// Its family, which its subflows share (`mptcp_subflow_create_socket`).
    pub family: Family,
    /// The network namespace it (and so each of its subflows) was created in.
    pub netns: OwnedFd,
    pub netns_inode: u64,
    /// `tcpi_state` of each TCP subflow on its list, first subflow included; empty when no
    /// subflow was created yet (an MPTCP socket never bound, connected nor given a TCP option).
    pub subflows: Vec<u8>,
}

/// The family of a TCP or MPTCP socket, and whether it is MPTCP, from its protocol name
/// (`system.sockprotoname`, the `struct proto` name its file was created with: `TCP`,
/// `TCPv6`, `MPTCP`, `MPTCPv6`); `None` for any other protocol.
pub fn tcp_kind(protocol_name: &[u8]) -> Option<(Family, bool)> {
    match protocol_name {
        b"TCP" => Some((Family::Inet, false)),
        b"TCPv6" => Some((Family::Inet6, false)),
        b"MPTCP" => Some((Family::Inet, true)),
        b"MPTCPv6" => Some((Family::Inet6, true)),
        _ => None,
    }
}

/// Asks socket `fd` of the process of `pidfd`, which held the socket of inode `inode` when
/// its fds were read, what it is, through a duplicate (`pidfd_getfd`) closed before
/// returning; the socket itself is not touched. A descriptor that now holds another socket
/// (closed and its number reused since) is `EBADF`, as one closed is. Its protocol
/// name first (`fgetxattr(system.sockprotoname)`: an accepted MPTCP socket fallen back to TCP
/// keeps its listener's `MPTCP`, while its `SO_PROTOCOL` is the subflow's TCP); a TCP socket
/// then gives its state and its namespace, an MPTCP socket its namespace and its subflows'
/// states, without creating a subflow (see the module docs).
pub fn held_socket(pidfd: &OwnedFd, fd: u32, inode: u32) -> io::Result<Held> {
    let socket = pidfd_getfd(pidfd, fd as i32, PidfdGetfdFlags::empty())?;
    // `idiag_inode` and the walk's inodes are the low 32 bits.
    if rustix::fs::fstat(&socket)?.st_ino as u32 != inode {
        return Err(io::Errno::BADF);
    }
    let mut name = [0u8; 32];
    let len = rustix::fs::fgetxattr(&socket, "system.sockprotoname", &mut name[..])?;
    let name = &name[..len];
    let name = name.split(|&b| b == 0).next().unwrap_or(name);
    let Some((family, mptcp)) = tcp_kind(name) else {
        return Ok(Held::Other);
    };
    // SAFETY: `socket` is a valid open descriptor and GetSocketNetns upholds `Ioctl`'s contract.
    let netns = unsafe { ioctl(socket.as_fd(), GetSocketNetns) }?;
    let netns_inode = rustix::fs::fstat(&netns)?.st_ino;
    if !mptcp {
        return Ok(Held::Tcp(HeldSocket {
            family,
            netns,
            netns_inode,
            state: tcp_state(&socket)?,
        }));
    }
    let subflows = match mptcp_subflow_states(&socket) {
        Ok(states) => states,
        // `mptcp_getsockopt` hands every option of a socket fallen back to plain TCP to its
        // one subflow (`__mptcp_tcp_fallback`), where SOL_MPTCP is EOPNOTSUPP (as it is before
        // 5.16, when the first subflow was created with the socket): that subflow exists, so
        // TCP_INFO reads it and creates nothing.
        Err(io::Errno::OPNOTSUPP) => vec![tcp_state(&socket)?],
        Err(e) => return Err(e),
    };
    Ok(Held::Mptcp(HeldMptcp {
        family,
        netns,
        netns_inode,
        subflows,
    }))
}

/// `SOL_MPTCP` and `MPTCP_TCPINFO` (`linux/socket.h`, `linux/mptcp.h`), not in libc.
const SOL_MPTCP: libc::c_int = 284;
const MPTCP_TCPINFO: libc::c_int = 2;
/// Size of `struct mptcp_subflow_data` (`linux/mptcp.h`): `size_subflow_data`,
/// `num_subflows`, `size_kernel`, `size_user`, each a u32.
const SUBFLOW_DATA_LEN: usize = 16;
/// Bytes of each subflow's `struct tcp_info` asked for: `tcpi_state` is the first.
const TCP_INFO_PREFIX: usize = 8;
/// Subflows read at most (the in-kernel path manager allows 8 per connection).
const MAX_SUBFLOWS: usize = 64;

/// The request `MPTCP_TCPINFO` reads: a `struct mptcp_subflow_data` header asking for
/// `TCP_INFO_PREFIX` bytes of each subflow's `tcp_info`, then room for `room` of them.
pub fn subflow_request(room: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; SUBFLOW_DATA_LEN + room * TCP_INFO_PREFIX];
    buffer[..4].copy_from_slice(&(SUBFLOW_DATA_LEN as u32).to_ne_bytes());
    buffer[12..16].copy_from_slice(&(TCP_INFO_PREFIX as u32).to_ne_bytes());
    buffer
}

/// What `MPTCP_TCPINFO` answered, decoded: the subflows' states, or how many subflows there
/// are when the buffer held fewer (`Err`). `len` is the `optlen` the kernel returned.
pub fn decode_subflows(buffer: &[u8], len: usize) -> Result<Vec<u8>, usize> {
    let word = |at: usize| {
        buffer
            .get(at..at + 4)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let (header, count, user) = (word(0), word(4), word(12));
    // `mptcp_put_subflow_data`: the header as asked, then `size_user` bytes per subflow copied.
    if count == 0 {
        return Ok(Vec::new());
    }
    let copied = len.saturating_sub(header) / user.max(1);
    if user == 0 || copied < count {
        return Err(count);
    }
    Ok((0..count)
        .filter_map(|i| buffer.get(header + i * user).copied())
        .collect())
}

/// The states of an MPTCP socket's subflows (`MPTCP_TCPINFO`).
fn mptcp_subflow_states(socket: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut room = 4;
    loop {
        let mut buffer = subflow_request(room);
        let mut len = buffer.len() as libc::socklen_t;
        // SAFETY: the kernel reads the header and writes at most `len` bytes into `buffer`, a
        // live buffer of that size, and updates `len`; the descriptor is valid for the call.
        let ret = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                SOL_MPTCP,
                MPTCP_TCPINFO,
                buffer.as_mut_ptr().cast::<c_void>(),
                &mut len,
            )
        };
        if ret != 0 {
            return Err(io::Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(io::Errno::IO));
        }
        match decode_subflows(&buffer, len as usize) {
            Ok(states) => return Ok(states),
            Err(count) if count > room && room < MAX_SUBFLOWS => room = count.min(MAX_SUBFLOWS),
            Err(_) => return Err(io::Errno::MSGSIZE),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer of `mptcp_getsockopt_tcpinfo` to `subflow_request(room)`, with `states`.
    fn answer(room: usize, states: &[u8]) -> (Vec<u8>, usize) {
        let mut buffer = subflow_request(room);
        buffer[4..8].copy_from_slice(&(states.len() as u32).to_ne_bytes());
        buffer[8..12].copy_from_slice(&280u32.to_ne_bytes()); // size_kernel: sizeof tcp_info
        let copied = states.len().min(room);
        for (i, state) in states.iter().take(copied).enumerate() {
            buffer[16 + i * 8] = *state;
        }
        (buffer, 16 + copied * 8)
    }

    #[test]
    fn a_held_socket_is_asked_through_a_duplicate_of_the_same_inode() {
        use std::os::unix::fs::MetadataExt;
        let socket = rustix::net::socket(
            rustix::net::AddressFamily::INET6,
            rustix::net::SocketType::STREAM,
            None,
        )
        .expect("socket");
        let inode = std::fs::File::from(socket.try_clone().expect("dup"))
            .metadata()
            .expect("fstat")
            .ino() as u32;
        let me = pidfd(std::process::id()).expect("pidfd of this process");
        let fd = socket.as_raw_fd() as u32;
        match held_socket(&me, fd, inode).expect("asked") {
            Held::Tcp(held) => {
                assert_eq!((held.family, held.state), (Family::Inet6, 7), "TCP_CLOSE");
                let own = std::fs::metadata("/proc/thread-self/ns/net").expect("netns");
                assert_eq!(held.netns_inode, own.ino());
            }
            other => panic!("{other:?}"),
        }
        // The number now names another socket (closed and reused): not the one asked about.
        assert_eq!(
            held_socket(&me, fd, inode.wrapping_add(1)).err(),
            Some(io::Errno::BADF)
        );
        let unix = rustix::net::socket(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            None,
        )
        .expect("socket");
        let unix_inode = std::fs::File::from(unix.try_clone().expect("dup"))
            .metadata()
            .expect("fstat")
            .ino() as u32;
        assert!(matches!(
            held_socket(&me, unix.as_raw_fd() as u32, unix_inode),
            Ok(Held::Other)
        ));
    }

    #[test]
    fn subflow_request_asks_the_state_of_each_subflow() {
        let request = subflow_request(2);
        assert_eq!(request.len(), 16 + 2 * 8);
        assert_eq!(&request[..4], &16u32.to_ne_bytes(), "size_subflow_data");
        assert_eq!(&request[4..12], &[0; 8], "num_subflows and size_kernel must be 0");
        assert_eq!(&request[12..16], &8u32.to_ne_bytes(), "size_user");
    }

    #[test]
    fn subflow_states_are_decoded() {
        let (buffer, len) = answer(4, &[7]);
        assert_eq!(
            decode_subflows(&buffer, len),
            Ok(vec![7]),
            "one TCP_CLOSE subflow"
        );
        let (buffer, len) = answer(4, &[]);
        assert_eq!(
            decode_subflows(&buffer, len),
            Ok(vec![]),
            "no subflow created yet"
        );
        let (buffer, len) = answer(4, &[1, 1, 10]);
        assert_eq!(decode_subflows(&buffer, len), Ok(vec![1, 1, 10]));
    }

    #[test]
    fn too_small_a_buffer_says_how_many_subflows() {
        let (buffer, len) = answer(2, &[1, 1, 1, 7, 7]);
        assert_eq!(decode_subflows(&buffer, len), Err(5));
        assert_eq!(
            decode_subflows(&[], 0),
            Ok(vec![]),
            "nothing answered: no subflow"
        );
    }
}
