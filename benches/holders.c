/*
 * holders: many small processes, each holding a few TCP sockets (bench.py
 * --procs-population; benches/README.md).
 *
 *     holders NPROCS PAIRS UNBOUND [UNIX_PAIRS [DUPS]]
 *
 * Forks NPROCS children. Each child:
 *   - listens on 127.0.0.1 (kernel-chosen port), connects PAIRS clients to it
 *     and accepts them, keeping both ends (2*PAIRS ESTABLISHED sockets), then
 *     closes the listener;
 *   - opens UNBOUND TCP sockets with socket() only (never bound: TCP_CLOSE,
 *     no port, invisible to sock_diag dumps);
 *   - opens UNIX_PAIRS socketpair(AF_UNIX, SOCK_STREAM) pairs (default 0);
 *   - dup()s each of its TCP sockets DUPS more times (default 0): more
 *     /proc/PID/fd links per process for the same sockets;
 *   - reports one byte on the ready pipe and sleeps in pause().
 * The parent prints "ready NPROCS SOCKETS" on stdout once every child has
 * reported (or "err ..." and exits 1), then blocks reading stdin: at EOF (or
 * SIGTERM) it SIGKILLs its own children by pid and reaps them. Children also
 * have PR_SET_PDEATHSIG = SIGKILL, so they never outlive the parent.
 *
 * Run it inside the private netns the driver made; it touches no other netns.
 * A C child costs ~100 KiB of private memory, so 2,000 of them are cheap.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void child(int pairs, int unbound, int unix_pairs, int dups, int ready_w, pid_t parent)
{
	int tcp[4096], ntcp = 0;
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	char ok = 'k', bad = 'e';
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	if (pairs > 0) {
		int ls = socket(AF_INET, SOCK_STREAM, 0);
		if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(ls, pairs) < 0 || getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
			goto fail;
		for (int i = 0; i < pairs; i++) {
			int c = socket(AF_INET, SOCK_STREAM, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
				goto fail;
			int s = accept(ls, NULL, NULL);
			if (s < 0)
				goto fail;
			if (ntcp + 2 <= 4096) {
				tcp[ntcp++] = c;
				tcp[ntcp++] = s;
			}
		}
		close(ls);
	}
	for (int i = 0; i < unbound; i++) {
		int u = socket(AF_INET, SOCK_STREAM, 0);
		if (u < 0)
			goto fail;
		if (ntcp < 4096)
			tcp[ntcp++] = u;
	}
	for (int d = 0; d < dups; d++)
		for (int i = 0; i < ntcp; i++)
			if (dup(tcp[i]) < 0)
				goto fail;
	for (int i = 0; i < unix_pairs; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			goto fail;
	}
	if (write(ready_w, &ok, 1) != 1)
		_exit(1);
	close(ready_w);
	for (;;)
		pause();
fail:
	perror("holders child");
	if (write(ready_w, &bad, 1) < 0)
		_exit(1);
	_exit(1);
}

static pid_t *pids;
static int npids;

static void kill_all(void)
{
	for (int i = 0; i < npids; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (int i = 0; i < npids; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: holders NPROCS PAIRS UNBOUND [UNIX_PAIRS [DUPS]]\n");
		return 2;
	}
	int nprocs = atoi(argv[1]), pairs = atoi(argv[2]), unbound = atoi(argv[3]);
	int unix_pairs = argc >= 5 ? atoi(argv[4]) : 0;
	int dups = argc >= 6 ? atoi(argv[5]) : 0;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int p[2];
	if (pipe(p) < 0) {
		perror("pipe");
		return 1;
	}
	pids = calloc(nprocs, sizeof(*pids));
	pid_t self = getpid();
	signal(SIGTERM, SIG_IGN); /* stdin EOF is the stop signal */
	for (int i = 0; i < nprocs; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			kill_all();
			return 1;
		}
		if (pid == 0) {
			close(p[0]);
			child(pairs, unbound, unix_pairs, dups, p[1], self);
		}
		pids[npids++] = pid;
	}
	close(p[1]);
	int got = 0;
	while (got < nprocs) {
		char buf[256];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n <= 0) {
			printf("err children exited before reporting (%d of %d ready)\n", got, nprocs);
			fflush(stdout);
			kill_all();
			return 1;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != 'k') {
				printf("err a child failed to build its sockets\n");
				fflush(stdout);
				kill_all();
				return 1;
			}
		}
		got += n;
	}
	close(p[0]);
	/* Sockets, not descriptors: dups add links, not sockets. */
	printf("ready %d %ld\n", nprocs,
	       (long)nprocs * (2L * pairs + unbound + 2L * unix_pairs));
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	kill_all();
	return 0;
}
