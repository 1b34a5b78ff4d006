//! Service names for ports (`dport = :https`), from `/etc/services` (services(5)), which ss
//! reads through getservbyname(3). Parsing is pure; [`Services::load`] is the thin read.

use std::collections::HashMap;
use std::io;
use std::path::Path;

/// The TCP and UDP ports of each service name and alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    ports: HashMap<String, Ports>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ports {
    tcp: Option<u16>,
    udp: Option<u16>,
}

/// A name with different TCP and UDP ports, which a filter cannot pick between (ss says
/// "ambiguous port" too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ambiguous {
    pub tcp: u16,
    pub udp: u16,
}

impl Services {
    /// `/etc/services`; a missing file gives an empty table (names then fail to resolve).
    pub fn load() -> io::Result<Self> {
        Self::load_from(Path::new("/etc/services"))
    }

    /// Like [`Services::load`], from another file.
    pub fn load_from(path: &Path) -> io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    /// Reads services(5) lines, `name port/protocol [aliases...] [# comment]`, keeping TCP and
    /// UDP entries. Malformed lines are skipped, as the C library does; the first entry of a
    /// name and protocol wins.
    pub fn parse(text: &str) -> Self {
        let mut ports: HashMap<String, Ports> = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut fields = line.split_ascii_whitespace();
            let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            for alias in std::iter::once(name).chain(fields) {
                let entry = ports.entry(alias.to_owned()).or_default();
                let slot = match proto {
                    "tcp" => &mut entry.tcp,
                    "udp" => &mut entry.udp,
                    _ => continue,
                };
                slot.get_or_insert(port);
            }
        }
        Self { ports }
    }

    /// The port of `name` (case-sensitive, as getservbyname(3)): its TCP or UDP port, which
    /// must agree when both exist. `Ok(None)` for an unknown name.
    pub fn port(&self, name: &str) -> Result<Option<u16>, Ambiguous> {
        match self.ports.get(name) {
            None => Ok(None),
            Some(Ports {
                tcp: Some(tcp),
                udp: Some(udp),
            }) if tcp != udp => Err(Ambiguous { tcp: *tcp, udp: *udp }),
            Some(ports) => Ok(ports.tcp.or(ports.udp)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# Network services, Internet style
tcpmux		1/tcp				# TCP port service multiplexer
ssh		22/tcp				# SSH Remote Login Protocol
http		80/tcp		www		# WorldWideWeb HTTP
https		443/tcp
https		443/udp
domain		53/tcp
domain		53/udp
syslog		514/udp
odd		10/tcp
odd		11/udp
sctponly	9/sctp
http		8080/tcp
garbage
bad		x/tcp
big		70000/tcp
";

    #[test]
    fn names_aliases_and_protocols() {
        let s = Services::parse(TEXT);
        assert_eq!(s.port("ssh"), Ok(Some(22)));
        assert_eq!(s.port("www"), Ok(Some(80)), "alias");
        assert_eq!(s.port("http"), Ok(Some(80)), "the first entry wins");
        assert_eq!(s.port("https"), Ok(Some(443)), "same port for tcp and udp");
        assert_eq!(s.port("syslog"), Ok(Some(514)), "udp only");
        assert_eq!(s.port("odd"), Err(Ambiguous { tcp: 10, udp: 11 }));
        for unknown in ["sctponly", "garbage", "bad", "big", "SSH", "nosuch", "", "#"] {
            assert_eq!(s.port(unknown), Ok(None), "{unknown:?}");
        }
    }

    #[test]
    fn missing_file_is_an_empty_table() {
        let s = Services::load_from(Path::new("/nonexistent/services")).expect("missing is fine");
        assert_eq!(s, Services::default());
    }

    #[test]
    fn system_file_if_any_reads() {
        // Whatever the machine has, it must load; and if it has ssh, it is 22.
        let s = Services::load().expect("readable or missing");
        assert!(matches!(s.port("ssh"), Ok(None) | Ok(Some(22))));
    }
}
