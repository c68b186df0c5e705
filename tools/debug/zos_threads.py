# gdb command `zos-threads`: on a stopped guest (a hung one, typically),
# lists every thread of the kernel's object slab with its process and
# state, each CPU's current thread and the sleepers, read from the kernel's
# own data through its debug information. How to run it: docs/kernel.md
# ("A hung guest").
#
# The kernel must carry full debug information (the release profile has
# line tables only): build it with CARGO_PROFILE_RELEASE_DEBUG=2.
import gdb

# The big kernel lock's static, per kernel binary crate (x86_64, AArch64).
LOCK_NAMES = ("kernel::trap::KERNEL", "zos_arch_aarch64::trap::KERNEL")


def _fields(value):
    return [f.name for f in value.type.strip_typedefs().fields()]


def _raw_pointer(value):
    """The first raw pointer inside a RawVec (its layout varies by Rust release)."""
    if value.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        return value
    for name in _fields(value):
        try:
            found = _raw_pointer(value[name])
        except gdb.error:
            found = None
        if found is not None:
            return found
    return None


def vec_items(vec):
    element = vec.type.template_argument(0)
    pointer = _raw_pointer(vec["buf"]).cast(element.pointer())
    return [pointer[i] for i in range(int(vec["len"]))]


def kernel():
    for name in LOCK_NAMES:
        symbol = gdb.lookup_static_symbol(name) or gdb.lookup_global_symbol(name)
        if symbol is not None:
            return symbol.value()["kernel"]["data"]["value"]["Some"]["__0"]
    raise gdb.GdbError("no kernel lock static (is this a zos kernel with debug=2?)")


def _short(text):
    for noise in ("zos_kernel::object::", "core::option::Option<ObjRef>::", "zos_kernel::"):
        text = text.replace(noise, "")
    return text


class ZosThreads(gdb.Command):
    def __init__(self):
        super().__init__("zos-threads", gdb.COMMAND_USER)

    def invoke(self, argument, from_tty):
        k = kernel()
        for cpu in range(int(k["online"])):
            state = k["cpus"][cpu]
            print("cpu%d current %s running %s" % (cpu, _short(str(state["current"])), _short(str(state["running"]))))
        print("sleepers", [_short(str(s)) for s in vec_items(k["sleepers"])])
        for index, (generation, slot) in enumerate((s["__0"], s["__1"]) for s in vec_items(k["objects"]["slots"])):
            text = str(slot)
            if "::Thread(" not in text:
                continue
            thread = slot["Some"]["__0"]["object"]["Thread"]["__0"]
            print(
                "slot %d gen %d tid %d process %d prio %d cpus %#x state %s reply_to %s stop_pending %s"
                % (
                    index,
                    int(generation),
                    int(thread["tid"]),
                    int(thread["process"]["index"]),
                    int(thread["priority"]),
                    int(thread["cpus"]),
                    _short(str(thread["state"])),
                    _short(str(thread["reply_to"])),
                    thread["stop_pending"],
                )
            )


ZosThreads()
