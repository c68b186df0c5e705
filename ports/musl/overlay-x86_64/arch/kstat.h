/* Zero OS: the kernel's struct stat as the dispatcher writes it, the
 * asm-generic layout (as on aarch64), in fixed-size types: x86_64's own
 * nlink_t and blksize_t are wider than asm-generic's fields. musl copies it
 * into x86_64's struct stat. */
struct kstat {
	unsigned long st_dev;
	unsigned long st_ino;
	unsigned int st_mode;
	unsigned int st_nlink;
	unsigned int st_uid;
	unsigned int st_gid;
	unsigned long st_rdev;
	unsigned long __pad;
	long st_size;
	int st_blksize;
	int __pad2;
	long st_blocks;
	long st_atime_sec;
	long st_atime_nsec;
	long st_mtime_sec;
	long st_mtime_nsec;
	long st_ctime_sec;
	long st_ctime_nsec;
	unsigned __unused[2];
};
