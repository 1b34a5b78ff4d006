//! Who a process belongs to, from its `/proc/PID/cgroup`: the systemd unit, the container
//! (Docker, containerd, CRI-O, Podman, LXC) and the Kubernetes pod.
//!
//! A command name is whatever the process chose; its cgroup is where systemd, a container
//! runtime or the kubelet put it. Showing the cgroup beside the owner answers "which service,
//! which container" without a second tool. Everything here is pure (bytes in, values out): the
//! `/proc` walk reads the file once per process and hands its bytes to [`parse_proc_cgroup`],
//! then the path to [`classify`].
//!
//! # The file
//!
//! `/proc/PID/cgroup` (cgroups(7), "/proc files"; the kernel's `proc_cgroup_show`) has one
//! line per hierarchy, `hierarchy-ID:controller-list:cgroup-path`, the v1 hierarchies first in
//! descending ID order and the unified (v2) hierarchy last, as `0::PATH`. A host with cgroup
//! v2 only has that line alone. The path is relative to the reader's cgroup namespace (so it
//! may start with `/..`), is written without any escaping (a cgroup name is any bytes but `/`
//! and NUL, and a delegated subtree lets an unprivileged process make one, newlines included),
//! and the kernel appends ` (deleted)` on v2 when the cgroup was removed.
//!
//! Which path is the process's cgroup:
//!
//! - text that starts with `0::` comes from a v2-only host: the path is all the rest, up to
//!   the final newline and without a ` (deleted)` suffix. A newline inside is part of the path
//!   (there is no other line it could start), so a name with a line break cannot forge one.
//! - otherwise (v1, or hybrid: v1 controllers plus an empty `0::` hierarchy): the first that is
//!   not the root `/` of the `name=systemd` path, the `0::` path, the `memory` controller's
//!   path; the root if all of those are. `name=systemd` wins over `0::` because that is where
//!   systemd keeps its units on such a host, and because runtimes with a v1 driver (Docker's
//!   and the kubelet's cgroupfs drivers) move the container into every v1 hierarchy,
//!   `name=systemd` included, but leave the controller-less unified one alone, so `0::` shows
//!   the shim's cgroup (`/system.slice/containerd.service`), not the container's. The root
//!   is passed over because the kernel shows `/` for the v1 hierarchies of an exiting process.
//!   `memory` is for v1 hosts without systemd. Here lines cannot be told apart when a path
//!   holds a newline: a line that does not parse, or a hierarchy ID or controller seen twice,
//!   gives `None` rather than a guess. A v1 line whose path reads ` (deleted)` (a hierarchy
//!   being unmounted, on kernels that read the file without the cgroup mutex) is passed over.
//! - text that does not end in a newline is cut short (or not this file): `None`.
//!
//! # Names
//!
//! [`classify`] walks the path from the root and recognises, per component:
//!
//! | component | meaning | who names it |
//! |---|---|---|
//! | `*.service`, `*.scope`, `*.socket`, `*.mount`, `*.swap` | a systemd unit (systemd.unit(5)) | systemd |
//! | `user@UID.service` | UID's user manager: units below it are that user's | systemd |
//! | `machine-*.scope` | a systemd-nspawn or libvirt guest, delegated to it | systemd-machined |
//! | `docker-<id>.scope`; `<id>` after `docker` | a Docker container (systemd, cgroupfs driver) | dockerd |
//! | `cri-containerd-<id>.scope`, `nerdctl-<id>.scope` | a containerd container | containerd |
//! | `crio-<id>.scope`, `crio-<id>` | a CRI-O container | CRI-O |
//! | `libpod-<id>.scope`, `libpod-<id>` | a Podman container (rootful or rootless) | Podman |
//! | `crio-conmon-<id>.scope`, `libpod-conmon-<id>.scope` | conmon, the container's monitor | CRI-O, Podman |
//! | `lxc.payload.<name>`; `<name>` after `lxc` | an LXC/LXD/Incus container (LXC 4+, older) | LXC |
//! | `lxc.monitor.<name>` | LXC's monitor of that container | LXC |
//! | `kubepods-[QOS-]pod<uid>.slice`, `pod<uid>` under `kubepods` | a Kubernetes pod (systemd driver with `_` for `-`, cgroupfs driver) | kubelet |
//! | `<id>` inside a pod | a container whose runtime the path does not name (cgroupfs driver) | runtime |
//!
//! `<id>` is 64 lower-case hex digits. A unit name must be one systemd could have made
//! (ASCII letters, digits and `:-_.\@`, at most 255 bytes); anything else is not a unit.
//!
//! Who may name a component decides what is believed. Below a container's cgroup the names
//! are the container's own (a container with systemd inside, Docker-in-Docker, a kind node
//! running pods): the outermost container is the one reported, and no unit is taken from
//! inside it, else a container could claim another one's ID or a system service's name. The
//! same holds for a `machine-*.scope`. Below `user@UID.service` the user's manager, and the
//! user by hand, may create any name, `sshd.service` or `docker-<id>.scope` included: what is
//! found there is reported with that user ([`Classified::user`]), and the label says so.
//! The conmon and LXC monitor processes run on the host, outside the container they watch:
//! they get [`Classified::monitor`], not [`Classified::container`].
//!
//! # Labels
//!
//! [`Classified::label`] is the short form shown in the owner column, for example
//! `nginx[812] fd 7 nginx.service` or `python3[4410] fd 3 docker:3f2a1b9c04de`:
//!
//! - a container: `RUNTIME:ID12` with the runtime in lower case (`docker`, `containerd`,
//!   `crio`, `podman`) and the first 12 hex digits of its ID, as `docker ps` and `podman ps`
//!   show it; `lxc:NAME` with the whole container name;
//! - a container in a Kubernetes pod: `k8s:POD8/ID12`, the first 8 characters of the pod's
//!   UID (`kubectl get pod -o jsonpath='{.metadata.uid}'`) and of the container's ID (which
//!   `crictl ps` shows with one more digit);
//! - a monitor: `RUNTIME-monitor:ID12` (`podman-monitor:3f2a1b9c04de`, `lxc-monitor:web1`);
//! - otherwise the unit name as it is (`nginx.service`, `session-3.scope`, `init.scope`);
//! - any of these below a user manager gets `user@UID:` in front (`user@1000:foo.service`,
//!   `user@1000:podman:3f2a1b9c04de`); the manager's own cgroup is `user@1000.service`;
//! - nothing recognised (the root `/`, a bare slice, an unknown name): no label.
//!
//! A label is built from parts checked above and is printable ASCII except an LXC name, which
//! is any UTF-8: show labels through the terminal escaping like every other system text.

use std::fmt;

use serde::Serialize;

/// The cgroup path of a process from the bytes of its `/proc/PID/cgroup`, chosen as the
/// module docs say; `None` when the text is not a complete, unambiguous such file.
pub fn parse_proc_cgroup(text: &[u8]) -> Option<Box<[u8]>> {
    let body = text.strip_suffix(b"\n")?;
    if let Some(path) = body.strip_prefix(b"0::") {
        let path = path.strip_suffix(b" (deleted)").unwrap_or(path);
        return is_path(path).then(|| path.into());
    }
    let mut ids: Vec<u32> = Vec::new();
    let mut controllers: Vec<&[u8]> = Vec::new();
    let (mut systemd, mut unified, mut memory) = (None, None, None);
    for line in body.split(|&b| b == b'\n') {
        let mut fields = line.splitn(3, |&b| b == b':');
        let (id, list, path) = (fields.next()?, fields.next()?, fields.next()?);
        let id = decimal(id)?;
        if ids.contains(&id) {
            return None;
        }
        ids.push(id);
        if id == 0 {
            if !list.is_empty() {
                return None;
            }
            let path = path.strip_suffix(b" (deleted)").unwrap_or(path);
            if !is_path(path) {
                return None;
            }
            unified = Some(path);
            continue;
        }
        // A v1 hierarchy torn down while the file is read shows ` (deleted)` for a path.
        let gone = path == b" (deleted)";
        if !gone && !is_path(path) {
            return None;
        }
        for controller in list.split(|&b| b == b',') {
            if controller.is_empty() || controllers.contains(&controller) {
                return None;
            }
            controllers.push(controller);
            match controller {
                b"name=systemd" if !gone => systemd = Some(path),
                b"memory" if !gone => memory = Some(path),
                _ => {}
            }
        }
    }
    let candidates = [systemd, unified, memory];
    let path = candidates
        .iter()
        .flatten()
        .find(|path| **path != b"/")
        .or(candidates.iter().flatten().next())?;
    Some((*path).into())
}

/// A container runtime, as its cgroup names show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    Containerd,
    Crio,
    Podman,
    Lxc,
    /// A Kubernetes container under the kubelet's cgroupfs driver, whose cgroup is the bare ID
    /// for containerd and Docker alike.
    Unknown,
}

impl Runtime {
    /// The lower-case name used in labels and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "crio",
            Runtime::Podman => "podman",
            Runtime::Lxc => "lxc",
            Runtime::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A container, or the container a monitor watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub runtime: Runtime,
    /// The full 64 hex digits of the ID; for LXC the container's name.
    pub id: String,
    /// The Kubernetes pod's UID with dashes, when the container is in a pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
}

impl Container {
    /// The ID as the runtime's own listing shows it: 12 hex digits, or the whole LXC name.
    pub fn short_id(&self) -> &str {
        match self.runtime {
            Runtime::Lxc => &self.id,
            _ => self.id.get(..12).unwrap_or(&self.id),
        }
    }
}

/// What a cgroup path says about the process in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classified<'a> {
    /// The innermost systemd unit above any container: `nginx.service`, `session-3.scope`.
    pub unit: Option<&'a str>,
    /// Set when the unit, container or monitor lies below `user@UID.service`, whose names
    /// that user chooses; not set for the manager's own cgroup.
    pub user: Option<u32>,
    /// The outermost container the process is in.
    pub container: Option<Container>,
    /// The container whose monitor (conmon, `lxc.monitor`) the process is.
    pub monitor: Option<Container>,
}

impl Classified<'_> {
    /// The short form for the owner column, as the module docs describe; `None` when nothing
    /// was recognised.
    pub fn label(&self) -> Option<String> {
        let core = if let Some(c) = &self.container {
            match &c.pod {
                Some(pod) => format!("k8s:{}/{}", pod.get(..8).unwrap_or(pod), c.short_id()),
                None => format!("{}:{}", c.runtime, c.short_id()),
            }
        } else if let Some(m) = &self.monitor {
            format!("{}-monitor:{}", m.runtime, m.short_id())
        } else {
            self.unit?.to_owned()
        };
        Some(match self.user {
            Some(uid) => format!("user@{uid}:{core}"),
            None => core,
        })
    }
}

/// The innermost systemd unit of a cgroup path, as [`classify`] finds it.
pub fn unit(path: &[u8]) -> Option<&str> {
    classify(path).unit
}

/// Units, user manager, container and pod named by a cgroup path: see the module docs.
pub fn classify(path: &[u8]) -> Classified<'_> {
    let mut found = Classified::default();
    // The first user@UID.service: its UID, and whether anything was found below it.
    let mut manager: Option<u32> = None;
    let mut below_manager = false;
    let mut in_kubepods = false;
    let mut pod: Option<String> = None;
    let mut previous: &[u8] = b"";
    for component in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        if let Some((runtime, id, monitor)) = runtime_component(component, previous, pod.is_some()) {
            let container = Container {
                runtime,
                id,
                pod: pod.take(),
            };
            if monitor {
                found.monitor = Some(container);
            } else {
                found.container = Some(container);
            }
            below_manager = manager.is_some();
            break;
        }
        if contains(component, b"kubepods") {
            in_kubepods = true;
        }
        if in_kubepods && pod.is_none() {
            pod = pod_uid(component);
        }
        if let Some(name) = unit_name(component) {
            found.unit = Some(name);
            below_manager = manager.is_some();
            if manager.is_none() {
                manager = manager_uid(name);
            }
            if name.starts_with("machine-") && name.ends_with(".scope") {
                break;
            }
        }
        previous = component;
    }
    found.user = manager.filter(|_| below_manager);
    found
}

/// `(runtime, id, is monitor)` when `component` is a container's (or monitor's) cgroup.
fn runtime_component(component: &[u8], previous: &[u8], in_pod: bool) -> Option<(Runtime, String, bool)> {
    // Longer prefixes first: `crio-conmon-` before `crio-`.
    const PREFIXES: &[(&[u8], Runtime, bool)] = &[
        (b"cri-containerd-", Runtime::Containerd, false),
        (b"nerdctl-", Runtime::Containerd, false),
        (b"crio-conmon-", Runtime::Crio, true),
        (b"crio-", Runtime::Crio, false),
        (b"libpod-conmon-", Runtime::Podman, true),
        (b"libpod-", Runtime::Podman, false),
        (b"docker-", Runtime::Docker, false),
    ];
    let stem = component.strip_suffix(b".scope").unwrap_or(component);
    for &(prefix, runtime, monitor) in PREFIXES {
        if let Some(id) = stem.strip_prefix(prefix) {
            return hex_id(id).map(|id| (runtime, id, monitor));
        }
    }
    if let Some(name) = component.strip_prefix(b"lxc.payload.") {
        return lxc_name(name).map(|name| (Runtime::Lxc, name, false));
    }
    if let Some(name) = component.strip_prefix(b"lxc.monitor.") {
        return lxc_name(name).map(|name| (Runtime::Lxc, name, true));
    }
    if previous == b"lxc" {
        return lxc_name(component).map(|name| (Runtime::Lxc, name, false));
    }
    let runtime = match previous {
        b"docker" => Runtime::Docker,
        _ if in_pod => Runtime::Unknown,
        _ => return None,
    };
    hex_id(component).map(|id| (runtime, id, false))
}

/// A container ID: exactly 64 lower-case hex digits.
fn hex_id(id: &[u8]) -> Option<String> {
    let ok = id.len() == 64 && id.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then(|| id.iter().map(|&b| char::from(b)).collect())
}

/// An LXC container name: any non-empty UTF-8 (names are the administrator's choice).
fn lxc_name(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// The pod UID of a kubelet pod cgroup: `kubepods[-QOS]-pod<uid with _>.slice` (systemd
/// driver) or `pod<uid>` (cgroupfs driver), with dashes.
fn pod_uid(component: &[u8]) -> Option<String> {
    let raw = match component.strip_suffix(b".slice") {
        Some(stem) => stem.rsplit(|&b| b == b'-').next()?.strip_prefix(b"pod")?,
        None => component.strip_prefix(b"pod")?,
    };
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-' | b'_'));
    ok.then(|| {
        raw.iter()
            .map(|&b| if b == b'_' { '-' } else { char::from(b) })
            .collect()
    })
}

/// `component` when systemd could have named a unit that holds processes so.
fn unit_name(component: &[u8]) -> Option<&str> {
    const SUFFIXES: &[&str] = &[".service", ".scope", ".socket", ".mount", ".swap"];
    let name = std::str::from_utf8(component).ok()?;
    let charset = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b));
    let suffixed = SUFFIXES.iter().any(|s| name.len() > s.len() && name.ends_with(s));
    (charset && suffixed && name.len() <= 255).then_some(name)
}

/// The UID of a user manager unit, `user@UID.service`.
fn manager_uid(unit: &str) -> Option<u32> {
    let uid = unit.strip_prefix("user@")?.strip_suffix(".service")?;
    if uid.is_empty() || !uid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    uid.parse().ok()
}

/// A hierarchy ID: decimal digits only (no sign, unlike `str::parse`).
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A cgroup path as the kernel writes one: absolute, without NUL.
fn is_path(path: &[u8]) -> bool {
    path.first() == Some(&b'/') && !path.contains(&0)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a1b9c04deca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b980";
    const ID2: &str = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
    const UID: &str = "6f1c2b3a-4d5e-4f60-8a9b-0c1d2e3f4a5b";

    /// `@ID`, `@ID2`, `@UID` (dashes) and `@UID_` (underscores) filled in.
    fn fill(shape: &str) -> String {
        shape
            .replace("@ID2", ID2)
            .replace("@ID", ID)
            .replace("@UID_", &UID.replace('-', "_"))
            .replace("@UID", UID)
    }

    /// Expected container or monitor: runtime, ID, pod.
    type Want = Option<(Runtime, &'static str, Option<&'static str>)>;

    /// path shape, unit, user, container, monitor, label.
    type Shape = (
        &'static str,
        Option<&'static str>,
        Option<u32>,
        Want,
        Want,
        Option<&'static str>,
    );

    #[rustfmt::skip]
    const SHAPES: &[Shape] = &[
        // systemd, cgroup v2 or name=systemd
        ("/system.slice/nginx.service", Some("nginx.service"), None, None, None, Some("nginx.service")),
        ("/system.slice/system-getty.slice/getty@tty1.service", Some("getty@tty1.service"), None, None, None, Some("getty@tty1.service")),
        ("/user.slice/user-1000.slice/session-3.scope", Some("session-3.scope"), None, None, None, Some("session-3.scope")),
        ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Some("foo.service"), Some(1000), None, None, Some("user@1000:foo.service")),
        ("/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4410.scope", Some("app-gnome-firefox-4410.scope"), Some(1000), None, None, Some("user@1000:app-gnome-firefox-4410.scope")),
        ("/user.slice/user-1000.slice/user@1000.service/init.scope", Some("init.scope"), Some(1000), None, None, Some("user@1000:init.scope")),
        ("/user.slice/user-1000.slice/user@1000.service", Some("user@1000.service"), None, None, None, Some("user@1000.service")),
        ("/init.scope", Some("init.scope"), None, None, None, Some("init.scope")),
        ("/", None, None, None, None, None),
        ("/system.slice", None, None, None, None, None),
        ("/system.slice/containerd.service", Some("containerd.service"), None, None, None, Some("containerd.service")),
        ("/system.slice/var-lib-docker.mount", Some("var-lib-docker.mount"), None, None, None, Some("var-lib-docker.mount")),
        // Seen from a child cgroup namespace.
        ("/../../system.slice/nginx.service", Some("nginx.service"), None, None, None, Some("nginx.service")),
        // Docker: systemd driver, cgroupfs driver, trailing slash.
        ("/system.slice/docker-@ID.scope", None, None, Some((Runtime::Docker, ID, None)), None, Some("docker:3f2a1b9c04de")),
        ("/docker/@ID", None, None, Some((Runtime::Docker, ID, None)), None, Some("docker:3f2a1b9c04de")),
        ("/docker/@ID/", None, None, Some((Runtime::Docker, ID, None)), None, Some("docker:3f2a1b9c04de")),
        // Docker-in-Docker and a kind node running pods: the outermost container.
        ("/system.slice/docker-@ID.scope/docker/@ID2", None, None, Some((Runtime::Docker, ID, None)), None, Some("docker:3f2a1b9c04de")),
        ("/docker/@ID/docker/@ID2", None, None, Some((Runtime::Docker, ID, None)), None, Some("docker:3f2a1b9c04de")),
        ("/system.slice/docker-@ID.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod@UID_.slice/cri-containerd-@ID2.scope", None, None, Some((Runtime::Docker, ID, None)), None, Some("docker:3f2a1b9c04de")),
        // A container with systemd inside: its units are its own.
        ("/system.slice/docker-@ID.scope/system.slice/sshd.service", None, None, Some((Runtime::Docker, ID, None)), None, Some("docker:3f2a1b9c04de")),
        // Kubernetes, systemd driver: besteffort, burstable, guaranteed (no QoS slice).
        ("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod@UID_.slice/cri-containerd-@ID.scope", None, None, Some((Runtime::Containerd, ID, Some(UID))), None, Some("k8s:6f1c2b3a/3f2a1b9c04de")),
        ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod@UID_.slice/cri-containerd-@ID.scope", None, None, Some((Runtime::Containerd, ID, Some(UID))), None, Some("k8s:6f1c2b3a/3f2a1b9c04de")),
        ("/kubepods.slice/kubepods-pod@UID_.slice/cri-containerd-@ID.scope", None, None, Some((Runtime::Containerd, ID, Some(UID))), None, Some("k8s:6f1c2b3a/3f2a1b9c04de")),
        ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod@UID_.slice/docker-@ID.scope", None, None, Some((Runtime::Docker, ID, Some(UID))), None, Some("k8s:6f1c2b3a/3f2a1b9c04de")),
        // Static pods have a 32-digit hash for a UID.
        ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podca978112ca1bbdcafac231b39a23dc4d.slice/cri-containerd-@ID.scope", None, None, Some((Runtime::Containerd, ID, Some("ca978112ca1bbdcafac231b39a23dc4d"))), None, Some("k8s:ca978112/3f2a1b9c04de")),
        // Kubernetes, cgroupfs driver (containerd or dockershim: the path does not say).
        ("/kubepods/burstable/pod@UID/@ID", None, None, Some((Runtime::Unknown, ID, Some(UID))), None, Some("k8s:6f1c2b3a/3f2a1b9c04de")),
        ("/kubepods/pod@UID/@ID", None, None, Some((Runtime::Unknown, ID, Some(UID))), None, Some("k8s:6f1c2b3a/3f2a1b9c04de")),
        ("/kubepods/besteffort/pod@UID/crio-@ID", None, None, Some((Runtime::Crio, ID, Some(UID))), None, Some("k8s:6f1c2b3a/3f2a1b9c04de")),
        // The pod's own cgroup: no container.
        ("/kubepods/besteffort/pod@UID", None, None, None, None, None),
        // CRI-O, systemd driver; conmon is the monitor.
        ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod@UID_.slice/crio-@ID.scope", None, None, Some((Runtime::Crio, ID, Some(UID))), None, Some("k8s:6f1c2b3a/3f2a1b9c04de")),
        ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod@UID_.slice/crio-conmon-@ID.scope", None, None, None, Some((Runtime::Crio, ID, Some(UID))), Some("crio-monitor:3f2a1b9c04de")),
        // Podman: rootful, its `container` sub-cgroup, in a pod, conmon, rootless, cgroupfs.
        ("/machine.slice/libpod-@ID.scope", None, None, Some((Runtime::Podman, ID, None)), None, Some("podman:3f2a1b9c04de")),
        ("/machine.slice/libpod-@ID.scope/container", None, None, Some((Runtime::Podman, ID, None)), None, Some("podman:3f2a1b9c04de")),
        ("/machine.slice/machine-libpod_pod_@ID2.slice/libpod-@ID.scope", None, None, Some((Runtime::Podman, ID, None)), None, Some("podman:3f2a1b9c04de")),
        ("/machine.slice/libpod-conmon-@ID.scope", None, None, None, Some((Runtime::Podman, ID, None)), Some("podman-monitor:3f2a1b9c04de")),
        ("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-@ID.scope", Some("user@1000.service"), Some(1000), Some((Runtime::Podman, ID, None)), None, Some("user@1000:podman:3f2a1b9c04de")),
        ("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-@ID.scope", Some("user@1000.service"), Some(1000), None, Some((Runtime::Podman, ID, None)), Some("user@1000:podman-monitor:3f2a1b9c04de")),
        ("/libpod_parent/libpod-@ID", None, None, Some((Runtime::Podman, ID, None)), None, Some("podman:3f2a1b9c04de")),
        // nerdctl (containerd without Kubernetes).
        ("/system.slice/nerdctl-@ID.scope", None, None, Some((Runtime::Containerd, ID, None)), None, Some("containerd:3f2a1b9c04de")),
        // LXC 4+, its monitor, a unit inside it, LXC before 4.
        ("/lxc.payload.web1", None, None, Some((Runtime::Lxc, "web1", None)), None, Some("lxc:web1")),
        ("/lxc.monitor.web1", None, None, None, Some((Runtime::Lxc, "web1", None)), Some("lxc-monitor:web1")),
        ("/lxc.payload.web1/system.slice/nginx.service", None, None, Some((Runtime::Lxc, "web1", None)), None, Some("lxc:web1")),
        ("/lxc/web1", None, None, Some((Runtime::Lxc, "web1", None)), None, Some("lxc:web1")),
        // systemd-nspawn and libvirt guests: the machine scope, nothing from inside.
        ("/machine.slice/machine-web.scope/system.slice/sshd.service", Some("machine-web.scope"), None, None, None, Some("machine-web.scope")),
        ("/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/emulator", Some("machine-qemu\\x2d1\\x2dvm1.scope"), None, None, None, Some("machine-qemu\\x2d1\\x2dvm1.scope")),
        // Names a user can make below their manager are reported as theirs.
        ("/user.slice/user-1000.slice/user@1000.service/evil/docker-@ID.scope", Some("user@1000.service"), Some(1000), Some((Runtime::Docker, ID, None)), None, Some("user@1000:docker:3f2a1b9c04de")),
        ("/user.slice/user-1000.slice/user@1000.service/app.slice/user@0.service/sshd.service", Some("sshd.service"), Some(1000), None, None, Some("user@1000:sshd.service")),
        ("/user.slice/user-1000.slice/user@1000.service/x/kubepods/pod@UID/@ID", Some("user@1000.service"), Some(1000), Some((Runtime::Unknown, ID, Some(UID))), None, Some("user@1000:k8s:6f1c2b3a/3f2a1b9c04de")),
        // Almost: wrong ID length or case, no pod, unit-like names systemd cannot make.
        ("/system.slice/docker-3f2a1b9c04de.scope", Some("docker-3f2a1b9c04de.scope"), None, None, None, Some("docker-3f2a1b9c04de.scope")),
        ("/system.slice/docker-3F2A1B9C04DECA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B980.scope", Some("docker-3F2A1B9C04DECA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B980.scope"), None, None, None, Some("docker-3F2A1B9C04DECA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B980.scope")),
        ("/@ID", None, None, None, None, None),
        ("/kubepods/burstable/podNOT-A-UID/@ID", None, None, None, None, None),
        ("/system.slice/\u{1b}[2J.service", None, None, None, None, None),
        ("/system.slice/.service", None, None, None, None, None),
        ("/system.slice/nginx service.service", None, None, None, None, None),
        ("/user.slice/user-1000.slice/user@+1.service", None, None, None, None, None),
        ("", None, None, None, None, None),
        ("///", None, None, None, None, None),
    ];

    fn want(w: Want) -> Option<Container> {
        w.map(|(runtime, id, pod)| Container {
            runtime,
            id: id.to_owned(),
            pod: pod.map(str::to_owned),
        })
    }

    #[test]
    fn fixtures_are_what_they_claim() {
        assert_eq!(ID.len(), 64);
        assert_eq!(ID2.len(), 64);
        assert!(SHAPES.len() >= 20);
    }

    #[test]
    fn classifies_real_path_shapes() {
        for &(shape, unit_, user, container, monitor, label) in SHAPES {
            let path = fill(shape);
            let got = classify(path.as_bytes());
            let expected = Classified {
                unit: unit_,
                user,
                container: want(container),
                monitor: want(monitor),
            };
            assert_eq!(got, expected, "{path}");
            assert_eq!(got.label().as_deref(), label, "{path}");
            assert_eq!(unit(path.as_bytes()), unit_, "{path}");
        }
    }

    #[test]
    fn non_utf8_paths() {
        // A name that is not UTF-8 is not a unit; the manager above it still is.
        let path = b"/user.slice/user-1000.slice/user@1000.service/app.slice/\xff\xfe.service";
        let got = classify(path);
        assert_eq!((got.unit, got.user), (Some("user@1000.service"), None));
        assert_eq!(got.label().as_deref(), Some("user@1000.service"));
        // Nor an LXC name; nor does it stop a container from being found.
        assert_eq!(classify(b"/lxc.payload.\xffweb"), Classified::default());
        let docker = fill("/system.slice/docker-@ID.scope/\u{1}\u{80}");
        let mut bytes = docker.into_bytes();
        bytes.push(0xff);
        assert_eq!(classify(&bytes).label().as_deref(), Some("docker:3f2a1b9c04de"));
        // An LXC name is any UTF-8, kept as is for the escaping to show.
        let got = classify("/lxc.payload.w\u{202e}b".as_bytes());
        assert_eq!(got.label().as_deref(), Some("lxc:w\u{202e}b"));
    }

    #[test]
    fn json_of_a_container() {
        let pod = classify(fill("/kubepods/pod@UID/crio-@ID").as_bytes()).container;
        let json = serde_json::to_string(&pod).expect("serializes");
        assert_eq!(json, format!(r#"{{"runtime":"crio","id":"{ID}","pod":"{UID}"}}"#));
        let lxc = classify(b"/lxc.payload.web1").container;
        let json = serde_json::to_string(&lxc).expect("serializes");
        assert_eq!(json, r#"{"runtime":"lxc","id":"web1"}"#);
        assert_eq!(
            serde_json::to_string(&classify(b"/init.scope").container).expect("serializes"),
            "null"
        );
    }

    /// A hybrid host (Ubuntu 20.04, Docker with the systemd driver): 12 v1 hierarchies, then
    /// the unified one, which Docker leaves at the shim's cgroup.
    const HYBRID: &str = "12:pids:/system.slice/docker-@ID.scope
11:devices:/system.slice/docker-@ID.scope
10:memory:/system.slice/docker-@ID.scope
9:rdma:/
8:cpuset:/system.slice/docker-@ID.scope
7:freezer:/system.slice/docker-@ID.scope
6:perf_event:/system.slice/docker-@ID.scope
5:hugetlb:/system.slice/docker-@ID.scope
4:blkio:/system.slice/docker-@ID.scope
3:cpu,cpuacct:/system.slice/docker-@ID.scope
2:net_cls,net_prio:/system.slice/docker-@ID.scope
1:name=systemd:/system.slice/docker-@ID.scope
0::/system.slice/containerd.service
";

    /// A v1 host without the unified hierarchy (CentOS 7), Docker with the cgroupfs driver.
    const V1: &str = "11:cpuset:/docker/@ID
10:pids:/docker/@ID
9:memory:/docker/@ID
8:devices:/docker/@ID
7:hugetlb:/docker/@ID
6:blkio:/docker/@ID
5:net_prio,net_cls:/docker/@ID
4:perf_event:/docker/@ID
3:freezer:/docker/@ID
2:cpuacct,cpu:/docker/@ID
1:name=systemd:/docker/@ID
";

    #[test]
    fn parses_whole_files() {
        let parse = |text: &str| parse_proc_cgroup(fill(text).as_bytes()).map(|p| p.into_vec());
        let path = |text: &str| Some(fill(text).into_bytes());
        assert_eq!(
            parse("0::/system.slice/nginx.service\n"),
            path("/system.slice/nginx.service")
        );
        assert_eq!(parse("0::/\n"), path("/"));
        assert_eq!(parse(HYBRID), path("/system.slice/docker-@ID.scope"));
        assert_eq!(parse(V1), path("/docker/@ID"));
        // And what the walk then shows for them.
        for text in [HYBRID, V1] {
            let path = parse(text).expect("parses");
            assert_eq!(classify(&path).label().as_deref(), Some("docker:3f2a1b9c04de"));
        }
        // Hybrid, systemd's own unit: both agree.
        assert_eq!(
            parse(
                "3:memory:/user.slice\n2:pids:/user.slice/user-1000.slice/session-3.scope\n1:name=systemd:/user.slice/user-1000.slice/session-3.scope\n0::/user.slice/user-1000.slice/session-3.scope\n"
            ),
            path("/user.slice/user-1000.slice/session-3.scope")
        );
        // An exiting process shows `/` in the v1 hierarchies.
        assert_eq!(
            parse("2:memory:/\n1:name=systemd:/\n0::/system.slice/cron.service\n"),
            path("/system.slice/cron.service")
        );
        assert_eq!(parse("2:memory:/\n1:name=systemd:/\n0::/\n"), path("/"));
        // No systemd: the memory controller.
        assert_eq!(
            parse("3:memory:/lxc/web1\n2:cpu,cpuacct:/lxc/web1\n1:name=openrc:/sshd\n"),
            path("/lxc/web1")
        );
        // A removed cgroup.
        assert_eq!(
            parse("0::/system.slice/gone.service (deleted)\n"),
            path("/system.slice/gone.service")
        );
        // A v1 hierarchy going away while the file is read.
        assert_eq!(
            parse("3:name=cgrp2: (deleted)\n1:name=systemd:/init.scope\n0::/init.scope\n"),
            path("/init.scope")
        );
        // Colons are part of a path.
        assert_eq!(parse("0::/a:b\n"), path("/a:b"));
        assert_eq!(parse("1:name=systemd:/a:b\n0::/\n"), path("/a:b"));
    }

    #[test]
    fn newlines_in_names_cannot_forge_a_line() {
        let parse = |text: &[u8]| parse_proc_cgroup(text).map(|p| p.into_vec());
        // v2 only: the one line runs to the end.
        assert_eq!(
            parse(b"0::/user.slice/x\n0::/system.slice/sshd.service\n"),
            Some(b"/user.slice/x\n0::/system.slice/sshd.service".to_vec())
        );
        // v1: a forged second name=systemd line, a repeated ID, a line that does not parse.
        assert_eq!(
            parse(b"2:name=systemd:/user.slice/x\n1:name=systemd:/system.slice/sshd.service\n0::/\n"),
            None
        );
        assert_eq!(parse(b"1:name=systemd:/user.slice/x\n1:cpu:/\n0::/\n"), None);
        assert_eq!(parse(b"2:cpu:/\n1:name=systemd:/user.slice/x\ny\n0::/\n"), None);
        assert_eq!(
            parse(b"1:name=systemd:/\n0::/user.slice/x\n0::/system.slice/sshd.service\n"),
            None
        );
    }

    #[test]
    fn garbage_gives_none() {
        let garbage: &[&[u8]] = &[
            b"",
            b"\n",
            b"\n\n",
            b"hello\n",
            b"0::relative\n",
            b"0::/no-newline",
            b"0::",
            b"0::\n",
            b"0:cpu:/x\n",
            b"x:y:/z\n",
            b"1:name=systemd\n",
            b"1:name=systemd:/ok\n\n",
            b"+1:name=systemd:/ok\n",
            b"1::/ok\n",
            b"99999999999:memory:/x\n",
            b"0::/a\0b\n",
            b"1:name=systemd:/a\0b\n",
            b"1:name=systemd:/ok\n0::/x",
            b"\xff\xfe\n",
        ];
        for text in garbage {
            assert_eq!(
                parse_proc_cgroup(text),
                None,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        // Not UTF-8 is fine: paths are bytes.
        assert_eq!(
            parse_proc_cgroup(b"0::/user.slice/\xff\xfe\n").as_deref(),
            Some(&b"/user.slice/\xff\xfe"[..])
        );
        // Every cut of a real file is rejected or read to a whole line, never panics.
        let hybrid = fill(HYBRID);
        for end in 0..hybrid.len() {
            let cut = &hybrid.as_bytes()[..end];
            if let Some(path) = parse_proc_cgroup(cut) {
                assert!(cut.ends_with(b"\n") && cut.windows(path.len()).any(|w| w == &path[..]));
            }
        }
    }
}
