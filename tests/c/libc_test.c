/* The C library on Zero OS: a program that prints the same lines on Zero OS
 * (musl over libzos, built with zos-cc) as on the host (built with the
 * host's cc). tests/acceptance/libc.exp builds it for the host, runs both
 * and compares every line between the begin and end markers.
 *
 * Usage: libc-test [DIR]   (DIR: where to make its scratch directory; /tmp)
 *        libc-test child N (the posix_spawn target: prints, exits with N)
 *        libc-test signal  (waits up to 10 s for SIGUSR1 from elsewhere;
 *                           exits 0 when its handler ran)
 *        libc-test fault jump|heap|trap (jumps to an unmapped address,
 *                           overwrites a heap block's header and frees it so
 *                           musl's malloc traps, or traps: each must be
 *                           killed with a report while the shell goes on) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int compare_ints(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void numbers(void)
{
	printf("printf: %d %5.2f %e %g %.10g\n", -42, 3.14159, 12345.678, 0.0001, 0.1 + 0.2);
	printf("printf: %.3Lf %x %o %s %c %%\n", (long double)2 / 3, 255, 8, "str", 'z');
	printf("printf: %f %.0f %.20f\n", -0.0, 2.5, 1.0 / 3);
	printf("printf: %g %g %e\n", 1e300 * 1e10, -1e300 * 1e10, 1e-310);
	char *end;
	double d = strtod("3.25e2xyz", &end);
	printf("strtod: %g rest=%s\n", d, end);
	printf("strtod: %g %g %.17g\n", strtod("0x1p-3", 0), strtod("-inf", 0), strtod("0.1", 0));
	printf("strtol: %ld %ld %lu\n", strtol("-0x1f", 0, 16), strtol("0777", 0, 0), strtoul("42", 0, 10));
	char buffer[8];
	const char *text = getenv("LIBC_TEST_UNSET") ? "" : "truncated text";
	int wanted = snprintf(buffer, sizeof buffer, "%s", text);
	printf("snprintf: %s %d\n", buffer, wanted);
	int a, b;
	char word[16];
	int matched = sscanf("12 34 words", "%d %d %15s", &a, &b, word);
	printf("sscanf: %d %d %d %s\n", matched, a, b, word);
}

static void memory(void)
{
	int *values = 0;
	size_t count = 0, capacity = 0;
	unsigned long sum = 0;
	for (int i = 0; i < 300000; i++) {
		if (count == capacity) {
			capacity = capacity ? capacity * 2 : 16;
			int *grown = realloc(values, capacity * sizeof *values);
			if (!grown) {
				printf("realloc failed at %zu\n", capacity);
				return;
			}
			values = grown;
		}
		values[count++] = (int)((i * 7919L) % 100003);
	}
	qsort(values, count, sizeof *values, compare_ints);
	int sorted = 1;
	for (size_t i = 1; i < count; i++) {
		if (values[i - 1] > values[i]) sorted = 0;
		sum += values[i];
	}
	printf("malloc: %zu ints, capacity %zu, sorted %d, sum %lu, min %d max %d\n",
		count, capacity, sorted, sum + values[0], values[0], values[count - 1]);
	free(values);
	char *words[] = { "pear", "apple", "fig", "banana", "cherry" };
	qsort(words, 5, sizeof *words, compare_strings);
	printf("qsort:");
	for (int i = 0; i < 5; i++) printf(" %s", words[i]);
	printf("\n");
	char *many[1000];
	for (int i = 0; i < 1000; i++) {
		many[i] = malloc(16 + i * 13);
		memset(many[i], i & 0xff, 16 + i * 13);
	}
	int intact = 1;
	for (int i = 0; i < 1000; i += 2) free(many[i]);
	for (int i = 1; i < 1000; i += 2) {
		if ((unsigned char)many[i][15 + i * 13] != (i & 0xff)) intact = 0;
		free(many[i]);
	}
	printf("malloc: 1000 blocks intact %d\n", intact);
}

static void environment(void)
{
	setenv("LIBC_TEST_VAR", "first", 1);
	setenv("LIBC_TEST_VAR", "second", 0);
	printf("env: %s\n", getenv("LIBC_TEST_VAR"));
	setenv("LIBC_TEST_VAR", "third", 1);
	int seen = 0;
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, "LIBC_TEST_VAR=", 14)) seen++;
	printf("env: %s seen %d\n", getenv("LIBC_TEST_VAR"), seen);
	unsetenv("LIBC_TEST_VAR");
	printf("env: unset %s\n", getenv("LIBC_TEST_VAR") ? "no" : "yes");
}

static void files(const char *base)
{
	char dir[256], path[300], other[300];
	snprintf(dir, sizeof dir, "%s/libc-test.dir", base);
	/* Leftovers of an earlier run. */
	const char *names[] = { "a.txt", "b.txt", "c.txt", "renamed.txt" };
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	printf("mkdir: %d\n", mkdir(dir, 0755));
	int result = mkdir(dir, 0755);
	printf("mkdir again: %d %s\n", result, errno == EEXIST ? "EEXIST" : "?");
	snprintf(path, sizeof path, "%s/a.txt", dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		printf("fopen failed\n");
		return;
	}
	for (int i = 1; i <= 100; i++) fprintf(f, "line %d: %.2f\n", i, i / 8.0);
	fclose(f);
	struct stat st;
	stat(path, &st);
	printf("stat: size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
	f = fopen(path, "r");
	char line[64];
	int lines = 0;
	while (fgets(line, sizeof line, f)) {
		lines++;
		if (lines == 42) printf("fgets: %s", line);
	}
	fseek(f, 7, SEEK_SET);
	long at = ftell(f);
	printf("fseek/ftell: %ld %c\n", at, fgetc(f));
	fseek(f, -8, SEEK_END);
	fgets(line, sizeof line, f);
	printf("tail: %s", line);
	fclose(f);
	printf("lines: %d\n", lines);
	f = fopen(path, "a");
	fputs("appended\n", f);
	fclose(f);
	int fd = open(path, O_RDONLY);
	off_t size = lseek(fd, 0, SEEK_END);
	lseek(fd, -9, SEEK_END);
	char tail[16] = { 0 };
	read(fd, tail, 9);
	close(fd);
	printf("append: size %lld tail %s", (long long)size, tail);
	snprintf(other, sizeof other, "%s/renamed.txt", dir);
	printf("rename: %d\n", rename(path, other));
	result = stat(path, &st);
	printf("stat old: %d %s\n", result, errno == ENOENT ? "ENOENT" : "?");
	snprintf(path, sizeof path, "%s/b.txt", dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof path, "%s/c.txt", dir);
	fclose(fopen(path, "w"));
	DIR *d = opendir(dir);
	char *entries[16];
	int n = 0;
	struct dirent *entry;
	while (d && (entry = readdir(d)) && n < 16) {
		if (entry->d_name[0] != '.') entries[n++] = strdup(entry->d_name);
	}
	if (d) closedir(d);
	qsort(entries, n, sizeof *entries, compare_strings);
	printf("readdir:");
	for (int i = 0; i < n; i++) {
		printf(" %s", entries[i]);
		free(entries[i]);
	}
	printf("\n");
	char cwd[256];
	chdir(dir);
	result = access("b.txt", F_OK);
	printf("chdir: %d cwd ends %s\n", result, strstr(getcwd(cwd, sizeof cwd), "/libc-test.dir") ? "right" : "wrong");
	chdir("/");
	result = rmdir(dir);
	printf("rmdir full: %d %s\n", result, errno == ENOTEMPTY ? "ENOTEMPTY" : "?");
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	printf("rmdir: %d\n", rmdir(dir));
}

static void processes(const char *self)
{
	int fds[2];
	if (pipe(fds)) {
		printf("pipe failed\n");
		return;
	}
	write(fds[1], "through a pipe", 14);
	char buffer[64] = { 0 };
	read(fds[0], buffer, sizeof buffer - 1);
	printf("pipe: %s\n", buffer);

	fflush(stdout);
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
	char *argv[] = { "sh", "-c", "echo child says hi; exit 7", 0 };
	pid_t pid;
	int error = posix_spawnp(&pid, "sh", &actions, 0, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	close(fds[1]);
	if (error) {
		printf("posix_spawnp: error %d\n", error);
		return;
	}
	memset(buffer, 0, sizeof buffer);
	size_t got = 0;
	ssize_t n;
	while (got < sizeof buffer - 1 && (n = read(fds[0], buffer + got, sizeof buffer - 1 - got)) > 0)
		got += n;
	close(fds[0]);
	int status;
	pid_t waited = waitpid(pid, &status, 0);
	printf("spawnp: read \"%.*s\" waited %s exit %d\n", (int)strcspn(buffer, "\n"), buffer,
		waited == pid ? "ok" : "wrong", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	fflush(stdout);
	char *child_argv[] = { (char *)self, "child", "5", 0 };
	error = posix_spawnp(&pid, self, 0, 0, child_argv, environ);
	if (error) {
		printf("posix_spawn self: error %d\n", error);
		return;
	}
	waitpid(pid, &status, 0);
	printf("spawn self: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	waited = waitpid(-1, &status, WNOHANG);
	printf("waitpid none: %d %s\n", waited, errno == ECHILD ? "ECHILD" : "-");
}

static volatile sig_atomic_t caught;

static void on_signal(int signal)
{
	caught = signal;
}

static jmp_buf jump;
/* Thread-local storage: musl's TLS from PT_TLS, through TPIDR_EL0. */
static __thread int tls_counter = 5;
static __thread char tls_name[16] = "tls";

static void deep(int level)
{
	if (level == 10) longjmp(jump, level);
	if (level > 10) return;
	deep(level + 1);
}

static void control(void)
{
	signal(SIGUSR1, on_signal);
	raise(SIGUSR1);
	printf("raise: caught %s\n", caught == SIGUSR1 ? "SIGUSR1" : "nothing");
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	caught = 0;
	sigprocmask(SIG_BLOCK, &block, &old);
	raise(SIGUSR1);
	int while_blocked = caught;
	sigprocmask(SIG_SETMASK, &old, 0);
	printf("blocked: %d then %s\n", while_blocked, caught == SIGUSR1 ? "SIGUSR1" : "nothing");
	signal(SIGUSR2, SIG_IGN);
	printf("ignored: %d\n", raise(SIGUSR2));
	int value = setjmp(jump);
	if (value == 0) deep(0);
	printf("longjmp: %d\n", value);
	tls_counter += 37;
	strcat(tls_name, "-ok");
	printf("tls: %d %s\n", tls_counter, tls_name);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	usleep(20000);
	clock_gettime(CLOCK_MONOTONIC, &now);
	long elapsed = (now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec);
	printf("usleep: at least 20 ms %s\n", elapsed >= 20000000L ? "yes" : "no");
	errno = 0;
	long r = syscall(999);
	printf("syscall 999: %ld %s\n", r, errno == ENOSYS ? "ENOSYS" : "?");
}

/* Keeps the compiler from leaving out the blocks of `fault heap' (malloc/free
 * pairs whose memory nobody looks at may be removed). */
char *volatile sink;

static int fault(const char *mode)
{
	if (!strcmp(mode, "jump")) {
		void (*nowhere)(void) = (void (*)(void))(unsigned long)strtoul("0x1234", 0, 16);
		nowhere();
	}
	if (!strcmp(mode, "heap")) {
		char *block = malloc(32);
		char *next = malloc(32);
		sink = block;
		sink = next;
		/* Volatile: stores into memory that is only freed are dead to the
		 * compiler otherwise. */
		volatile char *bytes = block - 16;
		for (size_t i = 0; i < strlen(mode) * 64; i++) bytes[i] = 0x5a;
		free(next);
		free(block);
	}
	if (!strcmp(mode, "trap")) __builtin_trap();
	printf("libc-test: nothing bad happened\n");
	return 0;
}

static void on_usr1(int signal)
{
	caught = signal;
}

static int wait_for_signal(void)
{
	struct sigaction action = { 0 };
	action.sa_handler = on_usr1;
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGUSR1, &action, 0)) {
		printf("libc-test: sigaction failed\n");
		return 2;
	}
	printf("libc-test: waiting\n");
	fflush(stdout);
	for (int i = 0; i < 1000 && !caught; i++) usleep(10000);
	printf("libc-test: %s\n", caught == SIGUSR1 ? "caught SIGUSR1" : "timed out");
	return caught == SIGUSR1 ? 0 : 1;
}

/* The three real-time clocks in whole seconds since the epoch (compared with
 * `date +%s` and the host's clock by libc.exp). */
static int print_time(void)
{
	struct timeval tv;
	struct timespec ts;
	time_t now = time(0);
	if (gettimeofday(&tv, 0) || clock_gettime(CLOCK_REALTIME, &ts)) {
		printf("libc-test: no clock\n");
		return 1;
	}
	printf("libc-test: time %lld %lld %lld\n", (long long)now,
	       (long long)tv.tv_sec, (long long)ts.tv_sec);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "time")) return print_time();
	if (argc == 3 && !strcmp(argv[1], "fault")) return fault(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "signal")) return wait_for_signal();
	if (argc == 3 && !strcmp(argv[1], "child")) {
		printf("child %s\n", argv[2]);
		return atoi(argv[2]);
	}
	printf("libc-test: begin\n");
	numbers();
	memory();
	environment();
	files(argc > 1 ? argv[1] : "/tmp");
	processes(argv[0]);
	control();
	printf("libc-test: end\n");
	return 0;
}
