# gdb (gdb-multiarch for AArch64) command `zos-sample`: a sampling
# profiler for a running guest. Where `zos-profile` single-steps one short
# path exactly, this stops the whole machine every few milliseconds, notes
# where the CPU was, and lets it run on: a statistical picture of a long
# workload (a network transfer, a build) at full speed between samples.
# Kernel samples are counted per function and per address space they ran
# for; user ones per address space (TTBR0_EL1 / CR3) and program counter,
# written for `symbolize.py`. How to run it: docs/kernel.md ("Profiling").
#
#   zos-sample SAMPLES [every MS] [pcs FILE]
#
# SAMPLES   how many samples to take
# every MS  milliseconds the machine runs between samples (default 5)
#
# What it cannot do: a stop lands where QEMU ends a translation block,
# which favours exception entries, and each stop costs the guest's peers
# time (a TCP transfer slows to a fifth), so kernel and idle figures are
# skewed; the user-space split within one process is what it is good for.
# Single-stepping a burst at each sample was tried and hangs: gdb steps
# with interrupts masked, so a step into `wfi` or a wait on another
# thread never returns.
# pcs FILE  where the user (space, pc, count) lines go
#           (default /tmp/zos-sample-user.txt); kernel samples are also
#           written there, as (space, pc) of the kernel, so symbolize.py
#           can sort them by address space with the kernel's ELF
import collections
import os
import signal
import sys
import threading

import gdb

# The symbol lookup is zos_profile's (this directory; importing it also
# defines `zos-profile`).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zos_profile import _function  # noqa: E402


def _arch():
    name = gdb.selected_frame().architecture().name()
    if "aarch64" in name:
        return ("$TTBR0_EL1", 0xFFFF000000000000)
    return ("$cr3", 0xFFFF800000000000)


def _interrupt_later(seconds):
    # gdb turns a SIGINT during `continue` into a stop of the target.
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


class ZosSample(gdb.Command):
    def __init__(self):
        super().__init__("zos-sample", gdb.COMMAND_USER)

    def invoke(self, argument, from_tty):
        words = argument.split()
        samples = int(words[0])
        every = float(words[words.index("every") + 1]) if "every" in words else 5.0
        pcs = words[words.index("pcs") + 1] if "pcs" in words else "/tmp/zos-sample-user.txt"
        space_register, kernel_base = _arch()
        kernel, spaces, kernel_spaces = (collections.Counter() for _ in range(3))
        user = collections.Counter()
        cache = {}
        for _ in range(samples):
            timer = _interrupt_later(every / 1000.0)
            try:
                gdb.execute("continue", to_string=True)
            except gdb.error:
                break
            finally:
                timer.cancel()
            pc = int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF
            space = int(gdb.parse_and_eval(space_register)) & 0xFFFFFFFFFFFFFFFF
            spaces[space] += 1
            if pc >= kernel_base:
                kernel[_function(pc, cache)] += 1
                kernel_spaces[space] += 1
            else:
                user[(space, pc)] += 1
        taken = sum(spaces.values())
        print("zos-sample: %d samples, kernel %d, user %d" % (taken, sum(kernel.values()), sum(user.values())))
        print("samples by address space (space: all, of them in the kernel):")
        for space, count in spaces.most_common():
            print("  %x: %d %d" % (space, count, kernel_spaces[space]))
        print("kernel by function:")
        for name, count in kernel.most_common(40):
            print("  %6d %s" % (count, name[:150]))
        with open(pcs, "w") as out:
            for (space, pc), count in sorted(user.items()):
                out.write("%x %x %d\n" % (space, pc, count))
        print("user program counters: %s (tools/profile/symbolize.py)" % pcs)


ZosSample()
