# gdb (gdb-multiarch for AArch64) command `zos-profile`: single-steps the
# guest and says where the instructions went. Kernel instructions are
# counted per function (inlined ones by the function they were inlined
# into's innermost named block) and per syscall being handled; user ones per
# address space (CR3 / TTBR0_EL1) and program counter, written to a file for
# `symbolize.py`. How to run it: docs/kernel.md ("Profiling").
#
#   zos-profile STEPS [user-stop] [until-syscall N] [skip K] [pcs FILE]
#
# STEPS     most instructions to step (after the K skipped ones)
# user-stop stop at the first user instruction (one syscall's kernel path)
# until-syscall N  stop at the next kernel entry for syscall N (one round)
# pcs FILE  where the user (space, pc, count) lines go
#           (default /tmp/zos-profile-user.txt)
# kernel FILE  also write the kernel's (syscall, function, count) lines
#           there: which functions each syscall spent its instructions in
import collections

import gdb


def _arch():
    name = gdb.selected_frame().architecture().name()
    if "aarch64" in name:
        return ("user_trap_common", "$x8", "$TTBR0_EL1", 0xFFFF000000000000)
    return ("syscall_entry", "$rax", "$cr3", 0xFFFF800000000000)


def _function(pc, cache):
    name = cache.get(pc)
    if name is not None:
        return name
    block = None
    try:
        block = gdb.block_for_pc(pc)
    except RuntimeError:
        pass
    while block is not None and block.function is None:
        block = block.superblock
    if block is not None:
        name = block.function.name
    else:
        text = gdb.execute("info symbol 0x%x" % pc, to_string=True)
        name = "? " + text.split(" in section")[0].split(" + ")[0].strip()
    cache[pc] = name
    return name


class ZosProfile(gdb.Command):
    def __init__(self):
        super().__init__("zos-profile", gdb.COMMAND_USER)

    def invoke(self, argument, from_tty):
        words = argument.split()
        steps = int(words[0])
        user_stop = "user-stop" in words
        until = int(words[words.index("until-syscall") + 1]) if "until-syscall" in words else None
        skip = int(words[words.index("skip") + 1]) if "skip" in words else 0
        pcs = words[words.index("pcs") + 1] if "pcs" in words else "/tmp/zos-profile-user.txt"
        per_call = words[words.index("kernel") + 1] if "kernel" in words else None
        entry_symbol, number_register, space_register, kernel_base = _arch()
        entry = int(gdb.parse_and_eval("&" + entry_symbol)) & 0xFFFFFFFFFFFFFFFF
        for _ in range(skip):
            gdb.execute("si", to_string=True)
        functions, syscalls, calls, callers, by_call = (collections.Counter() for _ in range(5))
        user = collections.Counter()
        cache = {}
        current = None
        done = 0
        for done in range(steps):
            pc = int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF
            if pc == entry:
                current = int(gdb.parse_and_eval(number_register))
                if until is not None and current == until and done > 0:
                    break
                calls[current] += 1
                callers[(int(gdb.parse_and_eval(space_register)), current)] += 1
            if pc < kernel_base:
                if user_stop and done > 0:
                    break
                space = int(gdb.parse_and_eval(space_register))
                user[(space, pc)] += 1
                current = None
            else:
                name = _function(pc, cache)
                functions[name] += 1
                syscalls[current] += 1
                by_call[(current, name)] += 1
            gdb.execute("si", to_string=True)
        kernel = sum(functions.values())
        print("zos-profile: %d instructions, kernel %d, user %d" % (done, kernel, sum(user.values())))
        print("kernel by syscall (number, instructions, entries):")
        for number, count in syscalls.most_common():
            print("  %s %d %d" % (number, count, calls.get(number, 0)))
        print("syscalls by address space (space, number: entries):")
        for (space, number), count in sorted(callers.items()):
            print("  %x %d: %d" % (space, number, count))
        print("kernel by function:")
        for name, count in functions.most_common(60):
            print("  %7d %s" % (count, name[:150]))
        with open(pcs, "w") as out:
            for (space, pc), count in sorted(user.items()):
                out.write("%x %x %d\n" % (space, pc, count))
        print("user program counters: %s (tools/profile/symbolize.py)" % pcs)
        if per_call is not None:
            with open(per_call, "w") as out:
                for (number, name), count in by_call.most_common():
                    out.write("%s %d %s\n" % (number, count, name))
            print("kernel functions by syscall: %s" % per_call)


ZosProfile()
