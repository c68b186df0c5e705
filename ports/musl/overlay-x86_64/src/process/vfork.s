# Zero OS: vfork is libzos's "record until exec" (libzos/src/linux/vfork.rs).
# A tail jump, so zos_vfork finds the caller's return address on top of the
# stack; this replaces musl's x86_64 assembly, which enters the kernel.
.global vfork
.type vfork,@function
vfork:
	jmp zos_vfork
.size vfork,.-vfork
