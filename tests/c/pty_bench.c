/* The pty round trip for `cargo xtask bench`: a byte written to a pty
 * master, read from the slave (raw mode), written back by the slave and
 * read from the master — four calls through the pty service. Prints
 * `bench: pty_round_trip NS` (guest nanoseconds per round trip; guest
 * instructions under -icount shift=0). Then closes the master and checks
 * that the slave reads end of file (exit 1 if not). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 1000

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master)) {
		perror("pty-bench: /dev/ptmx");
		return 1;
	}
	char *name = ptsname(master);
	int slave = name ? open(name, O_RDWR | O_NOCTTY) : -1;
	if (slave < 0) {
		perror("pty-bench: slave");
		return 1;
	}
	struct termios raw;
	if (tcgetattr(slave, &raw) == 0) {
		cfmakeraw(&raw);
		tcsetattr(slave, TCSANOW, &raw);
	}
	char byte = 'x';
	long long start = now_ns();
	for (int i = 0; i < ROUNDS; i++) {
		if (write(master, &byte, 1) != 1 || read(slave, &byte, 1) != 1 ||
		    write(slave, &byte, 1) != 1 || read(master, &byte, 1) != 1) {
			perror("pty-bench: round trip");
			return 1;
		}
	}
	long long elapsed = now_ns() - start;
	printf("bench: pty_round_trip %lld\n", elapsed / ROUNDS);
	close(master);
	ssize_t n = read(slave, &byte, 1);
	if (n != 0) {
		fprintf(stderr, "pty-bench: the slave read %zd after the hang-up\n", n);
		return 1;
	}
	return 0;
}
