//! How the things sockdiag found are named for a person: namespaces, owners. Names that came
//! from the system are escaped ([`crate::render::escape`]): for the terminal in tables and
//! notes, in the lossless form in JSON.

use std::borrow::Cow;

use crate::collect::NamespaceName;
use crate::render::escape;

/// `blue` (ip netns), `docker:3f2a1b9c04de (pid 4410 python3)`, `docker sandbox 3f2a…`,
/// `initial namespace (pid 1)`, `pid 812 (nginx)`.
pub fn namespace(name: &NamespaceName) -> String {
    namespace_with(name, escape::for_terminal)
}

/// The JSON form of a namespace name: the same words, names in the lossless JSON form.
pub fn serialize_namespace<S: serde::Serializer>(
    name: &NamespaceName,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&namespace_with(name, escape::for_json))
}

/// A namespace name in the lossless JSON form of [`serialize_namespace`] (a metrics label).
pub fn namespace_exact(name: &NamespaceName) -> String {
    namespace_with(name, escape::for_json)
}

fn namespace_with<'a>(name: &'a NamespaceName, text: impl Fn(&'a [u8]) -> Cow<'a, str>) -> String {
    match name {
        NamespaceName::Named(name) => text(name.as_bytes()).into_owned(),
        NamespaceName::Docker(id) => format!("docker sandbox {}", text(id.as_bytes())),
        NamespaceName::Initial => "initial namespace (pid 1)".to_owned(),
        NamespaceName::Owned { label, pid, comm, .. } => {
            format!("{} (pid {pid} {})", text(label.as_bytes()), text(comm.as_bytes()))
        }
        NamespaceName::Process { pid, comm } => format!("pid {pid} ({})", text(comm.as_bytes())),
        NamespaceName::Target => "(the namespace read; no process in it inspected)".to_owned(),
        NamespaceName::SocketOnly => "(no process in it; found through a socket)".to_owned(),
    }
}
