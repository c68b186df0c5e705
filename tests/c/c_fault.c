/* Bad programs for tests/acceptance/libc.exp: `c-fault jump` jumps to an
 * address where nothing is mapped, `c-fault heap` overwrites a block's header
 * and frees it (musl's malloc notices and traps), `c-fault trap` traps. Each must be killed with a
 * report while the shell goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the compiler from leaving out the blocks (malloc/free pairs whose
 * memory nobody looks at may be removed). */
char *volatile sink;

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "jump")) {
		void (*nowhere)(void) = (void (*)(void))(unsigned long)strtoul("0x1234", 0, 16);
		nowhere();
	}
	if (argc > 1 && !strcmp(argv[1], "heap")) {
		char *block = malloc(32);
		char *next = malloc(32);
		sink = block;
		sink = next;
		size_t length = strlen(argv[1]) * 64;
		/* Volatile: stores into memory that is only freed are dead to the
		 * compiler otherwise. */
		volatile char *bytes = block - 16;
		for (size_t i = 0; i < length; i++) bytes[i] = 0x5a;
		free(next);
		free(block);
	}
	if (argc > 1 && !strcmp(argv[1], "trap")) __builtin_trap();
	printf("c-fault: nothing bad happened\n");
	return 0;
}
