# Zero OS: signal handlers are called by the dispatcher itself and return to
# it, so the restorer is never reached; it asks for rt_sigreturn (which the
# dispatcher refuses) instead of `syscall`.
.global __restore
.hidden __restore
.type __restore,@function
__restore:
.global __restore_rt
.hidden __restore_rt
.type __restore_rt,@function
__restore_rt:
	mov $139,%edi # SYS_rt_sigreturn (the asm-generic number, as on aarch64)
	jmp *__sysinfo(%rip)
