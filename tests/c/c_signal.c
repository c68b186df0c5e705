/* A signal from another process reaches a C handler (tests/acceptance/libc.exp):
 * `c-signal` waits up to 10 s for SIGUSR1, prints what it got, and exits 0
 * when the handler ran (1 when it timed out). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_usr1(int signal)
{
	caught = signal;
}

int main(void)
{
	struct sigaction action = { 0 };
	action.sa_handler = on_usr1;
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGUSR1, &action, 0)) {
		printf("c-signal: sigaction failed\n");
		return 2;
	}
	printf("c-signal: waiting\n");
	fflush(stdout);
	for (int i = 0; i < 1000 && !caught; i++) usleep(10000);
	printf("c-signal: %s\n", caught == SIGUSR1 ? "caught SIGUSR1" : "timed out");
	return caught == SIGUSR1 ? 0 : 1;
}
