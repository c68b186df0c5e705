#!/usr/bin/env python3
"""Sums the user program counters `zos-profile` wrote by function.

    symbolize.py PCS_FILE BINARY...

Each address space is matched to the unstripped binary (of those given)
that names most of its instructions, then its counts are summed per
function with llvm-symbolizer. Binaries: target/<arch>-unknown-none/release/.
"""
import collections
import subprocess
import sys


def functions(binary, addresses):
    query = "\n".join(hex(a) for a in addresses)
    out = subprocess.run(
        ["llvm-symbolizer", "--obj=" + binary, "--functions=linkage", "--no-inlines", "-C"],
        input=query, capture_output=True, text=True, check=True).stdout
    blocks = out.strip().split("\n\n")
    return [block.split("\n")[0] for block in blocks]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    spaces = collections.defaultdict(collections.Counter)
    with open(sys.argv[1]) as lines:
        for line in lines:
            space, pc, count = line.split()
            spaces[space][int(pc, 16)] += int(count)
    for space, pcs in spaces.items():
        addresses = list(pcs)
        best = None
        for binary in sys.argv[2:]:
            names = functions(binary, addresses)
            unknown = sum(pcs[a] for a, n in zip(addresses, names) if n.startswith("??"))
            if best is None or unknown < best[0]:
                best = (unknown, binary, names)
        unknown, binary, names = best
        totals = collections.Counter()
        for address, name in zip(addresses, names):
            totals[name] += pcs[address]
        print("space %s: %d instructions, %s (%d unnamed)" % (space, sum(pcs.values()), binary, unknown))
        for name, count in totals.most_common(30):
            print("  %7d %s" % (count, name[:140]))


if __name__ == "__main__":
    main()
