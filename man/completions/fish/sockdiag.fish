# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sockdiag_global_optspecs
    string join \n proc-root= h/help V/version
end

function __fish_sockdiag_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sockdiag_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sockdiag_using_subcommand
    set -l cmd (__fish_sockdiag_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sockdiag -n "__fish_sockdiag_needs_command" -l proc-root -d 'Root of the proc filesystem (tests point it at a fake tree)' -r -F
complete -c sockdiag -n "__fish_sockdiag_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockdiag -n "__fish_sockdiag_needs_command" -s V -l version -d 'Print version'
complete -c sockdiag -n "__fish_sockdiag_needs_command" -f -a "list" -d 'List sockets one per line, like ss, from NETLINK_SOCK_DIAG dumps'
complete -c sockdiag -n "__fish_sockdiag_needs_command" -f -a "summary" -d 'Explain every socket behind `ss -s`, reconciling its `closed` figure term by term'
complete -c sockdiag -n "__fish_sockdiag_needs_command" -f -a "completions" -d 'Print a shell completion script, generated from this command line'
complete -c sockdiag -n "__fish_sockdiag_needs_command" -f -a "watch" -d 'Take the census of summary every interval: who opens and closes TCP_CLOSE sockets, and which process leaks them'
complete -c sockdiag -n "__fish_sockdiag_needs_command" -f -a "metrics" -d 'The summary\'s figures and terms as Prometheus metrics: stdout, a textfile for node_exporter, or an HTTP exporter'
complete -c sockdiag -n "__fish_sockdiag_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -l state -d 'Only sockets in this state (repeatable); see STATES below' -r -f -a "established\t''
syn-sent\t''
syn-recv\t''
fin-wait-1\t''
fin-wait-2\t''
time-wait\t''
close\t''
close-wait\t''
last-ack\t''
listen\t''
closing\t''
bound-inactive\t''
connected\t''
all\t''"
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -l netns -d 'Network namespace to read: a name under /run/netns, or a path such as /proc/PID/ns/net' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -l proc-root -d 'Root of the proc filesystem (tests point it at a fake tree)' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s t -l tcp -d 'TCP sockets'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s u -l udp -d 'UDP sockets'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s x -l unix -d 'UNIX domain sockets'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s w -l raw -d 'RAW sockets (from /proc/net/raw and raw6 where the kernel has no raw_diag)'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s 4 -l ipv4 -d 'IPv4 sockets only'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s 6 -l ipv6 -d 'IPv6 sockets only'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s a -l all -d 'Every socket the kernel dumps: listening, TIME_WAIT, bound-inactive included'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s l -l listening -d 'Listening sockets only (for UDP, RAW and UNIX: unconnected ones too, as ss does)'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s p -l processes -d 'Show the owning processes: pid, command, fd (every owner of a shared socket)'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s e -l extended -d 'Show uid, inode and socket cookie'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s n -l numeric -d 'Accepted for ss compatibility: sockdiag never resolves names'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -l json -d 'One JSON object per socket per line'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s H -l no-header -d 'No header line, as ss -H'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s O -l oneline -d 'Accepted for ss compatibility: every socket is always one line'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -l all-netns -d 'Every socket of every network namespace found (/run/netns, /run/docker/netns, the namespaces of all processes), one dump per namespace, with a Netns column (a `netns` field in JSON)'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand summary" -l ss -d 'A saved `ss -s` output to check against the live figures (`-` for stdin)' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand summary" -l netns -d 'Network namespace to read: a name under /run/netns, or a path such as /proc/PID/ns/net' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand summary" -l proc-root -d 'Root of the proc filesystem (tests point it at a fake tree)' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand summary" -l all -d 'Show every TCP_CLOSE socket, not only the first rows'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand summary" -l check -d 'Exit with status 1 when part of `closed` stays unexplained beyond the drift'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand summary" -l json -d 'One JSON document'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand summary" -l all-netns -d 'Every network namespace of the host, each with its own terms, and the system-wide identity TCP alloc = the full TCP sockets of every namespace + unexplained'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand summary" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand completions" -l proc-root -d 'Root of the proc filesystem (tests point it at a fake tree)' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand watch" -l interval -d 'Seconds between samples' -r
complete -c sockdiag -n "__fish_sockdiag_using_subcommand watch" -l count -d 'Stop after N samples (default: until interrupted)' -r
complete -c sockdiag -n "__fish_sockdiag_using_subcommand watch" -l leak-after -d 'Flag a process whose TCP_CLOSE sockets rose in each of the last K intervals' -r
complete -c sockdiag -n "__fish_sockdiag_using_subcommand watch" -l pid -d 'Watch only this process (repeatable): only its fd directory is read' -r
complete -c sockdiag -n "__fish_sockdiag_using_subcommand watch" -l netns -d 'Network namespace to read: a name under /run/netns, or a path such as /proc/PID/ns/net' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand watch" -l proc-root -d 'Root of the proc filesystem (tests point it at a fake tree)' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand watch" -l json -d 'One JSON object per sample per line (the default when stdout is not a terminal)'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand metrics" -l textfile -d 'Write the metrics atomically to this file (node_exporter\'s textfile collector reads *.prom files) instead of stdout' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand metrics" -l listen -d 'Serve /metrics over HTTP on this address until killed; without one, on loopback 127.0.0.1:9977' -r
complete -c sockdiag -n "__fish_sockdiag_using_subcommand metrics" -l top -d 'Holders of TCP_CLOSE sockets given a series of their own; the rest are summed' -r
complete -c sockdiag -n "__fish_sockdiag_using_subcommand metrics" -l netns -d 'Network namespace to read: a name under /run/netns, or a path such as /proc/PID/ns/net' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand metrics" -l proc-root -d 'Root of the proc filesystem (tests point it at a fake tree)' -r -F
complete -c sockdiag -n "__fish_sockdiag_using_subcommand metrics" -l all-netns -d 'Series for every network namespace of the host, not only the one read'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand metrics" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand help; and not __fish_seen_subcommand_from list summary completions watch metrics help" -f -a "list" -d 'List sockets one per line, like ss, from NETLINK_SOCK_DIAG dumps'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand help; and not __fish_seen_subcommand_from list summary completions watch metrics help" -f -a "summary" -d 'Explain every socket behind `ss -s`, reconciling its `closed` figure term by term'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand help; and not __fish_seen_subcommand_from list summary completions watch metrics help" -f -a "completions" -d 'Print a shell completion script, generated from this command line'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand help; and not __fish_seen_subcommand_from list summary completions watch metrics help" -f -a "watch" -d 'Take the census of summary every interval: who opens and closes TCP_CLOSE sockets, and which process leaks them'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand help; and not __fish_seen_subcommand_from list summary completions watch metrics help" -f -a "metrics" -d 'The summary\'s figures and terms as Prometheus metrics: stdout, a textfile for node_exporter, or an HTTP exporter'
complete -c sockdiag -n "__fish_sockdiag_using_subcommand help; and not __fish_seen_subcommand_from list summary completions watch metrics help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
