#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/seeds/<target>/ from the test fixtures and the byte
strings of the unit tests. Run from the repository root:  python3 fuzz/make-seeds.py
The seeds are committed; run this again only to change them."""
import os, struct

F = "tests/fixtures/"
SEEDS = "fuzz/seeds/"


def read(name):
    with open(F + name, "rb") as f:
        return f.read()


def write(target, name, data):
    os.makedirs(SEEDS + target, exist_ok=True)
    with open(f"{SEEDS}{target}/{name}", "wb") as f:
        f.write(data)


# sockstat: SOCKSTAT 0xff [SOCKSTAT6 0xff] SNMP
for tag, v4, v6, snmp in [
    ("6.18", "sockstat-6.18.txt", "sockstat6-6.18.txt", "snmp-6.18.txt"),
    ("6.18-new-netns", "sockstat-6.18-new-netns.txt", "sockstat6-6.18-new-netns.txt", "snmp-6.18-new-netns.txt"),
    ("6.18-populated", "sockstat-6.18-populated-netns.txt", "sockstat6-6.18-populated-netns.txt",
     "snmp-6.18-populated-netns.txt"),
    ("5.4", "sockstat-5.4.txt", "sockstat6-5.4.txt", "snmp-6.18.txt"),
    ("7.3", "sockstat-7.3.txt", "sockstat6-7.3.txt", "snmp-6.18.txt"),
]:
    write("sockstat", tag, read(v4) + b"\xff" + read(v6) + b"\xff" + read(snmp))
write("sockstat", "5.4-no-ipv6", read("sockstat-5.4.txt") + b"\xff" + read("snmp-6.18.txt"))

# saved_ss: every saved ss -s fixture.
for name in sorted(os.listdir(F)):
    if name.startswith("ss-s-"):
        write("saved_ss", name[len("ss-s-"):-len(".txt")], read(name))
write("saved_ss", "negative-closed", b"Total: 3\nTCP:   4 (estab 0, closed -3, orphaned 0, timewait 3)\n")

# diag: each datagram of the captured dump (4-byte little-endian length, then the datagram),
# and the messages of the decode tests.
capture = read("dump-tcp-6.18.bin")
i = n = 0
while i < len(capture):
    (length,) = struct.unpack_from("<I", capture, i)
    write("diag", f"dump-tcp-6.18-{n}", capture[i + 4:i + 4 + length])
    i += 4 + length
    n += 1


def message(kind, flags, seq, port, payload):
    data = struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, port) + payload
    return data + bytes(-len(data) % 4)


SOCK_DIAG_BY_FAMILY, NLMSG_ERROR, NLMSG_DONE, NLM_F_DUMP_INTR = 20, 2, 3, 16
TIMEWAIT_FIN_WAIT2 = bytes([2, 5, 3, 0, 0xa0, 0x5c, 0x13, 0x88, 127, 0, 0, 1] + [0] * 12
                           + [127, 0, 0, 1] + [0] * 12 + [0] * 4 + [0x2a, 0, 0, 0, 1, 0, 0, 0]
                           + [0x10, 0x27, 0, 0] + [0] * 16)
UNIX_ABSTRACT = bytes([1, 1, 1, 0, 0x39, 0x30, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0,
                       9, 0, 0, 0, 0, ord("d"), ord("b"), 0, ord("x"), 0, 0, 0,
                       8, 0, 2, 0, 0x3a, 0x30, 0, 0,
                       12, 0, 4, 0, 3, 0, 0, 0, 0, 0, 0, 0,
                       8, 0, 7, 0, 0xe8, 0x03, 0, 0])
assert len(TIMEWAIT_FIN_WAIT2) == 72 and len(UNIX_ABSTRACT) == 56
done = message(NLMSG_DONE, 2, 9, 77, struct.pack("=i", 0))
write("diag", "timewait-then-done",
      message(SOCK_DIAG_BY_FAMILY, 2, 9, 77, TIMEWAIT_FIN_WAIT2)
      + message(SOCK_DIAG_BY_FAMILY, 2, 8, 77, TIMEWAIT_FIN_WAIT2) + done)
write("diag", "unix-abstract", message(SOCK_DIAG_BY_FAMILY, 2, 9, 77, UNIX_ABSTRACT) + done)
write("diag", "error-enoent", message(NLMSG_ERROR, 0, 1, 5, struct.pack("=i", -2) + bytes(16)))
write("diag", "done-interrupted", message(NLMSG_DONE, NLM_F_DUMP_INTR | 2, 1, 5, struct.pack("=i", 0)))

# cgroup: /proc/PID/cgroup files of the unit tests.
ID = "3f2a1b9c04deca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b980"
UID = "6f1c2b3a-4d5e-4f60-8a9b-0c1d2e3f4a5b"
cgroups = {
    "v2-service": "0::/system.slice/nginx.service\n",
    "v2-user": "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n",
    "v2-docker": f"0::/system.slice/docker-{ID}.scope\n",
    "v2-k8s": f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID.replace('-', '_')}.slice/"
              f"cri-containerd-{ID}.scope\n",
    "v2-k8s-cgroupfs": f"0::/kubepods/besteffort/pod{UID}/crio-{ID}\n",
    "v2-podman-conmon": f"0::/machine.slice/libpod-conmon-{ID}.scope\n",
    "v2-lxc": "0::/lxc.payload.web1/system.slice/nginx.service\n",
    "v2-deleted": "0::/system.slice/gone.service (deleted)\n",
    "hybrid": f"3:memory:/user.slice\n2:pids:/system.slice/docker-{ID}.scope\n"
              f"1:name=systemd:/system.slice/docker-{ID}.scope\n0::/system.slice/containerd.service\n",
    "v1": f"6:blkio:/docker/{ID}\n5:net_prio,net_cls:/docker/{ID}\n2:cpuacct,cpu:/docker/{ID}\n"
          f"1:name=systemd:/docker/{ID}\n",
    "v1-no-systemd": "3:memory:/lxc/web1\n2:cpu,cpuacct:/lxc/web1\n1:name=openrc:/sshd\n",
    "v1-unmounting": "3:name=cgrp2: (deleted)\n1:name=systemd:/init.scope\n0::/init.scope\n",
}
for name, text in cgroups.items():
    write("cgroup", name, text.encode())
write("cgroup", "v2-not-utf8", b"0::/user.slice/\xff\xfe.service\n")

# escape: the hostile names of the escape tests.
for i, name in enumerate([b"ev\x1b[31mil\nx\t", b"\0bad", b"caf\xe9", "\u202etxt.exe".encode(),
                          "\u009b31m".encode(), b"\x9b31m", b"a\\b", b"\\x1b", b"ok\rfake\x7f\x07",
                          "ng\u200binx\ufeff".encode(), "a\U000e0041".encode(), b"na\xc3",
                          b"\xc0\xaf\xed\xa0\x80", "a b caf\u00e9 \u9032\u7a0b \u2603".encode()]):
    write("escape", f"hostile-{i:02}", name)
