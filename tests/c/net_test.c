/* Sockets from C through musl and the Linux-syscall dispatcher
 * (libzos/src/linux/net.rs), over loopback.
 *
 *   net-test [PORT]        TCP and UDP between sockets of this one process:
 *                          getaddrinfo("localhost"), bind/listen/connect/
 *                          accept4, send/recv, sendmsg/recvmsg with pieces,
 *                          poll, non-blocking modes, timeouts, options,
 *                          shutdown, a refused connect. Prints the same
 *                          lines on Zero OS as on a Linux host (net_libc.exp
 *                          compares them).
 *   net-test errors        bad arguments: Linux's errors, plus what Zero OS
 *                          lacks (IPv6, AF_UNIX).
 *   net-test resolve NAME  getaddrinfo(NAME) with AI_ADDRCONFIG: each address.
 *   net-test dns-server    a DNS server on UDP port 53 of this machine for the
 *                          resolver test: every name is 10.9.8.7 but those
 *                          starting "nosuch" (NXDOMAIN); AAAA has no answer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAILED: %s (errno %s)\n", what, strerror(errno));
		failures++;
	}
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static void show_error(const char *what, int result)
{
	printf("%s: %d %s\n", what, result, result < 0 ? strerror(errno) : "ok");
}

static int tcp(int port)
{
	struct addrinfo hints, *found;
	char service[16], text[INET_ADDRSTRLEN];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof service, "%d", port);
	int rc = getaddrinfo("localhost", service, &hints, &found);
	if (rc) {
		printf("getaddrinfo localhost: %s\n", gai_strerror(rc));
		return 1;
	}
	struct sockaddr_in *target = (struct sockaddr_in *)found->ai_addr;
	inet_ntop(AF_INET, &target->sin_addr, text, sizeof text);
	printf("localhost is %s, port %s\n", text,
	       ntohs(target->sin_port) == port ? "right" : "wrong");

	int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(server >= 0, "socket");
	check(fcntl(server, F_GETFD) == FD_CLOEXEC, "SOCK_CLOEXEC");
	int one = 1;
	check(setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
	struct sockaddr_in at = loopback(port);
	check(bind(server, (struct sockaddr *)&at, sizeof at) == 0, "bind");
	check(listen(server, 4) == 0, "listen");
	struct sockaddr_in name;
	socklen_t len = sizeof name;
	check(getsockname(server, (struct sockaddr *)&name, &len) == 0, "getsockname");
	printf("listening: len %u, port %s\n", (unsigned)len, ntohs(name.sin_port) == port ? "right" : "wrong");

	int client = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
	check(client >= 0, "client socket");
	show_error("connect", connect(client, found->ai_addr, found->ai_addrlen));
	freeaddrinfo(found);

	struct sockaddr_in peer;
	len = sizeof peer;
	int conn = accept4(server, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	check(conn >= 0, "accept4");
	inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
	printf("accepted from %s, len %u\n", text, (unsigned)len);
	len = sizeof name;
	check(getpeername(client, (struct sockaddr *)&name, &len) == 0, "getpeername");
	printf("client's peer: port %s\n", ntohs(name.sin_port) == port ? "right" : "wrong");
	/* A short buffer gets the front of the address and the full length. */
	char small[4];
	len = sizeof small;
	check(getsockname(conn, (struct sockaddr *)small, &len) == 0, "short getsockname");
	printf("short getsockname: len %u, family %d\n", (unsigned)len, small[0]);

	int type = 0;
	len = sizeof type;
	check(getsockopt(conn, SOL_SOCKET, SO_TYPE, &type, &len) == 0, "SO_TYPE");
	printf("SO_TYPE %d (stream %d), len %u\n", type, SOCK_STREAM, (unsigned)len);
	int error = -1;
	len = sizeof error;
	check(getsockopt(client, SOL_SOCKET, SO_ERROR, &error, &len) == 0, "SO_ERROR");
	printf("SO_ERROR %d\n", error);
	int buffer_size = 0;
	len = sizeof buffer_size;
	check(getsockopt(conn, SOL_SOCKET, SO_RCVBUF, &buffer_size, &len) == 0, "SO_RCVBUF");
	printf("SO_RCVBUF positive: %s\n", buffer_size > 0 ? "yes" : "no");
	check(setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0, "TCP_NODELAY");
	int nodelay = 0;
	len = sizeof nodelay;
	check(getsockopt(client, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0, "get TCP_NODELAY");
	printf("TCP_NODELAY %s\n", nodelay ? "on" : "off");

	/* send, poll, recv. */
	check(send(client, "hello", 5, MSG_NOSIGNAL) == 5, "send");
	struct pollfd pfd = {.fd = conn, .events = POLLIN};
	int ready = poll(&pfd, 1, 5000);
	printf("poll: %d, POLLIN %s\n", ready, (pfd.revents & POLLIN) ? "yes" : "no");
	char got[64];
	ssize_t n = recv(conn, got, sizeof got, 0);
	printf("recv: %d '%.*s'\n", (int)n, n > 0 ? (int)n : 0, got);

	/* sendmsg gathers, recvmsg scatters. */
	struct iovec out[3] = {{"ab", 2}, {"", 0}, {"cdefg", 5}};
	struct msghdr message = {.msg_iov = out, .msg_iovlen = 3};
	printf("sendmsg: %d\n", (int)sendmsg(client, &message, 0));
	char first[3] = {0}, second[4] = {0};
	struct iovec in[2] = {{first, 3}, {second, 4}};
	struct msghdr incoming = {.msg_iov = in, .msg_iovlen = 2};
	n = recvmsg(conn, &incoming, MSG_WAITALL);
	printf("recvmsg: %d '%.3s' '%.*s' flags %d\n", (int)n, first, n > 3 ? (int)n - 3 : 0, second,
	       incoming.msg_flags);

	/* Nothing to read: MSG_DONTWAIT, O_NONBLOCK and FIONBIO each say so. */
	errno = 0;
	n = recv(conn, got, sizeof got, MSG_DONTWAIT);
	printf("MSG_DONTWAIT: %d %s\n", (int)n, errno == EAGAIN ? "EAGAIN" : strerror(errno));
	int flags = fcntl(conn, F_GETFL);
	check(fcntl(conn, F_SETFL, flags | O_NONBLOCK) == 0, "F_SETFL");
	printf("F_GETFL has O_NONBLOCK: %s\n", (fcntl(conn, F_GETFL) & O_NONBLOCK) ? "yes" : "no");
	errno = 0;
	n = read(conn, got, sizeof got);
	printf("O_NONBLOCK read: %d %s\n", (int)n, errno == EAGAIN ? "EAGAIN" : strerror(errno));
	check(fcntl(conn, F_SETFL, flags) == 0, "F_SETFL back");
	int on = 1, off = 0;
	check(ioctl(conn, FIONBIO, &on) == 0, "FIONBIO on");
	errno = 0;
	n = recv(conn, got, sizeof got, 0);
	printf("FIONBIO recv: %d %s\n", (int)n, errno == EAGAIN ? "EAGAIN" : strerror(errno));
	check(ioctl(conn, FIONBIO, &off) == 0, "FIONBIO off");

	/* A receive timeout. */
	struct timeval timeout = {.tv_sec = 0, .tv_usec = 300000};
	check(setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0, "SO_RCVTIMEO");
	struct timeval back = {0};
	len = sizeof back;
	check(getsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &back, &len) == 0, "get SO_RCVTIMEO");
	printf("SO_RCVTIMEO %ld.%06ld\n", (long)back.tv_sec, (long)back.tv_usec);
	long started = now_ms();
	errno = 0;
	n = recv(conn, got, sizeof got, 0);
	long waited = now_ms() - started;
	printf("timed out: %d %s, waited %s\n", (int)n, errno == EAGAIN ? "EAGAIN" : strerror(errno),
	       waited >= 250 && waited < 5000 ? "about 300 ms" : "wrong");

	/* The client shuts its sending side: end of file at the other end. */
	check(shutdown(client, SHUT_WR) == 0, "shutdown");
	n = recv(conn, got, sizeof got, 0);
	printf("after shutdown: %d\n", (int)n);
	check(write(conn, "bye", 3) == 3, "write after the peer's shutdown");
	n = read(client, got, sizeof got);
	printf("read: %d '%.*s'\n", (int)n, n > 0 ? (int)n : 0, got);
	close(conn);
	close(client);
	close(server);

	/* Nobody listens on the next port. */
	int refused = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in closed = loopback(port + 1);
	show_error("connect to a closed port", connect(refused, (struct sockaddr *)&closed, sizeof closed));
	close(refused);

	/* The same without waiting: the attempt is under way, poll sees it
	   end, SO_ERROR says how, once. */
	int pending = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	check(pending >= 0, "non-blocking socket");
	int connecting = connect(pending, (struct sockaddr *)&closed, sizeof closed);
	/* By name: glibc and musl word EINPROGRESS differently. */
	printf("non-blocking connect to a closed port: %d %s\n", connecting,
	       connecting == -1 && errno == EINPROGRESS ? "EINPROGRESS" : strerror(errno));
	struct pollfd ended = { .fd = pending, .events = POLLOUT };
	int polled = poll(&ended, 1, 5000);
	printf("poll after it: %d, POLLERR %s\n", polled, (ended.revents & POLLERR) ? "yes" : "no");
	int pending_error = -1;
	socklen_t error_len = sizeof pending_error;
	check(getsockopt(pending, SOL_SOCKET, SO_ERROR, &pending_error, &error_len) == 0, "SO_ERROR");
	printf("SO_ERROR: %s\n", pending_error ? strerror(pending_error) : "0");
	check(getsockopt(pending, SOL_SOCKET, SO_ERROR, &pending_error, &error_len) == 0,
	      "SO_ERROR again");
	printf("SO_ERROR again: %d\n", pending_error);
	close(pending);
	return 0;
}

static int udp(int port)
{
	int a = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
	int b = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	check(a >= 0 && b >= 0, "udp sockets");
	struct sockaddr_in at = loopback(port + 2);
	check(bind(a, (struct sockaddr *)&at, sizeof at) == 0, "udp bind");
	errno = 0;
	char got[64];
	ssize_t n = recvfrom(b, got, sizeof got, 0, NULL, NULL);
	printf("udp empty: %d %s\n", (int)n, errno == EAGAIN ? "EAGAIN" : strerror(errno));
	printf("sendto: %d\n", (int)sendto(b, "dgram", 5, 0, (struct sockaddr *)&at, sizeof at));
	struct sockaddr_in from;
	socklen_t len = sizeof from;
	memset(&from, 0xff, sizeof from);
	n = recvfrom(a, got, sizeof got, 0, (struct sockaddr *)&from, &len);
	char text[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &from.sin_addr, text, sizeof text);
	static const char zero[8];
	printf("recvfrom: %d '%.*s' from %s, len %u, family %d, sin_zero %s\n", (int)n, n > 0 ? (int)n : 0,
	       got, text, (unsigned)len, from.sin_family,
	       memcmp(from.sin_zero, zero, 8) == 0 ? "clear" : "dirty");
	/* The answer goes back to where it came from (b's own port). */
	printf("reply: %d\n", (int)sendto(a, "reply", 5, 0, (struct sockaddr *)&from, len));
	struct pollfd pfd = {.fd = b, .events = POLLIN};
	printf("poll: %d\n", poll(&pfd, 1, 5000));
	struct sockaddr_in source;
	struct iovec piece = {got, sizeof got};
	struct msghdr message = {.msg_name = &source, .msg_namelen = sizeof source, .msg_iov = &piece,
				 .msg_iovlen = 1};
	n = recvmsg(b, &message, 0);
	printf("recvmsg: %d '%.*s' namelen %u port %s\n", (int)n, n > 0 ? (int)n : 0, got,
	       (unsigned)message.msg_namelen, ntohs(source.sin_port) == port + 2 ? "right" : "wrong");
	/* Connected: send and recv without addresses. */
	check(connect(b, (struct sockaddr *)&at, sizeof at) == 0, "udp connect");
	printf("send: %d\n", (int)send(b, "again", 5, 0));
	n = recv(a, got, sizeof got, 0);
	printf("recv: %d '%.*s'\n", (int)n, n > 0 ? (int)n : 0, got);
	close(a);
	close(b);
	return 0;
}

static int errors(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in at = loopback(1);
	show_error("bind, short length", bind(fd, (struct sockaddr *)&at, 8));
	show_error("bind, null address", bind(fd, NULL, sizeof at));
	show_error("bind, negative length", bind(fd, (struct sockaddr *)&at, (socklen_t)-1));
	struct sockaddr_in6 six;
	memset(&six, 0, sizeof six);
	six.sin6_family = AF_INET6;
	show_error("connect, IPv6 address", connect(fd, (struct sockaddr *)&six, sizeof six));
	show_error("socket, AF_INET6", socket(AF_INET6, SOCK_STREAM, 0));
	show_error("socket, AF_UNIX", socket(AF_UNIX, SOCK_STREAM, 0));
	int pair[2];
	show_error("socketpair, AF_UNIX", socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
	show_error("socket, raw", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	show_error("socket, stream over UDP", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	int value = 1;
	show_error("setsockopt, unknown", setsockopt(fd, SOL_SOCKET, 999, &value, sizeof value));
	show_error("setsockopt, short", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &value, 2));
	struct timeval bad = {.tv_sec = 1, .tv_usec = 1000000};
	show_error("SO_RCVTIMEO, bad usec", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad));
	show_error("listen, not a socket", listen(0, 1));
	show_error("shutdown, bad how", shutdown(fd, 7));
	struct msghdr message = {.msg_iovlen = 2000};
	show_error("sendmsg, 2000 pieces", (int)sendmsg(fd, &message, 0));
	show_error("recv, MSG_PEEK", (int)recv(fd, &value, sizeof value, MSG_PEEK));
	close(fd);
	return 0;
}

static int resolve(const char *name)
{
	struct addrinfo hints, *found, *each;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	int rc = getaddrinfo(name, "80", &hints, &found);
	if (rc) {
		printf("resolve %s: %s\n", name, gai_strerror(rc));
		return 1;
	}
	for (each = found; each; each = each->ai_next) {
		char text[INET6_ADDRSTRLEN] = "?";
		if (each->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)each->ai_addr)->sin_addr, text,
				  sizeof text);
		printf("resolve %s: %s\n", name, text);
	}
	freeaddrinfo(found);
	return 0;
}

/* One DNS answer for the query in `q` (`n` bytes) into `r`; its length. */
static int dns_answer(const unsigned char *q, int n, unsigned char *r)
{
	if (n < 17)
		return -1;
	int at = 12;
	char first[8] = {0};
	if (q[at] > 0)
		memcpy(first, q + at + 1, q[at] < 6 ? q[at] : 6);
	while (at < n && q[at])
		at += q[at] + 1;
	if (at + 5 > n)
		return -1;
	int qtype = q[at + 1] << 8 | q[at + 2];
	int end = at + 5;
	memcpy(r, q, end);
	r[2] = 0x81; /* QR, RD */
	r[3] = 0x80; /* RA, no error */
	r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
	if (strncmp(first, "nosuch", 6) == 0) {
		r[3] = 0x83; /* NXDOMAIN */
		return end;
	}
	if (qtype != 1)
		return end;
	r[7] = 1;
	static const unsigned char record[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 8, 7};
	memcpy(r + end, record, sizeof record);
	return end + sizeof record;
}

static int dns_server(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in at = loopback(53);
	at.sin_addr.s_addr = htonl(INADDR_ANY);
	if (fd < 0 || bind(fd, (struct sockaddr *)&at, sizeof at) < 0) {
		perror("dns-server: bind");
		return 1;
	}
	printf("dns-server: ready\n");
	fflush(stdout);
	for (;;) {
		unsigned char query[512], reply[600];
		struct sockaddr_in from;
		socklen_t len = sizeof from;
		ssize_t n = recvfrom(fd, query, sizeof query, 0, (struct sockaddr *)&from, &len);
		if (n < 0) {
			perror("dns-server: recvfrom");
			return 1;
		}
		int answer = dns_answer(query, (int)n, reply);
		if (answer > 0)
			sendto(fd, reply, answer, 0, (struct sockaddr *)&from, len);
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "errors") == 0)
		return errors();
	if (argc > 2 && strcmp(argv[1], "resolve") == 0)
		return resolve(argv[2]);
	if (argc > 1 && strcmp(argv[1], "dns-server") == 0)
		return dns_server();
	int port = argc > 1 ? atoi(argv[1]) : 39127;
	printf("net-test: begin\n");
	tcp(port);
	udp(port);
	printf("net-test: end, %d failed\n", failures);
	return failures != 0;
}
