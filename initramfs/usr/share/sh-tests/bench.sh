# Shell benchmarks for `cargo xtask bench`: nanoseconds per operation by the
# guest clock (guest instructions under -icount shift=0), each loop's own
# cost taken out of the operations measured inside a loop.
loops=10000
t0=$(uptime -n)
i=0
while [ $i -lt $loops ]; do i=$((i + 1)); done
t1=$(uptime -n)
loop=$(( (t1 - t0) / loops ))
echo "bench: sh_loop_iteration $loop"

f() { :; }
t0=$(uptime -n)
i=0
while [ $i -lt 2000 ]; do f; i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: sh_function_call $(( (t1 - t0) / 2000 - loop ))"

t0=$(uptime -n)
i=0
while [ $i -lt 500 ]; do x=$(echo x); i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: sh_command_substitution $(( (t1 - t0) / 500 - loop ))"

t0=$(uptime -n)
i=0
while [ $i -lt 50 ]; do x=$(true | true); i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: sh_substituted_pipeline $(( (t1 - t0) / 50 - loop ))"
# Start and exit of a program, waited for by the shell: the Rust multi-call
# binary (zbox true) and a static C program (musl over libzos).
t0=$(uptime -n)
i=0
while [ $i -lt 50 ]; do /bin/true; i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: spawn_exit_rust_true $(( (t1 - t0) / 50 - loop ))"
t0=$(uptime -n)
i=0
while [ $i -lt 50 ]; do c-true; i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: spawn_exit_c_true $(( (t1 - t0) / 50 - loop ))"
# A pty round trip (master -> slave -> master), timed inside the program.
pty-bench
# A byte back and forth between two processes through two pipes, each side
# waiting in poll (the wake-up of a poller by a write, twice per round).
poll-test bench
# fork + _exit + waitpid of a small C program, timed inside it (copy-on-write
# copies of its memory: docs/posix.md, "fork").
fork-test bench 20
# The same with 16 MiB of heap written first: what sharing 16 MiB costs.
fork-test bench16 4
# A signal to a thread blocked in a pipe read (the read ends with EINTR after
# the handler ran); a round includes the request byte to the sending child.
signal-test bench 50
# The same to a main thread that computes without system calls until its
# handler ran (libzos stops it and redirects it, docs/posix.md).
signal-test busybench 50
# Lua: start and exit of `lua -e ''`, and recursive fib(27).
t0=$(uptime -n)
i=0
while [ $i -lt 20 ]; do lua -e ''; i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: lua_empty $(( (t1 - t0) / 20 - loop ))"
t0=$(uptime -n)
lua /usr/share/lua-tests/fib.lua 27 > /dev/null
t1=$(uptime -n)
echo "bench: lua_fib27 $(( t1 - t0 ))"

# ext2 (the sample volume, mounted from a RAM copy): mount (the `mount` tool's
# spawn included), stat of a path eight directories deep (the `[` builtin: no
# process), and create + close of an empty file (a shell redirection).
mkdir -p /mnt/bench
t0=$(uptime -n)
mount -t ext2 /usr/share/zos/sample.ext2 /mnt/bench
t1=$(uptime -n)
echo "bench: ext2_mount $(( t1 - t0 ))"
mkdir -p /mnt/bench/1/2/3/4/5/6/7/8
t0=$(uptime -n)
i=0
while [ $i -lt 1000 ]; do [ -e /mnt/bench/1/2/3/4/5/6/7/8 ]; i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: ext2_stat_8_deep $(( (t1 - t0) / 1000 - loop ))"
t0=$(uptime -n)
i=0
while [ $i -lt 80 ]; do : > /mnt/bench/f$i; i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: ext2_create_empty $(( (t1 - t0) / 80 - loop ))"
umount /mnt/bench
echo "bench: done"
