//! The words for each [`Finding`]: the one place where what the reconciliation found becomes
//! English, for the summary's notes, its JSON `notes` and `list`'s warnings alike.

use crate::collect::privileges::Hidden;
use crate::reconcile::Finding;

/// One finding as one sentence.
pub fn note(finding: &Finding) -> String {
    match finding {
        Finding::TimewaitSplit {
            time_wait,
            fin_wait2,
        } => format!(
            "time_wait counts timewait minisocks by their timer: {time_wait} in TIME_WAIT, {fin_wait2} in FIN_WAIT2 (orphaned connections waiting for the peer's FIN)"
        ),
        Finding::BoundInactiveNotDumped => "this kernel (< 6.8) does not dump bound-inactive TCP sockets: list cannot show them; summary finds them through the fd scan, counts them as unbound and reports bound_inactive as null".to_owned(),
        Finding::MissingCapability { capability, hides } => {
            format!("without {}, {}", capability.name(), hidden(*hides))
        }
        Finding::ProcessesDenied { denied, total } => format!(
            "{denied} of {total} processes could not be inspected (permission denied): owners are a lower bound, and the sockets only they hold are missing from the census"
        ),
        Finding::ProcessesVanished { count } => format!("{count} process(es) exited during the scan"),
        Finding::NamespacesNotEntered { count } => format!(
            "{count} other network namespace(s) could not be entered: their TCP sockets are in unexplained, but for those held by a process we could inspect"
        ),
        Finding::Counted { count } => format!(
            "{count} other namespace(s) were counted from their own counters (inuse, tw), not dumped: no socket their processes held was in TCP_CLOSE when asked; a bound-inactive socket that no process holds there is in unexplained"
        ),
        Finding::Unplaced { count } => format!(
            "{count} undumped TCP socket(s) held by processes could not be placed in a namespace: they are in unexplained"
        ),
        Finding::PlacedByHolder { count } => format!(
            "the namespace of {count} socket(s) was taken from the process holding them (pidfd_getfd not permitted), not from the socket itself"
        ),
        Finding::ChangedSinceDump { count } => format!(
            "{count} held TCP socket(s) out of TCP_CLOSE when asked were in no dump: they changed state between the question and their namespace's dump (connected, listening or closed in between): counted in no term"
        ),
        Finding::ClosedDuringWalk { count } => format!(
            "{count} TCP socket(s) seen in the fd walk were closed before they could be asked anything: they came and went during the collection"
        ),
        Finding::UnownedBoundInactive { count } => format!(
            "{count} bound-inactive socket(s) are held by no process inspected: in flight in an SCM_RIGHTS message, or held by a process that could not be inspected"
        ),
        Finding::MptcpSubflows {
            unbound,
            bound_inactive,
            unasked,
        } => {
            let mut parts = Vec::new();
            if *unbound > 0 {
                parts.push(format!("{unbound} of unbound"));
            }
            if *bound_inactive > 0 {
                parts.push(format!("{bound_inactive} of bound_inactive"));
            }
            let mut note = if parts.is_empty() {
                String::new()
            } else {
                format!(
                    "{} are subflows of MPTCP sockets: TCP sockets the kernel creates for an MPTCP socket (counted in TCP alloc, listed under the MPTCP socket's inode and holders)",
                    parts.join(" and ")
                )
            };
            if *unasked > 0 {
                if !note.is_empty() {
                    note.push_str("; ");
                }
                note.push_str(&format!(
                    "{unasked} MPTCP socket(s) that no dump returned could not be asked for their subflows (pidfd_getfd not permitted): their TCP_CLOSE subflows, if any, are in unexplained"
                ));
            }
            note
        }
        Finding::InterruptedDumps { count } => format!(
            "{count} dump(s) were interrupted (NLM_F_DUMP_INTR): sockets may be missing or counted twice"
        ),
        Finding::Undecodable { detail } => format!("undecodable sock_diag messages were skipped: {detail}"),
        Finding::Unsupported { proto } => format!(
            "{} sockets: this kernel has no {}_diag (sock_diag answered ENOENT): not supported, skipped",
            proto.name(),
            proto.name()
        ),
        Finding::Unsettled { attempts } => format!(
            "this namespace's own counters kept moving during {attempts} dumps: the figures hold only up to the drift"
        ),
        Finding::Unexplained { count, drift } => format!(
            "{count} closed socket(s) unexplained beyond a drift of {drift}; likely causes: sockets in flight in SCM_RIGHTS messages, kernel sockets (NFS, SMB, iSCSI, MPTCP subflows), namespaces no process here can reach (TCP alloc is system-wide)"
        ),
        Finding::ContainerView { hidden, drift } => format!(
            "sockdiag runs inside a container (its own PID or user namespace): {hidden} (± {drift}) of closed are TCP sockets of the host and of other containers, which TCP alloc counts system-wide and which cannot be itemised from in here; run `sockdiag summary --all-netns` on the host to list them"
        ),
        Finding::Overcounted { count, drift } => format!(
            "the census found {count} more socket(s) than closed reports, beyond a drift of {drift}: sockets changed state between the counter reads and the dumps, or a dump saw one twice"
        ),
        Finding::SavedSsDiffers { figures } => format!(
            "the saved ss -s differs from the live figures ({}): sockets changed since it was taken; the terms above explain the live ones",
            figures.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// What a missing capability hides, as the end of a sentence.
fn hidden(hides: Hidden) -> &'static str {
    match hides {
        Hidden::OtherUsersFdTables => {
            "other users' /proc/PID/fd cannot be opened: the owners of their sockets, the unbound sockets only they hold and the namespaces they are in are missing (the census is a lower bound)"
        }
        Hidden::OtherUsersFdLinks => {
            "other users' fd links and /proc/PID/ns/net cannot be read nor their sockets duplicated (pidfd_getfd): the owners of their sockets, the unbound sockets only they hold, their namespaces and the namespace of each socket they hold are missing"
        }
        Hidden::SocketNamespaces => {
            "a held socket cannot be asked its namespace (SIOCGSKNS): undumped sockets are placed by the namespace of the process holding them, and namespaces that only a socket reveals are missing"
        }
        Hidden::OtherNamespaces => {
            "other network namespaces cannot be entered (setns): their TCP sockets are not counted and stay in unexplained"
        }
    }
}
