//! What this process may see: its uid and effective capabilities (`capget(2)`), and for each
//! capability the full picture needs that it lacks, the part of the picture that stays hidden.
//!
//! Measured (a population built by root in a private namespace, summarised as uid 65534 with
//! each subset of capabilities: `tests/privileges.rs`), and the kernel check behind each:
//!
//! | capability            | kernel check                                                    |
//! |-----------------------|-----------------------------------------------------------------|
//! | `CAP_DAC_READ_SEARCH` | `/proc/PID/fd` is mode 0500, owned by the process's user (root when not dumpable): `proc_fd_permission` → `generic_permission` |
//! | `CAP_SYS_PTRACE`      | each `/proc/PID/fd/N` link and `/proc/PID/ns/net`: `proc_fd_access_allowed`, `proc_ns_get_link` → `ptrace_may_access(PTRACE_MODE_READ_FSCREDS)`; `pidfd_getfd` → `ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS)` |
//! | `CAP_NET_ADMIN`       | `ioctl(SIOCGSKNS)`: `sock_ioctl` → `ns_capable(net->user_ns, CAP_NET_ADMIN)` |
//! | `CAP_SYS_ADMIN`       | `setns(CLONE_NEWNET)`: `netns_install` → `ns_capable` in the target's user namespace and in ours |
//!
//! The sock_diag dumps, `/proc/net/sockstat` and `/run/netns` need none: `list` without `-p`
//! is complete for anyone. Root without these capabilities (a container) lacks them too: the
//! check is on capabilities, never on the uid.

use rustix::thread::CapabilitySet;
use serde::{Serialize, Serializer};

/// A capability the full picture needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    DacReadSearch,
    SysPtrace,
    NetAdmin,
    SysAdmin,
}

impl Capability {
    /// Every capability the full picture needs, in the order the picture is built.
    pub const NEEDED: [Capability; 4] = [
        Capability::DacReadSearch,
        Capability::SysPtrace,
        Capability::NetAdmin,
        Capability::SysAdmin,
    ];

    /// The name capabilities(7) gives it.
    pub fn name(self) -> &'static str {
        match self {
            Capability::DacReadSearch => "CAP_DAC_READ_SEARCH",
            Capability::SysPtrace => "CAP_SYS_PTRACE",
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::SysAdmin => "CAP_SYS_ADMIN",
        }
    }

    fn bit(self) -> CapabilitySet {
        match self {
            Capability::DacReadSearch => CapabilitySet::DAC_READ_SEARCH,
            Capability::SysPtrace => CapabilitySet::SYS_PTRACE,
            Capability::NetAdmin => CapabilitySet::NET_ADMIN,
            Capability::SysAdmin => CapabilitySet::SYS_ADMIN,
        }
    }

    /// What stays hidden without it.
    pub fn hides(self) -> Hidden {
        match self {
            Capability::DacReadSearch => Hidden::OtherUsersFdTables,
            Capability::SysPtrace => Hidden::OtherUsersFdLinks,
            Capability::NetAdmin => Hidden::SocketNamespaces,
            Capability::SysAdmin => Hidden::OtherNamespaces,
        }
    }
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The part of the picture a missing capability hides (worded in `render::notes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hidden {
    /// Other users' `/proc/PID/fd` cannot be opened: the owners of their sockets, the unbound
    /// sockets only they hold and the namespaces they are in.
    OtherUsersFdTables,
    /// Other users' fd links and `/proc/PID/ns/net` cannot be read, nor their sockets
    /// duplicated (`pidfd_getfd`): the same, and the namespace of each socket they hold.
    OtherUsersFdLinks,
    /// A held socket cannot be asked its namespace (`SIOCGSKNS`): sockets are placed by
    /// their holder's namespace, and namespaces only a socket reveals stay unknown.
    SocketNamespaces,
    /// Other namespaces cannot be entered (`setns`): their TCP sockets are not counted.
    OtherNamespaces,
}

/// A capability this process lacks and what it hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub capability: Capability,
    pub hides: Hidden,
}

/// This process's uid and capabilities, read once at the start of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Privileges {
    /// The effective uid.
    pub uid: u32,
    /// The needed capabilities held (effective set).
    pub capabilities: Vec<Capability>,
    /// The needed capabilities not held, each with what it hides.
    pub missing: Vec<Missing>,
}

impl Privileges {
    /// This process's effective uid and capabilities. Should `capget` fail (it does not on
    /// Linux ≥ 2.2), no capability is assumed held.
    pub fn current() -> Privileges {
        let effective = rustix::thread::capabilities(None)
            .map(|sets| sets.effective)
            .unwrap_or(CapabilitySet::empty());
        Privileges::from_set(rustix::process::geteuid().as_raw(), effective)
    }

    /// The privileges of a process with `uid` and the effective set `effective`.
    pub fn from_set(uid: u32, effective: CapabilitySet) -> Privileges {
        let (held, missing): (Vec<Capability>, Vec<Capability>) = Capability::NEEDED
            .into_iter()
            .partition(|c| effective.contains(c.bit()));
        Privileges {
            uid,
            capabilities: held,
            missing: missing
                .into_iter()
                .map(|capability| Missing {
                    capability,
                    hides: capability.hides(),
                })
                .collect(),
        }
    }

    /// Every needed capability held.
    pub fn full() -> Privileges {
        Privileges::from_set(0, CapabilitySet::all())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_the_complement_of_held() {
        let p = Privileges::from_set(65534, CapabilitySet::SYS_PTRACE | CapabilitySet::NET_RAW);
        assert_eq!(p.capabilities, [Capability::SysPtrace]);
        assert_eq!(
            p.missing.iter().map(|m| m.capability).collect::<Vec<_>>(),
            [
                Capability::DacReadSearch,
                Capability::NetAdmin,
                Capability::SysAdmin
            ]
        );
        assert!(Privileges::full().missing.is_empty());
    }

    #[test]
    fn json_names_as_capabilities_7() {
        let p = Privileges::from_set(65534, CapabilitySet::SYS_ADMIN);
        let json = serde_json::to_string(&p).expect("json");
        assert!(json.contains(r#""capabilities":["CAP_SYS_ADMIN"]"#), "{json}");
        assert!(
            json.contains(r#"{"capability":"CAP_DAC_READ_SEARCH","hides":"other_users_fd_tables"}"#),
            "{json}"
        );
    }
}
