//! The running kernel as the oracle of `eval`: in a private network namespace with a known
//! population of TCP sockets, every expression of the ss oracle (and sockdiag's extras) is
//! dumped once with its program and once without, and `Filter::matches` must keep exactly the
//! rows the kernel kept. Needs root (unshare(CLONE_NEWNET)); skipped otherwise, outside CI.
//!
//! Self-contained on purpose (its own request bytes and `struct inet_diag_msg` reading), so
//! that it checks the kernel's behaviour and not the census code.
#![allow(unsafe_code)] // unshare(2), as the integration tests do

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;

use netlink_sys::{Socket as NetlinkSocket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};
use rustix::net::{AddressFamily, SocketType, ipproto};

use super::compile::tests::{SERVICES, expressions, words};
use super::{Services, parse};
use crate::model::{Endpoint, Family, Proto, Socket, State};

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

#[test]
#[cfg_attr(not(root_tests), ignore = "needs root: run cargo test as root")]
fn kernel_keeps_what_matches_keeps() {
    assert!(
        rustix::process::geteuid().is_root(),
        "needs root for a private netns: run cargo test as root; without root it is reported ignored (build.rs)"
    );
    // A thread of its own: unshare moves the calling thread only, and libtest may run tests
    // on the main thread (--test-threads=1).
    std::thread::spawn(in_private_netns).join().expect("test thread");
}

fn in_private_netns() {
    // SAFETY: CLONE_NEWNET changes only this thread's network namespace.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }.expect("unshare");
    for args in [
        &["link", "set", "lo", "up"][..],
        &["addr", "add", "10.0.0.1/8", "dev", "lo"],
        &["addr", "add", "192.168.1.7/24", "dev", "lo"],
        &["-6", "addr", "add", "2001:db8::5/64", "dev", "lo", "nodad"],
    ] {
        let status = Command::new("ip").args(args).status().expect("run ip");
        assert!(status.success(), "ip {args:?}");
    }
    let _population = populate();

    let services = Services::parse(SERVICES);
    let extras = [
        "dst inet:*",
        "src inet6:*",
        "src unix:* or sport = :22",
        "not autobound and sport >= :1024",
    ];
    let expressions = expressions().into_iter().chain(extras);
    let mut diag = NetlinkSocket::new(NETLINK_SOCK_DIAG).expect("netlink socket");
    diag.bind_auto().expect("bind");
    diag.connect(&NetlinkAddr::new(0, 0)).expect("connect");
    let all = dump(&mut diag, None);
    assert!(all.len() >= 20, "population: {} rows", all.len());
    let mut decided = 0;
    for expr in expressions {
        let filter = parse(&words(expr), &services).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let kept = dump(&mut diag, filter.bytecode().as_deref());
        let kept_none_expected = ["dst [fe80::1]:443", "not ( sport = :22 and dport = :80 )"];
        assert!(
            (1..all.len()).contains(&kept.len()) || kept_none_expected.contains(&expr) || expr == "src *",
            "{expr:?} keeps {} of {} rows: make the population tell",
            kept.len(),
            all.len()
        );
        for (cookie, row) in &all {
            let ours = super::eval::eval(filter.expr.as_ref().expect("expression"), row);
            let kernel = kept.contains_key(cookie);
            if let Some(ours) = ours {
                assert_eq!(ours, kernel, "{expr:?} on {:?} -> {:?}", row.local, row.peer);
                decided += 1;
            }
            assert!(
                filter.matches(row) || !kernel,
                "{expr:?}: kept by the kernel, dropped by matches"
            );
        }
        assert!(
            kept.keys().all(|k| all.contains_key(k)),
            "{expr:?}: stable population"
        );
    }
    assert!(decided > 1000, "{decided} rows decided");
}

/// Sockets on the ports and networks of the expressions: listeners, connections over IPv4,
/// IPv6 and v4-mapped IPv6, and one bound-inactive socket. Kept open by the caller.
fn populate() -> Vec<Box<dyn std::any::Any>> {
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    let listen = |addr: &str| TcpListener::bind(addr).unwrap_or_else(|e| panic!("listen {addr}: {e}"));
    let listeners = [
        listen("127.0.0.1:22"),
        listen("10.0.0.1:443"),
        listen("192.168.1.7:2222"),
        listen("192.168.1.7:443"),
        listen("127.0.0.1:8080"),
        listen("10.1.2.3:7000"),
        listen("[::]:80"), // dual stack: IPv4 peers arrive v4-mapped
        listen("[::1]:8080"),
        listen("[2001:db8::5]:1000"),
    ];
    let connect = |from: Option<&str>, to: &str| {
        let to: SocketAddr = to.parse().expect("to");
        let family = if to.is_ipv4() {
            AddressFamily::INET
        } else {
            AddressFamily::INET6
        };
        let fd = rustix::net::socket(family, SocketType::STREAM, Some(ipproto::TCP)).expect("socket");
        if let Some(from) = from {
            let from: SocketAddr = from.parse().expect("from");
            rustix::net::bind(&fd, &from).unwrap_or_else(|e| panic!("bind {from}: {e}"));
        }
        // The local route of a new IPv6 address comes from a work queue, a moment later.
        let mut tries = 0;
        while let Err(e) = rustix::net::connect(&fd, &to) {
            tries += 1;
            assert!(
                e == rustix::io::Errno::NETUNREACH && tries < 200,
                "connect {to}: {e}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        TcpStream::from(fd)
    };
    for (from, to) in [
        (None, "127.0.0.1:22"),
        (Some("127.0.0.1:2048"), "127.0.0.1:22"),
        (None, "10.0.0.1:443"),
        (Some("10.200.0.1:1"), "10.0.0.1:443"),
        (Some("192.168.1.7:1024"), "192.168.1.7:2222"),
        (None, "192.168.1.7:443"),
        (None, "127.0.0.1:8080"),
        (None, "10.1.2.3:7000"),
        (None, "127.0.0.1:80"),
        (Some("10.0.0.1:1025"), "10.0.0.1:80"),
        (None, "[::ffff:10.0.0.1]:443"),
        (None, "[::1]:8080"),
        (Some("[::1]:22"), "[::1]:8080"),
        (None, "[2001:db8::5]:1000"),
        (Some("[2001:db8::5]:2048"), "[2001:db8::5]:1000"),
        (None, "[::1]:80"),
    ] {
        keep.push(Box::new(connect(from, to)));
    }
    for listener in &listeners {
        listener.set_nonblocking(true).expect("nonblocking");
        while let Ok((stream, _)) = listener.accept() {
            keep.push(Box::new(stream));
        }
    }
    let bound = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).expect("socket");
    rustix::net::bind(&bound, &"10.0.0.1:2049".parse::<SocketAddr>().expect("addr")).expect("bind");
    keep.push(Box::new(bound));
    keep.extend(listeners.map(|l| Box::new(l) as Box<dyn std::any::Any>));
    keep
}

/// Every TCP socket of both families, by cookie, dumped with `program` as its filter.
fn dump(diag: &mut NetlinkSocket, program: Option<&[u8]>) -> HashMap<u64, Socket> {
    let mut rows = HashMap::new();
    for family in [AF_INET, AF_INET6] {
        let mut request = Vec::new();
        request.extend([0; 4]); // nlmsg_len, below
        request.extend(20u16.to_ne_bytes()); // SOCK_DIAG_BY_FAMILY
        request.extend(0x301u16.to_ne_bytes()); // NLM_F_REQUEST | NLM_F_DUMP
        request.extend([0; 8]); // seq, pid
        request.extend([family, 6, 0, 0]); // IPPROTO_TCP, no extensions
        request.extend(State::ALL_BITS.to_ne_bytes());
        request.extend([0; 48]); // struct inet_diag_sockid
        if let Some(program) = program {
            request.extend(super::compile::attribute(program));
        }
        let len = u32::try_from(request.len()).expect("small");
        request[..4].copy_from_slice(&len.to_ne_bytes());
        diag.send(&request, 0).expect("send");
        'dump: loop {
            let (datagram, _) = diag.recv_from_full().expect("recv");
            let mut rest = &datagram[..];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes(rest[..4].try_into().expect("4")) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                let payload = &rest[16..len];
                match kind {
                    3 => break 'dump, // NLMSG_DONE
                    2 => panic!("NLMSG_ERROR {:?} for {program:02x?}", &payload[..4]),
                    _ => {
                        let row = row(payload);
                        rows.insert(row.cookie, row);
                    }
                }
                rest = &rest[(len + 3) & !3..];
            }
        }
    }
    rows
}

/// `struct inet_diag_msg` as a row.
fn row(msg: &[u8]) -> Socket {
    let family = msg[0];
    let port = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
    let addr = |at: usize| -> IpAddr {
        if family == AF_INET {
            Ipv4Addr::new(msg[at], msg[at + 1], msg[at + 2], msg[at + 3]).into()
        } else {
            Ipv6Addr::from(<[u8; 16]>::try_from(&msg[at..at + 16]).expect("16")).into()
        }
    };
    Socket {
        proto: Proto::Tcp,
        family: if family == AF_INET {
            Family::Inet
        } else {
            Family::Inet6
        },
        state: State(msg[1]),
        timewait: msg[2] == 3,
        local: Endpoint::Ip(SocketAddr::new(addr(8), port(4))),
        peer: Endpoint::Ip(SocketAddr::new(addr(24), port(6))),
        unix_type: None,
        v6only: None,
        peer_inode: 0,
        recv_q: 0,
        send_q: 0,
        uid: 0,
        inode: 0,
        cookie: u64::from_ne_bytes(msg[44..52].try_into().expect("8")),
    }
}
