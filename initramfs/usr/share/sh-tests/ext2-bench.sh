# ext2 on a disk for `cargo xtask bench` (a 256 MiB volume from `mkfs.ext2 -b
# 4096`, /dev/vda over virtio-mmio), the rows of issue 10's Performance table.
# Guest nanoseconds (guest instructions under -icount shift=0); per-operation
# rows have the shell loop's own cost taken out. Rows that run a program per
# operation (dd for the fsync'd writes) include its spawn and exit.
loops=2000
t0=$(uptime -n)
i=0
while [ $i -lt $loops ]; do i=$((i + 1)); done
t1=$(uptime -n)
loop=$(( (t1 - t0) / loops ))

mkdir -p /mnt/d
t0=$(uptime -n)
mount -t ext2 /dev/vda /mnt/d
t1=$(uptime -n)
echo "bench: ext2disk_mount $(( t1 - t0 ))"

# 64 MiB in 64 KiB writes, then fsync (dd conv=fsync).
t0=$(uptime -n)
dd if=/dev/zero of=/mnt/d/big bs=64k count=1024 conv=fsync 2>/dev/null
t1=$(uptime -n)
echo "bench: ext2disk_write_64MiB_fsync $(( t1 - t0 ))"
# Cold cache: unmounted and mounted again, then read whole.
umount /mnt/d
mount -t ext2 /dev/vda /mnt/d
t0=$(uptime -n)
dd if=/mnt/d/big of=/dev/null bs=64k 2>/dev/null
t1=$(uptime -n)
echo "bench: ext2disk_read_64MiB_cold $(( t1 - t0 ))"

# Create + write 4 KiB + fsync + close: one dd per file.
dd if=/dev/zero of=/tmp/4k bs=4096 count=1 2>/dev/null
mkdir /mnt/d/w
t0=$(uptime -n)
i=0
while [ $i -lt 100 ]; do dd if=/tmp/4k of=/mnt/d/w/f$i bs=4096 conv=fsync 2>/dev/null; i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: ext2disk_create_write4k_fsync $(( (t1 - t0) / 100 - loop ))"

# Create empty + close (a shell redirection), then unlink them all (one rm).
mkdir /mnt/d/e
t0=$(uptime -n)
i=0
while [ $i -lt 500 ]; do : > /mnt/d/e/f$i; i=$((i + 1)); done
rm -r /mnt/d/e
t1=$(uptime -n)
echo "bench: ext2disk_create_close_unlink $(( (t1 - t0) / 500 - loop ))"

# stat of a path eight directories deep (the `[` builtin: no process).
mkdir -p /mnt/d/1/2/3/4/5/6/7/8
t0=$(uptime -n)
i=0
while [ $i -lt 1000 ]; do [ -e /mnt/d/1/2/3/4/5/6/7/8 ]; i=$((i + 1)); done
t1=$(uptime -n)
echo "bench: ext2disk_stat_8_deep $(( (t1 - t0) / 1000 - loop ))"
umount /mnt/d
echo "bench: done"
