// Zero OS: signal handlers are called by the dispatcher itself and return to
// it, so the restorer is never reached; it asks for rt_sigreturn (which the
// dispatcher refuses) instead of `svc 0`.
.global __restore
.hidden __restore
.type __restore,%function
__restore:
.global __restore_rt
.hidden __restore_rt
.type __restore_rt,%function
__restore_rt:
	mov x0,#139 // SYS_rt_sigreturn
	adrp x16,__sysinfo
	ldr x16,[x16,#:lo12:__sysinfo]
	br x16
