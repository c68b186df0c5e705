/* poll(2) over pipes for tests/acceptance/poll.exp and `cargo xtask bench`.
 *   poll-test wake     a 10 s poll on an empty pipe that a child writes
 *                      after ~100 ms (and ends a second later): prints how
 *                      long it took, then the hang-up once the child is gone.
 *   poll-test full     a full pipe is not POLLOUT; reading makes it so; a
 *                      gone reader is POLLERR, gone writers POLLHUP.
 *   poll-test sigint   waits in poll (no timeout) with a SIGINT handler:
 *                      Ctrl-C must end it with EINTR.
 *   poll-test idle MS  polls an empty pipe for MS ms (no CPU if it sleeps).
 *   poll-test tty MS   polls the terminal on descriptor 0 for MS ms: the
 *                      line typed meanwhile, or nothing (no CPU either).
 *   poll-test sleep MS sleeps MS ms (what `idle` should cost).
 *   poll-test bench    a byte back and forth through two pipes with a
 *                      child, each side waiting in poll: prints
 *                      `bench: poll_pipe_round_trip NS`.
 * Internal: `writer MS` and `echo` are the children. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int poll_one(int fd, short events, int timeout)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n = poll(&p, 1, timeout);
	if (n < 0)
		return -errno;
	return p.revents;
}

/* Starts `poll-test ARGS` with stdin `in` and stdout `out` (-1: inherited);
 * `close_fd` is closed in the child. */
static pid_t child(const char *mode, const char *arg, int in, int out, int close_fd)
{
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&actions, in, 0);
	if (out >= 0)
		posix_spawn_file_actions_adddup2(&actions, out, 1);
	if (close_fd >= 0)
		posix_spawn_file_actions_addclose(&actions, close_fd);
	char *argv[] = { "poll-test", (char *)mode, (char *)arg, NULL };
	pid_t pid;
	int e = posix_spawn(&pid, "/bin/poll-test", &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (e) {
		fprintf(stderr, "poll-test: spawn: %s\n", strerror(e));
		exit(1);
	}
	return pid;
}

static int wake(void)
{
	int p[2];
	if (pipe(p))
		return 1;
	pid_t pid = child("writer", "100", -1, p[1], p[0]);
	close(p[1]);
	long long t0 = now_ms();
	int revents = poll_one(p[0], POLLIN, 10000);
	long long took = now_ms() - t0;
	printf("poll-test: wake revents=0x%x ms=%lld\n", revents, took);
	char byte;
	if (read(p[0], &byte, 1) != 1)
		printf("poll-test: no byte\n");
	int status;
	waitpid(pid, &status, 0);
	t0 = now_ms();
	revents = poll_one(p[0], POLLIN, 10000);
	printf("poll-test: writer gone revents=0x%x ms=%lld\n", revents, now_ms() - t0);
	return 0;
}

static int full(void)
{
	int p[2];
	if (pipe(p))
		return 1;
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	printf("poll-test: empty write end revents=0x%x\n", poll_one(p[1], POLLOUT, 0));
	printf("poll-test: empty read end revents=0x%x\n", poll_one(p[0], POLLIN, 0));
	static char chunk[4096];
	size_t total = 0;
	for (;;) {
		ssize_t n = write(p[1], chunk, sizeof chunk);
		if (n <= 0)
			break;
		total += n;
	}
	printf("poll-test: filled %zu errno=%s\n", total, errno == EAGAIN ? "EAGAIN" : strerror(errno));
	long long t0 = now_ms();
	int revents = poll_one(p[1], POLLOUT, 300);
	printf("poll-test: full revents=0x%x waited=%s\n", revents,
	       now_ms() - t0 >= 250 ? "yes" : "no");
	char buffer[8192];
	ssize_t got = read(p[0], buffer, sizeof buffer);
	printf("poll-test: read %zd, then revents=0x%x\n", got, poll_one(p[1], POLLOUT, 1000));
	close(p[0]);
	printf("poll-test: reader gone revents=0x%x\n", poll_one(p[1], POLLOUT, 1000));
	int q[2];
	if (pipe(q))
		return 1;
	close(q[1]);
	printf("poll-test: writer gone revents=0x%x\n", poll_one(q[0], POLLIN, 1000));
	return 0;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int signal)
{
	(void)signal;
	interrupted = 1;
}

static int sigint(void)
{
	struct sigaction action = { .sa_handler = on_sigint };
	sigaction(SIGINT, &action, NULL);
	int p[2];
	if (pipe(p))
		return 1;
	printf("poll-test: waiting for Ctrl-C\n");
	fflush(stdout);
	long long t0 = now_ms();
	int revents = poll_one(p[0], POLLIN, -1);
	printf("poll-test: poll gave %s after %lld ms, handler ran=%d\n",
	       revents == -EINTR ? "EINTR" : "something else", now_ms() - t0, (int)interrupted);
	return 0;
}

static int idle(int ms)
{
	int p[2];
	if (pipe(p))
		return 1;
	int revents = poll_one(p[0], POLLIN, ms);
	printf("poll-test: idle revents=0x%x\n", revents);
	return 0;
}

static int tty(int ms)
{
	int revents = poll_one(0, POLLIN, ms);
	char line[64] = "";
	if (revents > 0 && (revents & POLLIN)) {
		ssize_t got = read(0, line, sizeof line - 1);
		line[got > 0 ? got : 0] = 0;
		line[strcspn(line, "\r\n")] = 0;
	}
	printf("poll-test: tty revents=0x%x line=%s.\n", revents, line);
	return 0;
}

#define ROUNDS 500

static int bench(void)
{
	int to_child[2], from_child[2];
	/* Close-on-exec: the echo child must not hold the write end of its own
	 * input (it would never see end-of-file) or the other pipe's ends. */
	if (pipe2(to_child, O_CLOEXEC) || pipe2(from_child, O_CLOEXEC))
		return 1;
	pid_t pid = child("echo", NULL, to_child[0], from_child[1], -1);
	close(to_child[0]);
	close(from_child[1]);
	char byte = 'x';
	long long t0 = now_ns();
	for (int i = 0; i < ROUNDS; i++) {
		if (write(to_child[1], &byte, 1) != 1)
			return 1;
		if (poll_one(from_child[0], POLLIN, 10000) != POLLIN || read(from_child[0], &byte, 1) != 1) {
			printf("poll-test: the echo stopped at round %d\n", i);
			return 1;
		}
	}
	long long per_round = (now_ns() - t0) / ROUNDS;
	close(to_child[1]);
	int status;
	waitpid(pid, &status, 0);
	printf("bench: poll_pipe_round_trip %lld\n", per_round);
	return 0;
}

static int echo(void)
{
	char byte;
	for (;;) {
		int revents = poll_one(0, POLLIN, -1);
		if (revents < 0)
			return 1;
		if (read(0, &byte, 1) != 1)
			return 0;
		if (write(1, &byte, 1) != 1)
			return 1;
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "wake"))
		return wake();
	if (!strcmp(mode, "full"))
		return full();
	if (!strcmp(mode, "sigint"))
		return sigint();
	if (!strcmp(mode, "idle") && argc > 2)
		return idle(atoi(argv[2]));
	if (!strcmp(mode, "tty") && argc > 2)
		return tty(atoi(argv[2]));
	if (!strcmp(mode, "sleep") && argc > 2) {
		usleep(atoi(argv[2]) * 1000);
		printf("poll-test: slept\n");
		return 0;
	}
	if (!strcmp(mode, "bench"))
		return bench();
	if (!strcmp(mode, "echo"))
		return echo();
	if (!strcmp(mode, "writer") && argc > 2) {
		usleep(atoi(argv[2]) * 1000);
		int wrote = write(1, "x", 1);
		/* Stays a second: the write, not the end, must wake the poll. */
		usleep(1000000);
		return wrote == 1 ? 0 : 1;
	}
	fprintf(stderr, "usage: poll-test wake|full|sigint|idle MS|tty MS|sleep MS|bench\n");
	return 2;
}
