/* Zero OS: system calls of the aarch64_zos arch.
 *
 * There is no Linux kernel underneath: every `__syscallN` calls one function,
 * libzos's `zos_linux_syscall(nr, a, b, c, d, e, f)`, which implements Linux
 * semantics over Zero OS's capability IPC. Its address reaches musl the way
 * seL4's musllibc did it: the program's start-up code puts it in the auxiliary
 * vector as AT_SYSINFO, and `__init_libc` stores that in `__sysinfo`. */

#define __SYSCALL_LL_E(x) (x)
#define __SYSCALL_LL_O(x) (x)

extern __attribute__((__visibility__("hidden"))) unsigned long __sysinfo;

typedef long (*__zos_dispatcher)(long, long, long, long, long, long, long);

#define __zos_syscall(n, a, b, c, d, e, f) \
	(((__zos_dispatcher)__sysinfo)((n), (a), (b), (c), (d), (e), (f)))

static inline long __syscall0(long n)
{
	return __zos_syscall(n, 0, 0, 0, 0, 0, 0);
}

static inline long __syscall1(long n, long a)
{
	return __zos_syscall(n, a, 0, 0, 0, 0, 0);
}

static inline long __syscall2(long n, long a, long b)
{
	return __zos_syscall(n, a, b, 0, 0, 0, 0);
}

static inline long __syscall3(long n, long a, long b, long c)
{
	return __zos_syscall(n, a, b, c, 0, 0, 0);
}

static inline long __syscall4(long n, long a, long b, long c, long d)
{
	return __zos_syscall(n, a, b, c, d, 0, 0);
}

static inline long __syscall5(long n, long a, long b, long c, long d, long e)
{
	return __zos_syscall(n, a, b, c, d, e, 0);
}

static inline long __syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	return __zos_syscall(n, a, b, c, d, e, f);
}

/* No vDSO: clock_gettime goes through the dispatcher like everything else. */

#define IPC_64 0
