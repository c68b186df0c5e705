#include <stdio.h>
int main(int argc, char **argv) { printf("hello from C, argc=%d argv0=%s pi=%.3f\n", argc, argv[0], 3.14159); return 0; }
