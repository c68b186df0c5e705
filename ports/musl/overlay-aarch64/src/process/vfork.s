// Zero OS: vfork is libzos's "record until exec" (libzos/src/linux/vfork.rs).
// A tail branch, so zos_vfork sees the caller's return address in x30.
.global vfork
.type vfork,%function
vfork:
	b zos_vfork
.size vfork,.-vfork
