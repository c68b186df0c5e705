/* fork(2) for tests/acceptance/fork.exp and `cargo xtask bench`
 * (docs/posix.md, "fork").
 *   fork-test basic     the child changes its copies of a static, a heap
 *                       and a large (mmap'd) buffer and exits 7; the parent
 *                       sees status 7 and its own buffers unchanged.
 *   fork-test exec      fork, execve("/bin/sh", "-c", ...) in the child, wait.
 *   fork-test pipeline  echo | wc -c built with fork, pipe, dup2 and execve;
 *                       the parent reads wc's answer through a third pipe.
 *   fork-test loop      forks children that wait until fork fails, reports
 *                       the error, kills and reaps them, and compares free
 *                       memory before and after.
 *   fork-test bench N   N times fork + _exit + wait: prints
 *                       `bench: fork_exit_wait NS`.
 *   fork-test bench16 N the same with 16 MiB of heap written first (what
 *                       sharing it costs): `bench: fork_exit_wait_16m NS`. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char data_buffer[64] = "parent-data";

static int basic(void)
{
	char *heap = malloc(100);
	size_t big_size = 1 << 20;
	char *big = malloc(big_size);
	if (!heap || !big) {
		printf("fork-test: malloc failed\n");
		return 1;
	}
	strcpy(heap, "parent-heap");
	memset(big, 'p', big_size);
	pid_t parent = getpid();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("fork-test: fork failed: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		/* The child sees the parent's contents, then changes its copies. */
		int same = strcmp(data_buffer, "parent-data") == 0 &&
			   strcmp(heap, "parent-heap") == 0 && big[0] == 'p' &&
			   big[big_size - 1] == 'p';
		strcpy(data_buffer, "child-data");
		strcpy(heap, "child-heap");
		memset(big, 'c', big_size);
		printf("fork-test: child sees parent's data: %s\n", same ? "yes" : "no");
		printf("fork-test: child pid differs: %s, ppid is parent: %s\n",
		       getpid() != parent ? "yes" : "no",
		       getppid() == parent ? "yes" : "no");
		fflush(stdout);
		_exit(7);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid) {
		printf("fork-test: waitpid failed: %s\n", strerror(errno));
		return 1;
	}
	printf("fork-test: child exited=%d status=%d\n", WIFEXITED(status),
	       WEXITSTATUS(status));
	printf("fork-test: parent data=%s heap=%s big=%c%c\n", data_buffer, heap,
	       big[0], big[big_size - 1]);
	return 0;
}

static int exec_child(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("fork-test: fork failed: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		char *argv[] = { "sh", "-c", "echo sh-in-child says hi; echo sh-in-child pid=$$; exit 3",
				 NULL };
		execve("/bin/sh", argv, environ);
		printf("fork-test: execve failed: %s\n", strerror(errno));
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	printf("fork-test: exec child pid=%d status=%d\n", (int)pid, WEXITSTATUS(status));
	/* A program that cannot start: execve returns its error in the child. */
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "nowhere", NULL };
		execve("/bin/no-such-program", argv, environ);
		printf("fork-test: missing program: %s\n", strerror(errno));
		fflush(stdout);
		_exit(9);
	}
	waitpid(pid, &status, 0);
	printf("fork-test: missing program status=%d\n", WEXITSTATUS(status));
	return 0;
}

/* Forks a child that makes `in` its stdin and `out` its stdout, closes
 * every pipe end in `close_all`, and runs `argv`. */
static pid_t run(char **argv, int in, int out, int *close_all, int count)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (in >= 0)
		dup2(in, 0);
	if (out >= 0)
		dup2(out, 1);
	for (int i = 0; i < count; i++)
		close(close_all[i]);
	execve(argv[0], argv, environ);
	_exit(127);
}

static int pipeline(void)
{
	int first[2], second[2];
	if (pipe(first) || pipe(second)) {
		printf("fork-test: pipe failed: %s\n", strerror(errno));
		return 1;
	}
	int ends[] = { first[0], first[1], second[0], second[1] };
	char *echo[] = { "/bin/echo", "hello, fork pipeline", NULL };
	char *wc[] = { "/bin/wc", "-c", NULL };
	fflush(stdout);
	pid_t writer = run(echo, -1, first[1], ends, 4);
	pid_t counter = run(wc, first[0], second[1], ends, 4);
	close(first[0]);
	close(first[1]);
	close(second[1]);
	char answer[64] = { 0 };
	size_t got = 0;
	ssize_t n;
	while (got < sizeof answer - 1 &&
	       (n = read(second[0], answer + got, sizeof answer - 1 - got)) > 0)
		got += n;
	close(second[0]);
	int status_writer = -1, status_counter = -1;
	waitpid(writer, &status_writer, 0);
	waitpid(counter, &status_counter, 0);
	char *count = answer;
	while (*count == ' ')
		count++;
	count[strcspn(count, " \n")] = 0;
	printf("fork-test: pipeline count=%s statuses=%d,%d\n", count,
	       WEXITSTATUS(status_writer), WEXITSTATUS(status_counter));
	return 0;
}

static unsigned long free_kib(void)
{
	struct sysinfo info;
	if (sysinfo(&info))
		return 0;
	return info.freeram * info.mem_unit / 1024;
}

static int loop(void)
{
	enum { MAX_CHILDREN = 4096 };
	static pid_t children[MAX_CHILDREN];
	int count = 0;
	unsigned long before = free_kib();
	int error = 0;
	fflush(stdout);
	while (count < MAX_CHILDREN) {
		pid_t pid = fork();
		if (pid < 0) {
			error = errno;
			break;
		}
		if (pid == 0) {
			for (;;)
				pause();
		}
		children[count++] = pid;
	}
	unsigned long during = free_kib();
	printf("fork-test: fork failed after %d children: %s (%s)\n", count,
	       error == EAGAIN ? "EAGAIN" : error == ENOMEM ? "ENOMEM" : "other",
	       strerror(error));
	for (int i = 0; i < count; i++)
		kill(children[i], SIGKILL);
	int reaped = 0;
	for (int i = 0; i < count; i++)
		if (waitpid(children[i], NULL, 0) == children[i])
			reaped++;
	/* init frees a killed child's memory when it reaps it. */
	unsigned long after = free_kib();
	printf("fork-test: reaped %d of %d\n", reaped, count);
	printf("fork-test: free KiB before=%lu during=%lu after=%lu\n", before,
	       during, after);
	long lost = (long)before - (long)after;
	printf("fork-test: memory back: %s (%ld KiB short)\n",
	       lost < 512 ? "yes" : "no", lost);
	return 0;
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int bench(int rounds, const char *row)
{
	long long start = now_ns();
	for (int i = 0; i < rounds; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0) {
			printf("fork-test: fork failed: %s\n", strerror(errno));
			return 1;
		}
		waitpid(pid, NULL, 0);
	}
	printf("bench: %s %lld\n", row, (now_ns() - start) / rounds);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "basic"))
		return basic();
	if (!strcmp(mode, "exec"))
		return exec_child();
	if (!strcmp(mode, "pipeline"))
		return pipeline();
	if (!strcmp(mode, "loop"))
		return loop();
	int rounds = argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;
	if (!strcmp(mode, "bench"))
		return bench(rounds, "fork_exit_wait");
	if (!strcmp(mode, "bench16")) {
		size_t size = 16u << 20;
		char *touched = malloc(size);
		if (!touched) {
			printf("fork-test: no 16 MiB: %s\n", strerror(errno));
			return 1;
		}
		memset(touched, 0x5a, size);
		/* The compiler may not drop the buffer: it is used in memory. */
		__asm__ volatile("" : : "r"(touched) : "memory");
		int status = bench(rounds, "fork_exit_wait_16m");
		/* Read after the forks, so the buffer lives through them. */
		return status + (touched[size - 1] != 0x5a);
	}
	fprintf(stderr, "usage: fork-test basic|exec|pipeline|loop|bench|bench16 [N]\n");
	return 2;
}
