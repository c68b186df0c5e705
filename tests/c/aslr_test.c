/*
 * Address-space layout (tests/acceptance/aslr.exp):
 *   aslr-test        prints the address of a stack variable, a malloc'd
 *                    block and an anonymous mmap; two runs must differ in
 *                    each (ASLR).
 *   aslr-test nx     writes a `ret` instruction into a writable page and
 *                    calls it: W^X must kill the program (SIGSEGV).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "nx") == 0) {
		uint32_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED) {
			printf("aslr-test: mmap failed\n");
			return 1;
		}
#if defined(__aarch64__)
		page[0] = 0xd65f03c0; /* ret */
#else
		page[0] = 0xc3; /* ret */
#endif
		printf("aslr-test: calling a writable page at %p\n", (void *)page);
		fflush(stdout);
		((void (*)(void))page)();
		printf("aslr-test: executed a writable page\n");
		return 1;
	}
	int on_stack = 0;
	void *heap = malloc(64);
	void *mapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("aslr-test: stack=%p heap=%p mmap=%p\n", (void *)&on_stack, heap, mapped);
	return 0;
}
