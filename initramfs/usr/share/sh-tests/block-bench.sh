# Block benchmarks for `cargo xtask bench` (a 64 MiB scratch disk as /dev/vda
# over virtio-mmio, then again over virtio-pci): 32 MiB written with dd in 64 KiB blocks plus a flush,
# then read back, through the devfs file path (VFS hand-off, driver, device).
# Guest nanoseconds per run; guest instructions under -icount shift=0.
t0=$(uptime -n)
dd if=/dev/zero of=/dev/vda bs=64k count=512 conv=notrunc,fsync 2>/dev/null
t1=$(uptime -n)
echo "bench: blk_write_32MiB_64k $((t1 - t0))"
t0=$(uptime -n)
dd if=/dev/vda of=/dev/null bs=64k count=512 2>/dev/null
t1=$(uptime -n)
echo "bench: blk_read_32MiB_64k $((t1 - t0))"
t0=$(uptime -n)
dd if=/dev/vda of=/dev/null bs=4k count=1024 2>/dev/null
t1=$(uptime -n)
echo "bench: blk_read_4MiB_4k $((t1 - t0))"
echo "bench: done"
