# Zero OS: musl's thread pointer is the fs base, set with `wrfsbase` (the
# kernel enables it for user code, or emulates it on CPUs without FSGSBASE)
# instead of the arch_prctl system call. libzos's dispatcher saves and
# restores it around its own use of fs.
.text
.global __set_thread_area
.hidden __set_thread_area
.type __set_thread_area,@function
__set_thread_area:
	wrfsbase %rdi
	xor %eax,%eax
	ret
