/* Zero OS: no clone() yet (threads of C programs are a later step), so
 * pthread_create fails with EAGAIN and fork-like uses of clone with ENOSYS. */
#include <errno.h>

__attribute__((__visibility__("hidden")))
int __clone(int (*func)(void *), void *stack, int flags, void *arg, ...)
{
	(void)func; (void)stack; (void)flags; (void)arg;
	return -ENOSYS;
}
