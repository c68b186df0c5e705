/* The smallest C program: `cargo xtask bench` times its start and exit. */
int main(void)
{
	return 0;
}
