//! Address spaces of wasm processes.
//!
//! A process's address space is its wasm linear memory: pages the core maps
//! below `layout::LINEAR_TOP` are copied into it (copy-on-grant), and the
//! kernel reaches them through "window" addresses that [`phys_to_ptr`] turns
//! into pointers into that memory. The frames behind a Memory object stay its
//! backing store: a writable page is copied back to its frame when it is
//! unmapped or the process dies.
//!
//! Shared pages (a frame mapped by two spaces, one of them writable) stay
//! coherent: before a process runs its copies are loaded from the frames, and
//! when it stops (syscall, preemption, fault) its writable copies are stored
//! back. Only one process runs at a time, so every process sees every write
//! made before it was resumed, as with real shared memory on one CPU, and the
//! kernel reads and writes shared pages in the frames themselves.
//!
//! Before the process's module is instantiated (its first thread has not run)
//! the frames alone hold its pages. Pages at or above `LINEAR_TOP` (the module
//! window) and device pages never enter the linear memory.

use crate::process::{Live, ThreadExec};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use zos_abi::layout;
use zos_kernel::arch::{AddressSpace, MapError, PageFlags, SHARED_FRAME};
use zos_kernel::frame::FrameAllocator;

const PAGE: u64 = 4096;
/// Window addresses: bit 40, the space's id in bits 32..40, the user address
/// below. No frame has such an address (frames are kernel-memory pointers).
const WINDOW: u64 = 1 << 40;

/// Every space, and who maps each frame.
pub struct Machine {
    pub vms: BTreeMap<u32, Vm>,
    /// Frame → the (space, user address, writable) of each mapping.
    owners: BTreeMap<u64, Vec<(u32, u64, bool)>>,
    next_vm: u32,
    pub engine: wasmi::Engine,
}

/// One process's address space and, once it runs, its instance.
pub struct Vm {
    pub pages: BTreeMap<u64, (u64, PageFlags)>,
    /// Pages kept coherent with other spaces at every switch.
    pub shared: BTreeSet<u64>,
    pub live: Option<Live>,
    pub threads: BTreeMap<u64, ThreadExec>,
    /// The terminal's device page is mapped: the terminal imports answer.
    pub terminal: bool,
}

pub static MACHINE: spin::Mutex<Option<Machine>> = spin::Mutex::new(None);

/// Runs `f` on the machine (made on first use).
pub fn with<R>(f: impl FnOnce(&mut Machine) -> R) -> R {
    let mut guard = MACHINE.lock();
    let machine = guard.get_or_insert_with(|| {
        let mut config = wasmi::Config::default();
        config.consume_fuel(true);
        // Lazy compilation charges fuel inside a call and fails the call
        // (not resumably) when the slice runs out; compiled up front, a
        // malformed module is also refused before anything of it runs.
        config.compilation_mode(wasmi::CompilationMode::Eager);
        Machine {
            vms: BTreeMap::new(),
            owners: BTreeMap::new(),
            next_vm: 1,
            engine: wasmi::Engine::new(&config),
        }
    });
    f(machine)
}

fn in_linear(va: u64, flags: PageFlags) -> bool {
    va < layout::LINEAR_TOP && !flags.device
}

fn frame(pa: u64) -> *mut u8 {
    pa as usize as *mut u8
}

impl Vm {
    /// Copies frame `pa` into the linear memory at `va`, growing it.
    fn load(&mut self, va: u64, pa: u64) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if !live.cover(va + PAGE) {
            return;
        }
        let data = live.memory.data_mut(&mut live.store);
        // SAFETY: `pa` is a whole frame of the kernel's memory.
        let src = unsafe { core::slice::from_raw_parts(frame(pa), PAGE as usize) };
        data[va as usize..(va + PAGE) as usize].copy_from_slice(src);
    }

    /// Copies the linear memory at `va` back into frame `pa`.
    fn store(&mut self, va: u64, pa: u64) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let data = live.memory.data(&live.store);
        let Some(src) = data.get(va as usize..(va + PAGE) as usize) else {
            return;
        };
        // SAFETY: `pa` is a whole frame of the kernel's memory.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), frame(pa), PAGE as usize) };
    }

    /// Zeroes the linear memory at `va` (the page was unmapped).
    fn clear(&mut self, va: u64) {
        if let Some(live) = self.live.as_mut() {
            let data = live.memory.data_mut(&mut live.store);
            if let Some(page) = data.get_mut(va as usize..(va + PAGE) as usize) {
                page.fill(0);
            }
        }
    }

    /// Fills the new instance's memory with every mapped page.
    pub fn load_all(&mut self) {
        let pages: Vec<(u64, u64, PageFlags)> = self
            .pages
            .iter()
            .map(|(&va, &(pa, f))| (va, pa, f))
            .collect();
        for (va, pa, flags) in pages {
            if in_linear(va, flags) {
                self.load(va, pa);
            }
        }
    }

    /// Before the process runs: its shared pages from the frames.
    pub fn sync_in(&mut self) {
        let shared: Vec<u64> = self.shared.iter().copied().collect();
        for va in shared {
            if let Some(&(pa, _)) = self.pages.get(&va) {
                self.load(va, pa);
            }
        }
    }

    /// After the process stopped: its writable shared pages to the frames.
    pub fn sync_out(&mut self) {
        let shared: Vec<u64> = self.shared.iter().copied().collect();
        for va in shared {
            if let Some(&(pa, flags)) = self.pages.get(&va) {
                if flags.write {
                    self.store(va, pa);
                }
            }
        }
    }
}

impl Machine {
    /// Recomputes, for every mapping of `pa`, whether it must be kept coherent.
    fn update_shared(&mut self, pa: u64) {
        let owners = self.owners.get(&pa).cloned().unwrap_or_default();
        let shared = owners.len() > 1 && owners.iter().any(|&(_, _, w)| w);
        for (vm, va, _) in owners {
            if let Some(vm) = self.vms.get_mut(&vm) {
                if shared {
                    vm.shared.insert(va);
                } else {
                    vm.shared.remove(&va);
                }
            }
        }
    }

    /// Stores every other space's writable copy of `pa` in the frame.
    fn flush_others(&mut self, pa: u64, except: u32) {
        let owners = self.owners.get(&pa).cloned().unwrap_or_default();
        for (id, va, writable) in owners {
            if id != except && writable {
                if let Some(vm) = self.vms.get_mut(&id) {
                    vm.store(va, pa);
                }
            }
        }
    }

    fn remove_owner(&mut self, pa: u64, id: u32, va: u64) {
        if let Some(list) = self.owners.get_mut(&pa) {
            list.retain(|&(v, a, _)| !(v == id && a == va));
            if list.is_empty() {
                self.owners.remove(&pa);
            }
        }
        self.update_shared(pa);
    }
}

/// A process's address space: an id into [`Machine::vms`].
pub struct WasmSpace {
    pub id: u32,
}

impl WasmSpace {
    /// Maps one page `va` → `pa`.
    fn map_page(
        &mut self,
        va: u64,
        pa: u64,
        flags: PageFlags,
        _frames: &mut FrameAllocator,
    ) -> Result<(), MapError> {
        if flags.write && flags.execute {
            return Err(MapError::WritableExecutable);
        }
        if !va.is_multiple_of(PAGE) || !pa.is_multiple_of(PAGE) {
            return Err(MapError::Unaligned);
        }
        if !(layout::USER_BOTTOM..layout::USER_TOP).contains(&va) {
            return Err(MapError::OutsideUserSpace);
        }
        let id = self.id;
        with(|m| {
            let vm = m.vms.get_mut(&id).ok_or(MapError::OutOfMemory)?;
            if vm.pages.contains_key(&va) {
                return Err(MapError::AlreadyMapped);
            }
            if in_linear(va, flags) && va < layout::MODULE_STATIC_TOP {
                // The module's own memory lives there.
                return Err(MapError::AlreadyMapped);
            }
            vm.pages.insert(va, (pa, flags));
            if flags.device && (crate::TERMINAL_PA..crate::TERMINAL_PA + PAGE).contains(&pa) {
                vm.terminal = true;
                if let Some(live) = vm.live.as_mut() {
                    live.store.data_mut().terminal = true;
                }
            }
            if !flags.device {
                m.flush_others(pa, id);
                m.owners.entry(pa).or_default().push((id, va, flags.write));
                m.update_shared(pa);
                if in_linear(va, flags) {
                    if let Some(vm) = m.vms.get_mut(&id) {
                        vm.load(va, pa);
                    }
                }
            }
            Ok(())
        })
    }
}

impl AddressSpace for WasmSpace {
    fn new(_frames: &mut FrameAllocator) -> Result<Self, MapError> {
        with(|m| {
            let id = m.next_vm;
            m.next_vm = m.next_vm.checked_add(1).ok_or(MapError::OutOfMemory)?;
            if id >= 256 {
                return Err(MapError::OutOfMemory);
            }
            m.vms.insert(
                id,
                Vm {
                    pages: BTreeMap::new(),
                    shared: BTreeSet::new(),
                    live: None,
                    threads: BTreeMap::new(),
                    terminal: false,
                },
            );
            Ok(WasmSpace { id })
        })
    }

    fn map(
        &mut self,
        va: u64,
        pages: &[u64],
        flags: PageFlags,
        frames: &mut FrameAllocator,
    ) -> Result<(), MapError> {
        for (done, &pa) in (0u64..).zip(pages) {
            let write = flags.write && pa & SHARED_FRAME == 0;
            let page_flags = PageFlags { write, ..flags };
            let mapped = self.map_page(va + done * PAGE, pa & !SHARED_FRAME, page_flags, frames);
            if let Err(e) = mapped {
                (0..done).for_each(|i| _ = self.unmap(va + i * PAGE));
                return Err(e);
            }
        }
        Ok(())
    }

    fn unmap_run(&mut self, va: u64, pages: u64) {
        (0..pages).for_each(|page| _ = self.unmap(va + page * PAGE));
    }

    fn remap(&mut self, va: u64, pa: u64, flags: PageFlags, frames: &mut FrameAllocator) -> bool {
        // The owner lists and the live module's memory follow through both.
        self.unmap(va).is_some() && self.map_page(va, pa, flags, frames).is_ok()
    }

    fn unmap(&mut self, va: u64) -> Option<u64> {
        let id = self.id;
        with(|m| {
            let vm = m.vms.get_mut(&id)?;
            let (pa, flags) = vm.pages.remove(&va)?;
            vm.shared.remove(&va);
            if flags.device {
                vm.terminal = vm
                    .pages
                    .values()
                    .any(|&(p, f)| f.device && p == crate::TERMINAL_PA);
                let terminal = vm.terminal;
                if let Some(live) = vm.live.as_mut() {
                    live.store.data_mut().terminal = terminal;
                }
                return Some(pa);
            }
            if in_linear(va, flags) {
                if flags.write {
                    vm.store(va, pa);
                }
                vm.clear(va);
            }
            m.remove_owner(pa, id, va);
            Some(pa)
        })
    }

    fn translate(&self, va: u64) -> Option<(u64, PageFlags)> {
        let id = self.id;
        with(|m| {
            let vm = m.vms.get(&id)?;
            let live_size = vm.live.as_ref().map(|l| l.size());
            match vm.pages.get(&va) {
                Some(&(pa, flags)) => {
                    let windowed = in_linear(va, flags)
                        && !vm.shared.contains(&va)
                        && live_size.is_some_and(|size| va + PAGE <= size);
                    if windowed {
                        Some((WINDOW | (id as u64) << 32 | va, flags))
                    } else {
                        Some((pa, flags))
                    }
                }
                // The module's own memory (its data and first stack).
                None if va < layout::MODULE_STATIC_TOP
                    && live_size.is_some_and(|size| va + PAGE <= size) =>
                {
                    let rw = PageFlags {
                        write: true,
                        execute: false,
                        device: false,
                    };
                    Some((WINDOW | (id as u64) << 32 | va, rw))
                }
                None => None,
            }
        })
    }

    fn destroy(self, _frames: &mut FrameAllocator) {
        let id = self.id;
        // The instance and its threads' stacks go outside the lock: dropping
        // them touches nothing of the machine's.
        let gone = with(|m| {
            let mut vm = m.vms.remove(&id)?;
            let pages: Vec<(u64, u64, PageFlags)> =
                vm.pages.iter().map(|(&va, &(pa, f))| (va, pa, f)).collect();
            for (va, pa, flags) in pages {
                if flags.device {
                    continue;
                }
                if flags.write && in_linear(va, flags) {
                    vm.store(va, pa);
                }
                m.remove_owner(pa, id, va);
            }
            Some(vm)
        });
        drop(gone);
    }

    fn table_frames(&self) -> usize {
        0
    }

    fn max_new_tables(_va: u64, _pages: u64) -> u64 {
        0
    }

    fn activate(&self) {}
}

/// A pointer for physical address `pa`: a frame is its own address in the
/// kernel's memory; a window address points into a process's linear memory
/// (valid until that memory grows, which happens only outside the kernel).
pub fn phys_to_ptr(pa: u64) -> *mut u8 {
    if pa & WINDOW == 0 {
        return frame(pa);
    }
    let id = ((pa >> 32) & 0xff) as u32;
    let va = (pa & 0xffff_ffff) as usize;
    with(|m| {
        let Some(live) = m.vms.get_mut(&id).and_then(|vm| vm.live.as_mut()) else {
            return core::ptr::null_mut();
        };
        let data = live.memory.data_mut(&mut live.store);
        match data.get_mut(va..) {
            // SAFETY: `va` is inside the memory (checked by `get_mut`).
            Some(rest) => rest.as_mut_ptr(),
            None => core::ptr::null_mut(),
        }
    })
}
