//! How the things sockdiag found are named for a person: namespaces, owners.

use crate::collect::NamespaceName;

/// `blue` (ip netns), `docker 3f2a…`, `initial namespace (pid 1)`, `pid 812 (nginx)`.
pub fn namespace(name: &NamespaceName) -> String {
    match name {
        NamespaceName::Named(name) => name.clone(),
        NamespaceName::Docker(id) => format!("docker sandbox {id}"),
        NamespaceName::Initial => "initial namespace (pid 1)".to_owned(),
        NamespaceName::Process { pid, comm } => format!("pid {pid} ({comm})"),
        NamespaceName::SocketOnly => "(no process in it; found through a socket)".to_owned(),
    }
}

/// The JSON form of a namespace name: the same words as the table's.
pub fn serialize_namespace<S: serde::Serializer>(
    name: &NamespaceName,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&namespace(name))
}
