# Shared helpers for the acceptance scripts: boot QEMU on the reference command
# line (plus extra arguments), fail loudly with the reason, and check exit status.
# The serial log is echoed as it arrives, so a failure shows what the guest said.

set timeout 30
set zos_kernel $env(ZOS_KERNEL)
set zos_initrd $env(ZOS_INITRD)

proc fail {reason} {
    global spawn_id
    puts "\nFAIL: $reason"
    catch {exec kill [exp_pid -i $spawn_id]}
    exit 1
}

# Boots a fresh QEMU. `machine` and `cpu` and `mem` default to the reference line.
proc zos_boot {{extra {}} {machine virt} {cpu cortex-a57} {mem 1G}} {
    global zos_kernel zos_initrd spawn_id env
    set cmd [list qemu-system-aarch64 -machine $machine -cpu $cpu -m $mem -nographic \
        -kernel $zos_kernel -initrd $zos_initrd -nic none -no-reboot]
    set cmd [concat $cmd $extra]
    # xtask runs every script that types a second time on two CPUs (GICv2).
    if {[info exists env(ZOS_SMP)] && [lsearch -exact $cmd -smp] < 0} {
        lappend cmd -smp $env(ZOS_SMP)
    }
    puts "boot: $cmd"
    eval spawn $cmd
}

# Boots a fresh x86_64 QEMU (q35, PVH entry) on the artefacts xtask built
# (`ZOS_X86_KERNEL`, `ZOS_X86_INITRD`). `-cpu max` by default: libzos reads
# the thread pointer with `rdfsbase`, which `qemu64` lacks.
proc zos_boot_x86 {{extra {}} {cpu max} {mem 1G}} {
    global spawn_id env
    if {![info exists env(ZOS_X86_KERNEL)] || ![info exists env(ZOS_X86_INITRD)]} {
        fail "ZOS_X86_KERNEL/ZOS_X86_INITRD not set (run through cargo xtask test)"
    }
    set cmd [list qemu-system-x86_64 -machine q35 -cpu $cpu -m $mem -nographic \
        -kernel $env(ZOS_X86_KERNEL) -initrd $env(ZOS_X86_INITRD) -nic none -no-reboot]
    set cmd [concat $cmd $extra]
    if {[info exists env(ZOS_SMP)] && [lsearch -exact $cmd -smp] < 0} {
        lappend cmd -smp $env(ZOS_SMP)
    }
    puts "boot: $cmd"
    eval spawn $cmd
}

# Waits for a literal string (or fails with `what`).
proc want {text what} {
    expect {
        -ex $text {}
        timeout { fail "timed out waiting for $what ($text)" }
        eof { fail "QEMU exited before $what ($text)" }
    }
}

# Waits for a regular expression.
proc want_re {pattern what} {
    expect {
        -re $pattern {}
        timeout { fail "timed out waiting for $what (/$pattern/)" }
        eof { fail "QEMU exited before $what (/$pattern/)" }
    }
}

# Waits for QEMU to exit by itself and requires exit status `status`.
proc want_exit {status what} {
    global spawn_id
    expect {
        eof {}
        timeout { fail "QEMU did not exit by itself: $what" }
    }
    set result [wait -i $spawn_id]
    set code [lindex $result 3]
    if {$code != $status} { fail "QEMU exit status $code, expected $status: $what" }
}
