/*
 * floor: the least a TCP listing can do (bench.py, pairs floor-tan and
 * floor-tn; benches/README.md).
 *
 *     floor [STATES]      STATES: idiag_states mask, default 0x3ffe
 *
 * Opens one NETLINK_SOCK_DIAG socket, sends one SOCK_DIAG_BY_FAMILY dump
 * request (struct inet_diag_req_v2, no extensions) per family, AF_INET then
 * AF_INET6, for IPPROTO_TCP with the given state mask, receives each dump
 * with a 64 KiB buffer until NLMSG_DONE and counts the inet_diag_msg
 * messages, decoding nothing. Prints the count. Exit 1 on any error.
 *
 * 0x3ffe = (1<<14)-2, every state 1..13, what `sockdiag list -tan` asks;
 * 0xb36 = ESTABLISHED, SYN_SENT, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK,
 * CLOSING, what `sockdiag list -tn` asks (ss's connected states).
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[65536] __attribute__((aligned(NLMSG_ALIGNTO)));

static long dump(int fd, int family, unsigned states, unsigned seq)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = seq;
	msg.req.sdiag_family = family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = states;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		perror("floor: sendto");
		exit(1);
	}
	long count = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("floor: recv");
			exit(1);
		}
		if (n == 0) {
			fprintf(stderr, "floor: EOF before NLMSG_DONE\n");
			exit(1);
		}
		int len = n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return count;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				fprintf(stderr, "floor: netlink error %d (%s)\n", e->error, strerror(-e->error));
				exit(1);
			}
			count++;
		}
	}
}

int main(int argc, char **argv)
{
	unsigned states = argc > 1 ? strtoul(argv[1], NULL, 0) : (1u << 14) - 2;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		perror("floor: socket(NETLINK_SOCK_DIAG)");
		return 1;
	}
	long total = dump(fd, AF_INET, states, 1) + dump(fd, AF_INET6, states, 2);
	printf("%ld\n", total);
	return 0;
}
