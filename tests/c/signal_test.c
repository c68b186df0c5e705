/*
 * Signals that interrupt a blocked call (tests/acceptance/signals.exp):
 *   signal-test eintr    SIGALRM (alarm 1 s, no SA_RESTART) interrupts a read
 *                        of the terminal: -1/EINTR, the handler ran once.
 *   signal-test restart  the same with SA_RESTART: the handler runs (it
 *                        prints HANDLER), the read goes on and returns the
 *                        line typed afterwards.
 *   signal-test sleep    SIGALRM ends a 5 s nanosleep after ~1 s with EINTR
 *                        and the time left.
 *   signal-test default  SIGALRM left to its default ends the program
 *                        (status 142 in the shell).
 *   signal-test timer    setitimer/getitimer: an armed timer reports time
 *                        left; disarming returns the old value.
 *   signal-test bench N  signal delivery to a blocked thread, N rounds: the
 *                        main thread blocks in a pipe read, a forked child
 *                        sends SIGUSR1 (asked for by a byte through another
 *                        pipe), the read returns EINTR after the handler ran.
 *                        Prints `bench: signal_to_blocked_read NS` (a round:
 *                        the request byte, the kill, the interruption).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_alarm(int sig)
{
	static const char line[] = "HANDLER\n";
	(void)sig;
	handled++;
	write(1, line, sizeof line - 1);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void catch_alarm(int flags)
{
	struct sigaction action;
	memset(&action, 0, sizeof action);
	action.sa_handler = on_alarm;
	action.sa_flags = flags;
	sigemptyset(&action.sa_mask);
	sigaction(SIGALRM, &action, NULL);
}

static int read_line(const char *mode, int flags)
{
	char buffer[128];
	long t0;
	ssize_t n;
	catch_alarm(flags);
	alarm(1);
	t0 = now_ms();
	n = read(0, buffer, sizeof buffer);
	printf("signal-test: %s read=%d errno=%s handled=%d ms=%ld\n", mode, (int)n,
	       n < 0 && errno == EINTR ? "EINTR" : n < 0 ? strerror(errno) : "none",
	       (int)handled, now_ms() - t0);
	if (n > 0) {
		buffer[n - 1 == 0 ? 0 : n - 1] = 0;
		printf("signal-test: got '%s'\n", buffer);
	}
	return 0;
}

static volatile sig_atomic_t usr1_count;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The child: for each request byte, SIGUSR1 to the parent, again every
 * 100 ms until the next request comes (a signal that arrived before the
 * parent blocked is handled, and its read then waits for the next one). */
static void signal_sender(pid_t parent, int requests)
{
	struct pollfd wait_request = {requests, POLLIN, 0};
	char byte;
	if (read(requests, &byte, 1) != 1)
		_exit(1);
	for (;;) {
		kill(parent, SIGUSR1);
		if (poll(&wait_request, 1, 100) == 0)
			continue;
		if (read(requests, &byte, 1) != 1 || byte == 'q')
			_exit(0);
	}
}

static int bench(int rounds)
{
	int request[2], never[2];
	struct sigaction action;
	if (pipe(request) || pipe(never)) {
		printf("signal-test: pipe: %s\n", strerror(errno));
		return 1;
	}
	memset(&action, 0, sizeof action);
	action.sa_handler = on_usr1;
	sigemptyset(&action.sa_mask);
	sigaction(SIGUSR1, &action, NULL);
	pid_t parent = getpid(), child = fork();
	if (child < 0) {
		printf("signal-test: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0)
		signal_sender(parent, request[0]);
	int interrupted = 0;
	long long start = now_ns();
	for (int i = 0; i < rounds; i++) {
		char byte;
		write(request[1], "r", 1);
		if (read(never[0], &byte, 1) < 0 && errno == EINTR)
			interrupted++;
	}
	long long per_round = (now_ns() - start) / rounds;
	write(request[1], "q", 1);
	waitpid(child, NULL, 0);
	printf("signal-test: bench interrupted=%d of %d handled=%d\n", interrupted, rounds,
	       (int)usr1_count);
	printf("bench: signal_to_blocked_read %lld\n", per_round);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "eintr") == 0)
		return read_line(mode, 0);
	if (strcmp(mode, "restart") == 0)
		return read_line(mode, SA_RESTART);
	if (strcmp(mode, "sleep") == 0) {
		struct timespec request = {5, 0}, left = {0, 0};
		long t0;
		int r;
		catch_alarm(0);
		alarm(1);
		t0 = now_ms();
		r = nanosleep(&request, &left);
		printf("signal-test: sleep r=%d errno=%s handled=%d ms=%ld left=%ld\n", r,
		       r < 0 && errno == EINTR ? "EINTR" : "none", (int)handled, now_ms() - t0,
		       (long)left.tv_sec);
		return 0;
	}
	if (strcmp(mode, "default") == 0) {
		alarm(1);
		pause();
		printf("signal-test: still alive after SIGALRM\n");
		return 1;
	}
	if (strcmp(mode, "timer") == 0) {
		struct itimerval value = {{0, 0}, {30, 0}}, old, now;
		setitimer(ITIMER_REAL, &value, NULL);
		getitimer(ITIMER_REAL, &now);
		memset(&value, 0, sizeof value);
		setitimer(ITIMER_REAL, &value, &old);
		getitimer(ITIMER_REAL, &value);
		printf("signal-test: timer left=%ld old=%ld after=%ld\n", (long)now.it_value.tv_sec,
		       (long)old.it_value.tv_sec, (long)(value.it_value.tv_sec + value.it_value.tv_usec));
		return 0;
	}
	if (strcmp(mode, "bench") == 0)
		return bench(argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	fprintf(stderr, "usage: signal-test eintr|restart|sleep|default|timer|bench [N]\n");
	return 2;
}
