/*
 * The Linux side of `cargo xtask bench --arch x86_64 linux`: the /init of a
 * one-file initramfs booted with Debian's kernel in the same QEMU as Zero
 * OS's benchmarks (-icount shift=0: one guest nanosecond is one guest
 * instruction). It prints ktest's kernel-bench rows under the same names,
 * each measured the way a Linux program does the same thing: a system call
 * that does nothing, a round trip through two pipes with a thread, a yield
 * between two threads, an eventfd hand-off, spawn and fork with wait, the
 * tmpfs file cycle, a deep stat, pipe throughput. Then it powers off.
 *
 * `bench exit` exits at once (the program spawn_wait starts).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ktest's: the best of BATCHES batches, ROUNDS operations in all. */
#define ROUNDS 20000
#define BATCHES 10

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void row(const char *name, uint64_t value)
{
	printf("bench: %s %llu\n", name, (unsigned long long)value);
	fflush(stdout);
}

typedef void (*op_fn)(void *);

static uint64_t best_per_op(uint64_t ops, op_fn op, void *arg)
{
	uint64_t best = UINT64_MAX;
	for (int batch = 0; batch < BATCHES; batch++) {
		uint64_t start = now_ns();
		for (uint64_t i = 0; i < ops; i++)
			op(arg);
		uint64_t per = (now_ns() - start) / ops;
		if (per < best)
			best = per;
	}
	return best;
}

static void null_syscall(void *unused)
{
	(void)unused;
	syscall(SYS_getppid);
}

/* A call and its reply: `size` bytes to a server thread through one pipe,
 * the same back through another. */
struct pipes {
	int to_server[2], to_client[2];
	size_t size;
	char buffer[4096];
};

static int read_full(int fd, char *buffer, size_t size)
{
	size_t done = 0;
	while (done < size) {
		ssize_t n = read(fd, buffer + done, size - done);
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static void *echo_server(void *arg)
{
	struct pipes *p = arg;
	char buffer[4096];
	for (;;) {
		if (read_full(p->to_server[0], buffer, p->size) < 0)
			return NULL;
		if (write(p->to_client[1], buffer, p->size) != (ssize_t)p->size)
			return NULL;
	}
}

static void call_reply(void *arg)
{
	struct pipes *p = arg;
	if (write(p->to_server[1], p->buffer, p->size) == (ssize_t)p->size)
		read_full(p->to_client[0], p->buffer, p->size);
}

static void ipc_rows(void)
{
	static struct pipes short_pipes = {.size = 32}, long_pipes = {.size = 4096};
	struct pipes *all[] = {&short_pipes, &long_pipes};
	const char *names[] = {"ipc_call_reply_short", "ipc_call_reply_4k"};
	for (int i = 0; i < 2; i++) {
		struct pipes *p = all[i];
		pthread_t server;
		if (pipe(p->to_server) || pipe(p->to_client) ||
		    pthread_create(&server, NULL, echo_server, p)) {
			perror("bench: ipc");
			return;
		}
		call_reply(p);
		uint64_t ops = i == 0 ? ROUNDS / BATCHES : ROUNDS / 4 / BATCHES;
		row(names[i], best_per_op(ops, call_reply, p));
	}
}

/* Set to end the yielder (sched_yield is no cancellation point). */
static volatile int yielder_stop;

static void *yielder(void *unused)
{
	(void)unused;
	while (!yielder_stop)
		sched_yield();
	return NULL;
}

static void yield_once(void *unused)
{
	(void)unused;
	sched_yield();
}

/* Two eventfds: the notifier waits on `ping` and signals `pong`. */
static int ping, pong;

static void *notifier(void *unused)
{
	(void)unused;
	uint64_t value;
	for (;;) {
		if (read(ping, &value, 8) != 8)
			return NULL;
		value = 1;
		if (write(pong, &value, 8) != 8)
			return NULL;
	}
}

static void hand_off(void *unused)
{
	(void)unused;
	uint64_t value = 1;
	if (write(ping, &value, 8) == 8)
		(void)!read(pong, &value, 8);
}

static void spawn_rows(const char *self)
{
	int rounds = 100;
	uint64_t start = now_ns();
	for (int i = 0; i < rounds; i++) {
		pid_t pid;
		char *argv[] = {(char *)self, "exit", NULL};
		if (posix_spawn(&pid, self, NULL, NULL, argv, environ) == 0)
			waitpid(pid, NULL, 0);
	}
	row("spawn_wait", (now_ns() - start) / rounds);
	start = now_ns();
	for (int i = 0; i < rounds; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	row("fork_exit_wait", (now_ns() - start) / rounds);
}

static void pipe_throughput(void)
{
	int ends[2];
	if (pipe(ends))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		char sink[65536];
		close(ends[1]);
		while (read(ends[0], sink, sizeof sink) > 0)
			;
		_exit(0);
	}
	close(ends[0]);
	static char chunk[3968];
	uint64_t total = 8u << 20, sent = 0, start = now_ns();
	while (sent < total) {
		ssize_t n = write(ends[1], chunk, sizeof chunk);
		if (n <= 0)
			break;
		sent += (uint64_t)n;
	}
	close(ends[1]);
	waitpid(pid, NULL, 0);
	uint64_t ns = now_ns() - start;
	row("pipe_throughput_mib_s", (uint64_t)((unsigned __int128)sent * 1000000000u / ns >> 20));
}

static void tmpfs_cycle(void *page)
{
	int fd = open("/tmp/.bench", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0) {
		(void)!write(fd, page, 4096);
		close(fd);
	}
	unlink("/tmp/.bench");
}

static void stat_deep(void *path)
{
	struct stat st;
	stat(path, &st);
}

static void file_rows(void)
{
	static char page[4096];
	memset(page, 0x42, sizeof page);
	int rounds = 200;
	uint64_t start = now_ns();
	for (int i = 0; i < rounds; i++)
		tmpfs_cycle(page);
	row("tmpfs_create_write_close_unlink", (now_ns() - start) / rounds);
	static char path[64] = "/tmp";
	for (const char *part = "abcdefg"; *part; part++) {
		size_t at = strlen(path);
		path[at] = '/';
		path[at + 1] = *part;
		path[at + 2] = 0;
		mkdir(path, 0755);
	}
	row("stat_deep", best_per_op(rounds / BATCHES, stat_deep, path));
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exit") == 0)
		return 0;
	struct timespec boot;
	clock_gettime(CLOCK_BOOTTIME, &boot);
	uint64_t boot_ns = (uint64_t)boot.tv_sec * 1000000000u + (uint64_t)boot.tv_nsec;
	/* Zero OS's comparable moment is later (its shell's prompt); this is
	 * the start of the first user program. */
	row("boot_to_init", boot_ns);
	mkdir("/tmp", 01777);
	if (mount("tmpfs", "/tmp", "tmpfs", 0, NULL))
		perror("bench: mount /tmp");
	row("null_syscall", best_per_op(ROUNDS / BATCHES, null_syscall, NULL));
	ipc_rows();
	pthread_t helper;
	if (pthread_create(&helper, NULL, yielder, NULL) == 0) {
		sched_yield();
		/* Each round is two switches (to the yielder and back). */
		row("yield_switch", best_per_op(ROUNDS / BATCHES, yield_once, NULL) / 2);
		/* Ended: the yielder would share every later measurement. */
		yielder_stop = 1;
		pthread_join(helper, NULL);
	}
	ping = eventfd(0, 0);
	pong = eventfd(0, 0);
	if (ping >= 0 && pong >= 0 && pthread_create(&helper, NULL, notifier, NULL) == 0)
		row("notify_signal_wait", best_per_op(ROUNDS / BATCHES, hand_off, NULL) / 2);
	spawn_rows(argv[0]);
	pipe_throughput();
	file_rows();
	printf("bench: done\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
