/*
 * Memory mappings (tests/acceptance/mmap.exp, docs/posix.md "Memory
 * mappings"). `mmap-test` prints one line per check, the same on Linux
 * (the acceptance script builds this file for the host too and compares
 * the lines): file mappings (MAP_PRIVATE, MAP_SHARED with msync and
 * munmap, an offset), mprotect of part of a mapping (PROT_NONE, read-only),
 * munmap of part of one, MAP_SHARED and MAP_PRIVATE memory across fork,
 * two unrelated processes mapping one file shared (coherent, no msync),
 * MAP_FIXED and MAP_FIXED_NOREPLACE inside a PROT_NONE reservation, and
 * the errors of bad arguments.
 * `mmap-test FILE` uses FILE for its file (default /tmp/mmap-test.dat).
 * `mmap-test exit FILE` writes "written at exit" into a MAP_SHARED map of
 * FILE (made 15 bytes long) and exits without msync or munmap.
 * `mmap-test wx` asks for writable and executable memory (W^X: Zero OS
 * refuses it, Linux does not, so it is not among the compared lines).
 * `mmap-test peer FILE RFD WFD` is the other process of the coherence
 * check: it maps FILE shared, writes "from-peer", says so on WFD, waits
 * for a byte on RFD and then looks for the first process's writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096
#define FILE_SIZE (3 * PAGE + 100)

static const char *path = "/tmp/mmap-test.dat";
static const char *self_name = "mmap-test";
static int failed;

static const char *errno_name(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case ENODEV: return "ENODEV";
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case EEXIST: return "EEXIST";
	default: return "other";
	}
}

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAILED");
	failed += !ok;
}

static unsigned char pattern(long i)
{
	return (unsigned char)(i * 7 % 251);
}

/* Runs `touch` in a child; how it ended: "exit N" or "signal N". */
static void in_child(const char *what, void (*touch)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		touch(arg);
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status))
		printf("%s: signal %d\n", what, WTERMSIG(status));
	else
		printf("%s: exit %d\n", what, WEXITSTATUS(status));
}

static void read_byte(void *p)
{
	volatile unsigned char *byte = p;
	(void)*byte;
}

static void write_byte(void *p)
{
	*(volatile unsigned char *)p = 1;
}

static void write_42(void *p)
{
	*(volatile int *)p = 42;
}

static int make_file(void)
{
	unsigned char buffer[FILE_SIZE];
	for (long i = 0; i < FILE_SIZE; i++)
		buffer[i] = pattern(i);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buffer, FILE_SIZE) != FILE_SIZE) {
		printf("mmap-test: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

static void files(int fd)
{
	/* MAP_PRIVATE read-only: the file's bytes, zeros past its end. */
	unsigned char *p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	check("private map of the file", p != MAP_FAILED);
	if (p == MAP_FAILED)
		return;
	int same = 1;
	for (long i = 0; i < FILE_SIZE; i++)
		same &= p[i] == pattern(i);
	check("private map holds the file's bytes", same);
	check("past the end of the file: zeros", p[FILE_SIZE] == 0 && p[4 * PAGE - 1] == 0);
	in_child("writing a PROT_READ file map", write_byte, p);
	munmap(p, 4 * PAGE);

	/* MAP_PRIVATE writable: the file stays as it was. */
	p = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	memcpy(p + 10, "private", 7);
	unsigned char back[8] = {0};
	pread(fd, back, 7, 10);
	check("a private map's writes stay out of the file", back[0] == pattern(10));
	munmap(p, FILE_SIZE);

	/* MAP_SHARED: written back at msync, and at munmap. */
	p = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(p + 5000, "SHARED!", 7);
	check("msync(MS_SYNC)", msync(p, FILE_SIZE, MS_SYNC) == 0);
	memset(back, 0, sizeof back);
	pread(fd, back, 7, 5000);
	printf("file after msync: %s\n", back);
	memcpy(p + 100, "unmapped", 8);
	munmap(p, FILE_SIZE);
	memset(back, 0, sizeof back);
	pread(fd, back, 8, 100);
	printf("file after munmap: %.8s\n", back);
	off_t size = lseek(fd, 0, SEEK_END);
	printf("file size unchanged: %ld\n", (long)size);

	/* An offset: the map starts at the file's second page. */
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE);
	check("a map at offset 4096 starts there", p != MAP_FAILED && p[1] == pattern(PAGE + 1));
	if (p != MAP_FAILED)
		munmap(p, PAGE);

	/* MAP_SHARED of a file across fork: the child's write reaches the parent. */
	int *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	in_child("child writing a shared file map", write_42, shared);
	printf("parent sees the child's write to the shared file map: %d\n", *shared);
	munmap(shared, PAGE);
}

static void protections(void)
{
	unsigned char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 0x5a, 3 * PAGE);
	check("mprotect of the middle page to PROT_NONE",
	      mprotect(p + PAGE, PAGE, PROT_NONE) == 0);
	in_child("reading a PROT_NONE page", read_byte, p + PAGE);
	in_child("reading the page before it", read_byte, p);
	in_child("writing the page after it", write_byte, p + 2 * PAGE);
	check("mprotect back to read-write", mprotect(p + PAGE, PAGE, PROT_READ | PROT_WRITE) == 0);
	check("the page kept its bytes", p[PAGE] == 0x5a && p[2 * PAGE - 1] == 0x5a);
	check("mprotect of all to PROT_READ", mprotect(p, 3 * PAGE, PROT_READ) == 0);
	in_child("writing a read-only page", write_byte, p + PAGE);
	check("reading a read-only page", p[2 * PAGE] == 0x5a);

	/* munmap of the first page only. */
	check("munmap of one page of three", munmap(p, PAGE) == 0);
	in_child("reading the unmapped page", read_byte, p);
	check("the rest stays mapped", p[PAGE] == 0x5a && p[2 * PAGE] == 0x5a);
	check("munmap of the rest", munmap(p + PAGE, 2 * PAGE) == 0);
	in_child("reading after the whole munmap", read_byte, p + PAGE);
}

static void across_fork(void)
{
	int *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *private = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*shared = 7;
	*private = 7;
	in_child("child writing shared anonymous memory", write_42, shared);
	in_child("child writing private anonymous memory", write_42, private);
	printf("shared anonymous after the child: %d\n", *shared);
	printf("private anonymous after the child: %d\n", *private);
	munmap(shared, PAGE);
	munmap(private, PAGE);
}

/* Two unrelated mappings of one file (the second made by a program exec'd
 * in a child, so nothing is inherited): each sees the other's writes at
 * once, with no msync, and so do read() and write() on the file. */
static void coherent(void)
{
	char shared_path[256];
	snprintf(shared_path, sizeof shared_path, "%s.shared", path);
	int fd = open(shared_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char *map = MAP_FAILED;
	if (fd >= 0 && ftruncate(fd, PAGE) == 0)
		map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int to_peer[2], from_peer[2];
	if (map == MAP_FAILED || pipe(to_peer) != 0 || pipe(from_peer) != 0) {
		check("coherent: set-up", 0);
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char rfd[16], wfd[16];
		snprintf(rfd, sizeof rfd, "%d", to_peer[0]);
		snprintf(wfd, sizeof wfd, "%d", from_peer[1]);
		close(to_peer[1]);
		close(from_peer[0]);
		execlp(self_name, self_name, "peer", shared_path, rfd, wfd, (char *)0);
		_exit(127);
	}
	close(to_peer[0]);
	close(from_peer[1]);
	char byte = 0;
	int told = read(from_peer[0], &byte, 1) == 1;
	check("coherent: another process's write shows in this mapping",
	      told && memcmp(map, "from-peer", 9) == 0);
	if (!told) {
		int status = 0;
		waitpid(pid, &status, 0);
		printf("coherent: the other process ended first (status %#x)\n", status);
		return;
	}
	char buf[9] = { 0 };
	check("coherent: read() finds it with no msync",
	      pread(fd, buf, 9, 0) == 9 && memcmp(buf, "from-peer", 9) == 0);
	memcpy(map + 100, "from-parent", 11);
	check("coherent: write() to the file", pwrite(fd, "by-write", 8, 200) == 8);
	check("coherent: the write shows in this mapping", memcmp(map + 200, "by-write", 8) == 0);
	told = write(to_peer[1], "x", 1) == 1;
	int status = 0;
	waitpid(pid, &status, 0);
	check("coherent: the other process saw both",
	      told && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	munmap(map, PAGE);
	close(to_peer[1]);
	close(from_peer[0]);
	close(fd);
	unlink(shared_path);
}

/* The other process of `coherent` (exit 0 when it saw both writes). */
static int peer(const char *file, int rfd, int wfd)
{
	int fd = open(file, O_RDWR);
	if (fd < 0)
		return 2;
	char *map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 3;
	memcpy(map, "from-peer", 9);
	char byte = 'x';
	if (write(wfd, &byte, 1) != 1 || read(rfd, &byte, 1) != 1)
		return 4;
	return memcmp(map + 100, "from-parent", 11) == 0 && memcmp(map + 200, "by-write", 8) == 0
		       ? 0
		       : 1;
}

/* Mappings placed inside a reservation, as allocators and loaders do. */
static void fixed(int fd)
{
	int anonymous = MAP_PRIVATE | MAP_ANONYMOUS;
	unsigned char *r = mmap(NULL, 4 * PAGE, PROT_NONE, anonymous, -1, 0);
	unsigned char *p = mmap(r, PAGE, PROT_READ | PROT_WRITE, anonymous | MAP_FIXED, -1, 0);
	check("MAP_FIXED at the start of a reservation", p == r);
	p[0] = 1;
	p[PAGE - 1] = 2;
	in_child("reading the reserved page after it", read_byte, r + PAGE);
	unsigned char *f = mmap(r + 2 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, PAGE);
	check("MAP_FIXED of a file page inside it",
	      f == r + 2 * PAGE && f[0] == pattern(PAGE) && f[PAGE - 1] == pattern(2 * PAGE - 1));
	check("the first page kept its bytes", r[0] == 1 && r[PAGE - 1] == 2);
	p = mmap(r, PAGE, PROT_READ | PROT_WRITE, anonymous | MAP_FIXED, -1, 0);
	check("MAP_FIXED over a mapped page replaces it", p == r && r[0] == 0 && r[PAGE - 1] == 0);
	void *q = mmap(r, PAGE, PROT_READ, anonymous | MAP_FIXED_NOREPLACE, -1, 0);
	printf("MAP_FIXED_NOREPLACE over a mapping: %s\n",
	       q == MAP_FAILED ? errno_name(errno) : "mapped");
	q = mmap(r + 1, PAGE, PROT_READ, anonymous | MAP_FIXED, -1, 0);
	printf("MAP_FIXED at an unaligned address: %s\n",
	       q == MAP_FAILED ? errno_name(errno) : "mapped");
	check("mprotect across the fixed mappings", mprotect(r, 3 * PAGE, PROT_READ) == 0);
	in_child("writing after that mprotect", write_byte, r);
	check("munmap of the last reserved page", munmap(r + 3 * PAGE, PAGE) == 0);
	q = mmap(r + 3 * PAGE, PAGE, PROT_READ | PROT_WRITE, anonymous | MAP_FIXED_NOREPLACE, -1, 0);
	check("MAP_FIXED_NOREPLACE into the hole", q == r + 3 * PAGE);
	in_child("writing the page placed there", write_42, q);
	check("munmap of the whole reservation", munmap(r, 4 * PAGE) == 0);
	in_child("reading it afterwards", read_byte, r + 2 * PAGE);
}

static void errors(int fd)
{
	int pipes[2];
	pipe(pipes);
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 100);
	printf("unaligned offset: %s\n", p == MAP_FAILED ? errno_name(errno) : "mapped");
	p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("zero length: %s\n", p == MAP_FAILED ? errno_name(errno) : "mapped");
	p = mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0);
	printf("neither shared nor private: %s\n", p == MAP_FAILED ? errno_name(errno) : "mapped");
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pipes[0], 0);
	printf("a pipe: %s\n", p == MAP_FAILED ? errno_name(errno) : "mapped");
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 99, 0);
	printf("a closed descriptor: %s\n", p == MAP_FAILED ? errno_name(errno) : "mapped");
	unsigned char *q = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("munmap unaligned: %s\n", munmap(q + 1, PAGE) ? errno_name(errno) : "done");
	munmap(q, PAGE);
	printf("mprotect of unmapped memory: %s\n",
	       mprotect(q, PAGE, PROT_READ) ? errno_name(errno) : "done");
	printf("msync of unmapped memory: %s\n", msync(q, PAGE, MS_SYNC) ? errno_name(errno) : "done");
	close(pipes[0]);
	close(pipes[1]);
}

int main(int argc, char **argv)
{
	if (argc > 0)
		self_name = argv[0];
	if (argc > 4 && strcmp(argv[1], "peer") == 0)
		return peer(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc > 1 && strcmp(argv[1], "wx") == 0) {
		void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("mmap-test: writable and executable: %s\n",
		       p == MAP_FAILED ? errno_name(errno) : "mapped");
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "exit") == 0) {
		int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || ftruncate(fd, 15) != 0)
			return 1;
		char *p = mmap(NULL, 15, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return 1;
		memcpy(p, "written at exit", 15);
		return 0;
	}
	if (argc > 1)
		path = argv[1];
	printf("mmap-test: begin\n");
	int fd = make_file();
	if (fd < 0)
		return 1;
	files(fd);
	protections();
	across_fork();
	coherent();
	fixed(fd);
	errors(fd);
	close(fd);
	unlink(path);
	printf("mmap-test: end, %d failed\n", failed);
	return failed != 0;
}
