# Shared helpers for the acceptance scripts: boot QEMU on the reference command
# line (plus extra arguments), fail loudly with the reason, and check exit status.
# The serial log is echoed as it arrives, so a failure shows what the guest said.

set timeout 30
set zos_kernel $env(ZOS_KERNEL)
set zos_initrd $env(ZOS_INITRD)
# The test archive: the boot archive plus the test programs (libc-test,
# std-demo, c-true) and BusyBox's test suites. A script that runs them says
# `zos_use_test_archive` before booting.
proc zos_use_test_archive {} {
    global zos_initrd env
    set zos_initrd $env(ZOS_TEST_INITRD)
}
# The architecture this run boots (xtask sets it; a script whose header says
# `# runs on: aarch64 x86_64` runs once for each). Scripts ask `zos_arch`
# only where the two really differ (banners, fault reports, device lines).
set zos_arch [expr {[info exists env(ZOS_ARCH)] ? $env(ZOS_ARCH) : "aarch64"}]
# The console's UART driver, as the console names it when ready.
set zos_uart [expr {$zos_arch eq "x86_64" ? "ns16550" : "pl011"}]

proc fail {reason} {
    global spawn_id
    if {[string match "timed out*" $reason]} { show_machine_state }
    puts "\nFAIL: $reason"
    catch {exec kill [exp_pid -i $spawn_id]}
    exit 1
}

# After a timeout, asks QEMU's monitor (multiplexed on the serial console by
# -nographic: Ctrl-A c) where every CPU is and, on x86_64, what the local
# APIC has in service and the IOAPIC has masked: a rare stall in CI is
# otherwise a silent log. Best effort: a script that took the monitor off
# stdio just sends the guest a few more bytes.
proc show_machine_state {} {
    global zos_arch
    set timeout 5
    puts "\n---- machine state (QEMU monitor) ----"
    send -- "\001c"
    set questions [list "info registers -a"]
    if {$zos_arch eq "x86_64"} { lappend questions "info lapic" "info pic" }
    foreach question $questions {
        send -- "$question\r"
        expect -ex "(qemu)" {} timeout {} eof { return }
    }
    expect -ex "(qemu)" {} timeout {} eof { return }
    puts "\n---- end of machine state ----"
}

# Words put before QEMU's command (`ip netns exec NAME`: net_ns.exp runs QEMU
# inside the network namespace it builds; ZOS_QEMU_PREFIX, e.g. a debugger,
# when debugging a run).
set zos_qemu_prefix [expr {[info exists env(ZOS_QEMU_PREFIX)] ? $env(ZOS_QEMU_PREFIX) : {}}]

# Whether this QEMU is older than 8.1, whose multi-threaded TCG races a
# memory-map change against MMIO on other vCPUs (docs/x86_64.md,
# "QEMU before 8.1").
proc zos_qemu_mttcg_races {qemu} {
    if {[catch {exec $qemu --version} text]
            || ![regexp {version ([0-9]+)\.([0-9]+)} $text -> major minor]} {
        return 0
    }
    return [expr {$major < 8 || ($major == 8 && $minor < 1)}]
}

# Boots a fresh QEMU on the reference command line of this run's architecture
# plus `extra`. `machine`, `cpu` and `mem` default to the reference line; on
# x86_64 the AArch64 defaults (`virt`, `cortex-a57`) mean q35 and `max`
# (SMEP, SMAP and FSGSBASE on; boot.exp covers `qemu64`).
proc zos_boot {{extra {}} {machine virt} {cpu cortex-a57} {mem 1G}} {
    global zos_kernel zos_initrd zos_arch spawn_id env
    if {$zos_arch eq "x86_64"} {
        if {$machine eq "virt"} { set machine q35 }
        if {$cpu eq "cortex-a57"} { set cpu max }
        set qemu qemu-system-x86_64
    } else {
        set qemu qemu-system-aarch64
    }
    set cmd [concat $::zos_qemu_prefix [list $qemu -machine $machine -cpu $cpu -m $mem -nographic \
        -kernel $zos_kernel -initrd $zos_initrd -nic none -no-reboot]]
    set cmd [concat $cmd $extra]
    # xtask runs every script that types a second time on two CPUs (GICv2).
    if {[info exists env(ZOS_SMP)] && [lsearch -exact $cmd -smp] < 0} {
        lappend cmd -smp $env(ZOS_SMP)
    }
    # x86_64 on several CPUs: QEMU before 8.1 crashes (a segfault in
    # memory_region_access_valid) when a PCI BAR or command write changes
    # the memory map while another vCPU thread is inside an MMIO access; see
    # docs/x86_64.md, "QEMU before 8.1". Those versions run the vCPUs on
    # one host thread.
    set smp_at [lsearch -exact $cmd -smp]
    if {$zos_arch eq "x86_64" && $smp_at >= 0 && [lindex $cmd [expr {$smp_at + 1}]] > 1
            && [lsearch -exact $cmd -accel] < 0 && [zos_qemu_mttcg_races $qemu]} {
        lappend cmd -accel tcg,thread=single
    }
    # Extra QEMU options for debugging a run, e.g.
    # ZOS_QEMU_ARGS="-d cpu_reset,guest_errors -D /tmp/qemu.log".
    if {[info exists env(ZOS_QEMU_ARGS)]} {
        set cmd [concat $cmd $env(ZOS_QEMU_ARGS)]
    }
    puts "boot: $cmd"
    eval spawn $cmd
}

# The virtio transport of this run: `pci` in a script's `-pci` variant
# (xtask sets ZOS_VIRTIO for scripts whose header says `# variants: pci`)
# and always on x86_64 (q35 has no virtio-mmio).
proc virtio_transport {} {
    global env zos_arch
    if {[info exists env(ZOS_VIRTIO)]} { return $env(ZOS_VIRTIO) }
    if {$zos_arch eq "x86_64"} { return pci }
    return mmio
}
# The QEMU device name of a virtio `kind` (blk, net) on this run's transport.
proc virtio_device {kind} {
    if {[virtio_transport] eq "pci"} { return virtio-$kind-pci }
    return virtio-$kind-device
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

# Waits for every regexp of `patterns`, in any order: lines from different
# processes may come either way round on several CPUs. One alternation, so
# whichever line came first is matched first (expect tries separate patterns
# in list order, and a later one would skip an earlier line). `on_fail` is
# the command that reports a failure (a script's own, to clean up first).
proc want_all {patterns what {on_fail fail}} {
    set left $patterns
    while {[llength $left] > 0} {
        expect {
            -re [join $left |] {
                set line $expect_out(0,string)
                set at 0
                foreach pattern $left {
                    if {[regexp -- $pattern $line]} { break }
                    incr at
                }
                set left [lreplace $left $at $at]
            }
            timeout { $on_fail "timed out waiting for $what (still /[join $left {/ /}]/)" }
            eof { $on_fail "QEMU exited before $what (still /[join $left {/ /}]/)" }
        }
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

# Waits for a regular expression (or fails with `what`); returns its
# capture groups, e.g. `set pid [lindex [grab {\nPID=([0-9]+)\r} "the pid"] 0]`.
proc grab {pattern what} {
    expect {
        -re $pattern {
            set groups {}
            for {set i 1} {[info exists expect_out($i,string)]} {incr i} {
                lappend groups $expect_out($i,string)
            }
            return $groups
        }
        timeout { fail "timed out waiting for $what (/$pattern/)" }
        eof { fail "QEMU exited before $what (/$pattern/)" }
    }
}
