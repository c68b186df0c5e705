# Zero OS: a cancellable system call goes to the dispatcher in __sysinfo
# instead of `syscall`.
# __syscall_cp_asm(&self->cancel, nr, u, v, w, x, y, z)
#                  rdi            rsi rdx rcx r8 r9 8(%rsp) 16(%rsp)
# dispatcher(nr, u, v, w, x, y, z)
#            rdi rsi rdx rcx r8 r9 8(%rsp)
# The seventh argument moves down one slot (a callee owns its stack
# arguments), then the dispatcher is entered with our return address.

.global __cp_begin
.hidden __cp_begin
.global __cp_end
.hidden __cp_end
.global __cp_cancel
.hidden __cp_cancel
.hidden __cancel
.hidden __sysinfo
.global __syscall_cp_asm
.hidden __syscall_cp_asm
.type __syscall_cp_asm,@function
__syscall_cp_asm:
__cp_begin:
	mov (%rdi),%eax
	test %eax,%eax
	jnz __cp_cancel
	mov %rsi,%rdi
	mov %rdx,%rsi
	mov %rcx,%rdx
	mov %r8,%rcx
	mov %r9,%r8
	mov 8(%rsp),%r9
	mov 16(%rsp),%rax
	mov %rax,8(%rsp)
	jmp *__sysinfo(%rip)
__cp_end:
	ret
__cp_cancel:
	jmp __cancel
