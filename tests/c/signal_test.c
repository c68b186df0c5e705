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
 *   signal-test spin     SIGALRM reaches a main thread that computes without
 *                        system calls: its handler runs after ~1 s (the
 *                        kernel stops the thread and libzos redirects it),
 *                        and the loop's integer and FP/SIMD state is intact
 *                        afterwards (checked against a recomputation).
 *   signal-test altstack the same with the handler on an alternate stack
 *                        (sigaltstack, SA_ONSTACK): it runs there, sees
 *                        SS_ONSTACK, and may not change the stack (EPERM).
 *   signal-test altraise a handler with SA_ONSTACK for a signal the program
 *                        raises itself (delivered as raise returns) runs on
 *                        the alternate stack too.
 *   signal-test bench N  signal delivery to a blocked thread, N rounds: the
 *                        main thread blocks in a pipe read, a forked child
 *                        sends SIGUSR1 (asked for by a byte through another
 *                        pipe), the read returns EINTR after the handler ran.
 *                        Prints `bench: signal_to_blocked_read NS` (a round:
 *                        the request byte, the kill, the interruption).
 *   signal-test busybench N  the same to a main thread that computes: it
 *                        spins without system calls until the handler ran.
 *                        Prints `bench: signal_to_running_thread NS`.
 *   signal-test faults   the program's own handlers get its faults: a write
 *                        to an unmapped address (SIGSEGV, SEGV_MAPERR, the
 *                        address in si_addr; left by siglongjmp), a write to
 *                        a read-only page whose handler makes it writable
 *                        and returns (SEGV_ACCERR; the write is retried and
 *                        lands), an undefined instruction (SIGILL) that the
 *                        handler skips by moving the program counter in its
 *                        ucontext_t; the context's fault address and
 *                        program counter are checked too.
 *   signal-test nested   a SIGSEGV handler that faults itself: the program
 *                        is killed by SIGSEGV (status 139), nothing hangs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
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

/* Installs a handler for `sig` with `flags` and an empty mask: `with_info`
 * (SA_SIGINFO) when given, else `plain`. */
static void install(int sig, void (*plain)(int), void (*with_info)(int, siginfo_t *, void *),
		    int flags)
{
	struct sigaction action;
	memset(&action, 0, sizeof action);
	if (with_info) {
		action.sa_sigaction = with_info;
		flags |= SA_SIGINFO;
	} else {
		action.sa_handler = plain;
	}
	action.sa_flags = flags;
	sigemptyset(&action.sa_mask);
	sigaction(sig, &action, NULL);
}

static void catch_alarm(int flags)
{
	install(SIGALRM, on_alarm, NULL, flags);
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

/* Catches SIGUSR1 (counting it), makes the request pipe and forks a child
 * running `sender(parent, read end)`; the child's pid, or -1. */
static pid_t start_sender(int request[2], void (*sender)(pid_t, int))
{
	if (pipe(request)) {
		printf("signal-test: pipe: %s\n", strerror(errno));
		return -1;
	}
	install(SIGUSR1, on_usr1, NULL, 0);
	pid_t parent = getpid(), child = fork();
	if (child < 0)
		printf("signal-test: fork: %s\n", strerror(errno));
	if (child == 0)
		sender(parent, request[0]);
	return child;
}

static int bench(int rounds)
{
	int request[2], never[2];
	if (pipe(never)) {
		printf("signal-test: pipe: %s\n", strerror(errno));
		return 1;
	}
	pid_t child = start_sender(request, signal_sender);
	if (child < 0)
		return 1;
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

static char alt_stack[16384];
static volatile long handler_local_at;
static volatile int handler_flags, handler_change_errno;

static void on_raised(int sig)
{
	char local;
	stack_t now;
	(void)sig;
	handler_local_at = (long)&local;
	if (sigaltstack(NULL, &now) == 0)
		handler_flags = now.ss_flags;
}

static int alt_raise(void)
{
	struct sigaction action;
	stack_t stack = {alt_stack, 0, sizeof alt_stack};
	memset(&action, 0, sizeof action);
	action.sa_handler = on_raised;
	action.sa_flags = SA_ONSTACK;
	sigemptyset(&action.sa_mask);
	if (sigaltstack(&stack, NULL) < 0 || sigaction(SIGUSR2, &action, NULL) < 0) {
		printf("signal-test: set-up: %s\n", strerror(errno));
		return 1;
	}
	raise(SIGUSR2);
	long at = handler_local_at;
	int on_alt = at >= (long)alt_stack && at < (long)alt_stack + (long)sizeof alt_stack;
	printf("signal-test: altraise stack=%s flags=%s\n", on_alt ? "alternate" : "main",
	       handler_flags == SS_ONSTACK ? "SS_ONSTACK" : "other");
	return 0;
}

/* One SIGUSR1 to the parent per request byte; 'q' ends it. */
static void one_signal_per_request(pid_t parent, int requests)
{
	char byte;
	while (read(requests, &byte, 1) == 1 && byte != 'q')
		kill(parent, SIGUSR1);
	_exit(0);
}

static int busy_bench(int rounds)
{
	int request[2];
	pid_t child = start_sender(request, one_signal_per_request);
	if (child < 0)
		return 1;
	long long start = now_ns();
	for (int i = 0; i < rounds; i++) {
		sig_atomic_t before = usr1_count;
		write(request[1], "r", 1);
		/* No system call until the handler ran: only a redirection ends it. */
		while (usr1_count == before)
			;
	}
	long long per_round = (now_ns() - start) / rounds;
	write(request[1], "q", 1);
	waitpid(child, NULL, 0);
	printf("signal-test: busybench handled=%d of %d\n", (int)usr1_count, rounds);
	printf("bench: signal_to_running_thread %lld\n", per_round);
	return 0;
}

static volatile sig_atomic_t spin_done;

static void on_spin_alarm(int sig)
{
	char local;
	stack_t now, other;
	(void)sig;
	/* Floating-point work of its own: the interrupted loop's FP/SIMD
	 * registers must come back whatever a handler does with them. */
	volatile double x = 1.5, y = 0.25;
	for (int k = 0; k < 64; k++) {
		x = x * 1.0001 + y;
		y = y * 0.5 + x;
	}
	handler_local_at = (long)&local;
	if (sigaltstack(NULL, &now) == 0)
		handler_flags = now.ss_flags;
	other.ss_sp = alt_stack;
	other.ss_size = sizeof alt_stack;
	other.ss_flags = 0;
	handler_change_errno = sigaltstack(&other, NULL) < 0 ? errno : 0;
	spin_done = 1;
}

/* One step of the loop: integer and floating-point state that a lost or
 * mixed-up register would change. */
#define SPIN_STEP(i, a, b, f, g)                                                       \
	do {                                                                               \
		a = a * 6364136223846793005ULL + (i);                                      \
		b ^= a >> 17;                                                              \
		f = f * 0.999 + (double)((i) & 1023);                                      \
		g += f * 0.5;                                                              \
	} while (0)

static int spin(int on_alt_stack)
{
	unsigned long long a = 1, b = 2, i = 0;
	double f = 1.0, g = 0.0;
	long t0;
	if (on_alt_stack) {
		stack_t stack = {alt_stack, 0, sizeof alt_stack};
		if (sigaltstack(&stack, NULL) < 0) {
			printf("signal-test: sigaltstack: %s\n", strerror(errno));
			return 1;
		}
	}
	install(SIGALRM, on_spin_alarm, NULL, on_alt_stack ? SA_ONSTACK : 0);
	alarm(1);
	t0 = now_ms();
	/* No system call inside: only a redirection ends this loop. */
	while (!spin_done) {
		SPIN_STEP(i, a, b, f, g);
		i++;
	}
	long ms = now_ms() - t0;
	unsigned long long a2 = 1, b2 = 2;
	double f2 = 1.0, g2 = 0.0;
	for (unsigned long long k = 0; k < i; k++)
		SPIN_STEP(k, a2, b2, f2, g2);
	int intact = a == a2 && b == b2 && f == f2 && g == g2;
	long at = handler_local_at;
	int on_alt = at >= (long)alt_stack && at < (long)alt_stack + (long)sizeof alt_stack;
	printf("signal-test: spin steps=%s ms=%ld state=%s stack=%s\n", i > 1000 ? "many" : "few", ms,
	       intact ? "intact" : "CORRUPT", on_alt ? "alternate" : "main");
	if (on_alt_stack)
		printf("signal-test: altstack flags=%s change=%s\n",
		       handler_flags == SS_ONSTACK ? "SS_ONSTACK" : "other",
		       handler_change_errno == EPERM ? "EPERM" : "allowed");
	return 0;
}

/* An address nothing maps: below every program's lowest segment. */
#define NOWHERE ((volatile int *)0x5008)

static sigjmp_buf fault_jump;
static volatile void *fault_address;
static volatile int fault_code, fault_signal;
static char *read_only_page;

static volatile unsigned long context_address, context_pc;

static void on_fault_jump(int sig, siginfo_t *info, void *context)
{
	ucontext_t *uc = context;
	fault_signal = sig;
	fault_address = info->si_addr;
	fault_code = info->si_code;
#if defined(__aarch64__)
	context_address = uc->uc_mcontext.fault_address;
#else
	context_address = uc->uc_mcontext.gregs[REG_CR2];
#endif
	siglongjmp(fault_jump, 1);
}

/* Steps over the undefined instruction: the thread goes on after it. */
static void on_ill_skip(int sig, siginfo_t *info, void *context)
{
	ucontext_t *uc = context;
	(void)info;
	fault_signal = sig;
#if defined(__aarch64__)
	context_pc = uc->uc_mcontext.pc;
	uc->uc_mcontext.pc += 4;
#else
	context_pc = uc->uc_mcontext.gregs[REG_RIP];
	uc->uc_mcontext.gregs[REG_RIP] += 2;
#endif
}

/* Makes the page writable and returns: the faulting write runs again. */
static void on_fault_fix(int sig, siginfo_t *info, void *context)
{
	(void)context;
	fault_signal = sig;
	fault_address = info->si_addr;
	fault_code = info->si_code;
	mprotect(read_only_page, 4096, PROT_READ | PROT_WRITE);
}

static void on_fault_again(int sig)
{
	(void)sig;
	*NOWHERE = 2;
}

static void catch_fault(int sig, void (*handler)(int, siginfo_t *, void *))
{
	install(sig, NULL, handler, 0);
}

static int faults(void)
{
	catch_fault(SIGSEGV, on_fault_jump);
	if (!sigsetjmp(fault_jump, 1)) {
		*NOWHERE = 1;
		printf("signal-test: the write to %p did not fault\n", (void *)NOWHERE);
		return 1;
	}
	printf("signal-test: SIGSEGV handled: signal %d at %p code %d\n", fault_signal,
	       (void *)fault_address, fault_code);
	printf("signal-test: context fault address %s\n",
	       context_address == (unsigned long)fault_address ? "right" : "wrong");
	read_only_page = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (read_only_page == MAP_FAILED) {
		printf("signal-test: mmap: %s\n", strerror(errno));
		return 1;
	}
	catch_fault(SIGSEGV, on_fault_fix);
	read_only_page[100] = 42;
	printf("signal-test: fixed by the handler: value %d, code %d, at page offset %ld\n",
	       read_only_page[100], fault_code, (long)((char *)fault_address - read_only_page));
	/* Written just now (a writable translation may be cached): read-only
	 * again, the next write must fault. */
	mprotect(read_only_page, 4096, PROT_READ);
	catch_fault(SIGSEGV, on_fault_jump);
	if (!sigsetjmp(fault_jump, 1)) {
		read_only_page[200] = 7;
		printf("signal-test: a write after mprotect(PROT_READ) did not fault\n");
		return 1;
	}
	printf("signal-test: a write after mprotect(PROT_READ) faulted, value %d\n",
	       read_only_page[100]);
	catch_fault(SIGILL, on_ill_skip);
	unsigned long at;
#if defined(__aarch64__)
	__asm__ volatile("adr %0, 1f\n1: .inst 0x00000000" : "=r"(at));
#else
	__asm__ volatile("lea 1f(%%rip), %0\n1: ud2" : "=r"(at));
#endif
	printf("signal-test: SIGILL handled: signal %d, skipped at pc %s\n", fault_signal,
	       context_pc == at ? "right" : "wrong");
	return 0;
}

static int nested(void)
{
	signal(SIGSEGV, on_fault_again);
	*NOWHERE = 1;
	printf("signal-test: still running after a fault in the handler\n");
	return 0;
}

/* A handler that asks, through its context's uc_sigmask, for SIGUSR2 to
 * stay blocked after it returns (as sigreturn restores that mask). */
static void on_usr1_block_usr2(int sig, siginfo_t *info, void *context)
{
	(void)sig;
	(void)info;
	sigaddset(&((ucontext_t *)context)->uc_sigmask, SIGUSR2);
	spin_done = 1;
}

/* Whether the mask a handler left in uc_sigmask holds after it: for a
 * signal the program raised, then for one that interrupted a busy loop. */
static int mask_after_handler(void)
{
	sigset_t now;
	install(SIGUSR1, NULL, on_usr1_block_usr2, 0);
	raise(SIGUSR1);
	sigprocmask(SIG_BLOCK, NULL, &now);
	int raised = sigismember(&now, SIGUSR2);
	sigemptyset(&now);
	sigprocmask(SIG_SETMASK, &now, NULL);
	spin_done = 0;
	pid_t child = fork();
	if (child == 0) {
		usleep(200000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	while (!spin_done)
		;
	waitpid(child, NULL, 0);
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("signal-test: mask raised=%d interrupted=%d\n", raised, sigismember(&now, SIGUSR2));
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
	if (strcmp(mode, "spin") == 0)
		return spin(0);
	if (strcmp(mode, "altstack") == 0)
		return spin(1);
	if (strcmp(mode, "altraise") == 0)
		return alt_raise();
	if (strcmp(mode, "busybench") == 0)
		return busy_bench(argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	if (strcmp(mode, "bench") == 0)
		return bench(argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	if (strcmp(mode, "faults") == 0)
		return faults();
	if (strcmp(mode, "nested") == 0)
		return nested();
	if (strcmp(mode, "mask") == 0)
		return mask_after_handler();
	fprintf(stderr, "usage: signal-test eintr|restart|sleep|default|timer|spin|altstack|altraise|bench|busybench|faults|nested|mask [N]\n");
	return 2;
}
