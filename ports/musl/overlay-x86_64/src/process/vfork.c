/* Zero OS: vfork on x86_64 is a clone like any other fork, which the
 * dispatcher serves as fork (an eager copy, docs/posix.md; aarch64's
 * "record until exec" vfork, overlay-aarch64, is not ported yet); this
 * replaces musl's x86_64 assembly, which enters the kernel directly. */
#define _GNU_SOURCE
#include <unistd.h>
#include <signal.h>
#include "syscall.h"

pid_t vfork(void)
{
	return syscall(SYS_clone, SIGCHLD, 0);
}
