//! Running threads of wasm processes with `wasmi`.
//!
//! A process's module is compiled and instantiated when its first thread
//! first runs: the loader (or boot, for init) mapped the module file at
//! `layout::MODULE_WINDOW`. Each thread is a resumable call on the process's
//! one instance: entry 0 is the module's `_start`, any other entry an index
//! into its function table (how a wasm function pointer looks, so
//! `libzos::thread::spawn` passes its trampoline unchanged). A thread's stack
//! pointer (the `__stack_pointer` global) and thread pointer are swapped in
//! and out with it.
//!
//! A thread stops when it makes a syscall (the `zos_syscall` import ends the
//! call as a resumable host trap; the kernel later resumes it with the
//! results), when its fuel runs out (preemption: resumed where it was), when
//! it traps (a fault), or when its entry returns.

use crate::space::{self, Vm};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use wasmi::{
    Caller, Extern, Func, Global, Linker, Memory, Module, Ref, ResumableCall,
    ResumableCallHostTrap, ResumableCallOutOfFuel, Store, Table, TrapCode, Val,
};
use zos_abi::{fault, layout};

/// What the host functions of one instance see.
pub struct HostState {
    /// The running thread's thread pointer.
    pub tp: u64,
    /// The syscall the thread just made: number, arguments, result address.
    pub request: Option<(u64, [u64; 6], u32)>,
    /// The process holds the terminal's device page.
    pub terminal: bool,
    /// What the module may allocate: memory up to `LINEAR_TOP`, a bounded
    /// table, one instance (checked before anything is allocated).
    limits: wasmi::StoreLimits,
}

/// A process's instance.
pub struct Live {
    pub store: Store<HostState>,
    pub memory: Memory,
    stack_pointer: Option<Global>,
    table: Option<Table>,
    start: Func,
}

impl Live {
    /// Bytes of linear memory.
    pub fn size(&self) -> u64 {
        self.memory.data(&self.store).len() as u64
    }

    /// Grows the memory to at least `end` bytes; false if it cannot.
    pub fn cover(&mut self, end: u64) -> bool {
        let size = self.size();
        if end <= size {
            return true;
        }
        let pages = (end - size).div_ceil(64 * 1024);
        self.memory.grow(&mut self.store, pages).is_ok()
    }
}

/// Where a thread's wasm call stands.
enum Call {
    NotStarted,
    Syscall(ResumableCallHostTrap, u32),
    Preempted(ResumableCallOutOfFuel),
}

/// A thread's execution state.
pub struct ThreadExec {
    call: Option<Call>,
    stack_pointer: Option<i32>,
    tp: u64,
}

/// Why a thread stopped.
pub enum Stop {
    Syscall { number: u64, args: [u64; 6] },
    Preempted,
    Returned,
    Fault { kind: u64, reason: String },
}

/// What the run loop knows of a thread when it runs it.
pub struct Start {
    pub id: u64,
    pub entry: u64,
    pub stack: u64,
    pub arg: u64,
    pub results: [u64; 7],
}

/// Drops a destroyed thread's call stack.
pub fn forget_thread(id: u64) {
    let gone: Vec<ThreadExec> = space::with(|m| {
        m.vms
            .values_mut()
            .filter_map(|vm| vm.threads.remove(&id))
            .collect()
    });
    drop(gone);
}

/// Runs thread `start` of space `vm` for at most `fuel`; returns why it
/// stopped and the fuel it used.
pub fn run(vm_id: u32, start: &Start, fuel: u64) -> (Stop, u64) {
    space::with(|m| {
        let engine = m.engine.clone();
        let Some(vm) = m.vms.get_mut(&vm_id) else {
            return (fault(fault::OTHER, "address space gone".into()), 0);
        };
        if vm.live.is_none() {
            if let Err(reason) = instantiate(&engine, vm) {
                return (fault(fault::OTHER, reason), 0);
            }
        }
        vm.sync_in();
        let result = run_in(vm, start, fuel);
        vm.sync_out();
        result
    })
}

fn fault(kind: u64, reason: String) -> Stop {
    Stop::Fault { kind, reason }
}

fn run_in(vm: &mut Vm, start: &Start, fuel: u64) -> (Stop, u64) {
    let Some(live) = vm.live.as_mut() else {
        return (fault(fault::OTHER, "no instance".into()), 0);
    };
    let exec = vm.threads.entry(start.id).or_insert(ThreadExec {
        call: Some(Call::NotStarted),
        stack_pointer: None,
        tp: 0,
    });
    live.store.data_mut().tp = exec.tp;
    if let (Some(global), Some(sp)) = (live.stack_pointer, exec.stack_pointer) {
        let _ = global.set(&mut live.store, Val::I32(sp));
    }
    if live.store.set_fuel(fuel).is_err() {
        return (fault(fault::OTHER, "fuel metering is off".into()), 0);
    }
    let outcome = match exec.call.take() {
        None | Some(Call::NotStarted) => begin(live, start),
        Some(Call::Syscall(call, results_at)) => {
            let bytes: Vec<u8> = start.results.iter().flat_map(|w| w.to_le_bytes()).collect();
            if live
                .memory
                .write(&mut live.store, results_at as usize, &bytes)
                .is_err()
            {
                return (
                    fault(fault::DATA_ABORT, "syscall results outside memory".into()),
                    0,
                );
            }
            call.resume(&mut live.store, &[], &mut [])
        }
        Some(Call::Preempted(call)) => call.resume(&mut live.store, &mut []),
    };
    let used = fuel.saturating_sub(live.store.get_fuel().unwrap_or(0));
    exec.tp = live.store.data().tp;
    if let Some(global) = live.stack_pointer {
        if let Val::I32(sp) = global.get(&live.store) {
            exec.stack_pointer = Some(sp);
        }
    }
    let stop = match outcome {
        Ok(ResumableCall::Finished) => Stop::Returned,
        Ok(ResumableCall::OutOfFuel(call)) => {
            exec.call = Some(Call::Preempted(call));
            Stop::Preempted
        }
        Ok(ResumableCall::HostTrap(call)) => match live.store.data_mut().request.take() {
            Some((number, args, results_at)) => {
                exec.call = Some(Call::Syscall(call, results_at));
                Stop::Syscall { number, args }
            }
            None => fault(fault::OTHER, call.host_error().to_string()),
        },
        Err(error) => {
            let kind = match error.as_trap_code() {
                Some(TrapCode::MemoryOutOfBounds | TrapCode::TableOutOfBounds) => fault::DATA_ABORT,
                Some(TrapCode::UnreachableCodeReached) => fault::UNDEFINED_INSTRUCTION,
                Some(TrapCode::IndirectCallToNull | TrapCode::BadSignature) => {
                    fault::INSTRUCTION_ABORT
                }
                _ => fault::OTHER,
            };
            fault(kind, format!("trap: {error}"))
        }
    };
    (stop, used)
}

/// Starts a thread: `_start` or a function of the table, with its argument,
/// on its own stack.
fn begin(live: &mut Live, start: &Start) -> Result<ResumableCall, wasmi::Error> {
    let func = if start.entry == 0 {
        live.start
    } else {
        let entry = live
            .table
            .and_then(|t| t.get(&live.store, start.entry))
            .and_then(|r| match r {
                Ref::Func(f) => f.val().copied(),
                _ => None,
            })
            .ok_or_else(|| wasmi::Error::from(TrapCode::IndirectCallToNull))?;
        let ty = entry.ty(&live.store);
        if ty.params() != [wasmi::ValType::I64] || !ty.results().is_empty() {
            return Err(wasmi::Error::from(TrapCode::BadSignature));
        }
        entry
    };
    if start.stack != 0 {
        if let Some(global) = live.stack_pointer {
            global.set(&mut live.store, Val::I32((start.stack & !15) as u32 as i32))?;
        }
    }
    func.call_resumable(&mut live.store, &[Val::I64(start.arg as i64)], &mut [])
}

/// The module file's bytes: the pages mapped at the module window, up to
/// the end of its last section (the pages are zero-padded).
fn module_bytes(vm: &Vm) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut va = layout::MODULE_WINDOW;
    while let Some(&(pa, _)) = vm.pages.get(&va) {
        // SAFETY: `pa` is a whole frame of the kernel's memory.
        let page = unsafe { core::slice::from_raw_parts(pa as usize as *const u8, 4096) };
        bytes.extend_from_slice(page);
        va += 4096;
    }
    if bytes.is_empty() {
        return Err("no module mapped at the module window".into());
    }
    let end = module_end(&bytes).ok_or("malformed module: bad section layout")?;
    bytes.truncate(end);
    Ok(bytes)
}

/// Walks the section headers from the 8-byte preamble; the end is where the
/// bytes left are all zero padding (a section with id 0 and size 0 is not a
/// valid custom section, so padding is never mistaken for one).
fn module_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 8usize;
    while at < bytes.len() {
        if bytes[at..].iter().all(|&b| b == 0) {
            return Some(at);
        }
        let mut size = 0u64;
        let mut shift = 0;
        let mut pos = at + 1;
        loop {
            let byte = *bytes.get(pos)?;
            pos += 1;
            size |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
        at = pos.checked_add(usize::try_from(size).ok()?)?;
    }
    (at == bytes.len()).then_some(at)
}

/// Compiles the module and instantiates it with the kernel's imports only.
fn instantiate(engine: &wasmi::Engine, vm: &mut Vm) -> Result<(), String> {
    let bytes = module_bytes(vm)?;
    let module = Module::new(engine, &bytes[..]).map_err(|e| format!("malformed module: {e}"))?;
    let mut store = Store::new(
        engine,
        HostState {
            tp: 0,
            request: None,
            terminal: vm.terminal,
            limits: wasmi::StoreLimitsBuilder::new()
                .memory_size(layout::LINEAR_TOP as usize)
                .table_elements(MAX_TABLE_ELEMENTS)
                .instances(1)
                .build(),
        },
    );
    store.limiter(|state| &mut state.limits);
    let mut linker = <Linker<HostState>>::new(engine);
    define_imports(&mut linker).map_err(|e| format!("imports: {e}"))?;
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| format!("module refused: {e}"))?;
    let memory = instance
        .get_memory(&store, "memory")
        .ok_or("module refused: it exports no memory")?;
    if memory.data(&store).len() as u64 > layout::MODULE_STATIC_TOP {
        return Err(format!(
            "module refused: its memory ({} bytes) passes {:#x}",
            memory.data(&store).len(),
            layout::MODULE_STATIC_TOP
        ));
    }
    let start = instance
        .get_func(&store, "_start")
        .ok_or("module refused: no _start export")?;
    let ty = start.ty(&store);
    if ty.params() != [wasmi::ValType::I64] || !ty.results().is_empty() {
        return Err("module refused: _start is not fn(i64)".into());
    }
    let stack_pointer = match instance.get_export(&store, "__stack_pointer") {
        Some(Extern::Global(g)) => Some(g),
        _ => None,
    };
    let table = instance.get_table(&store, "__indirect_function_table");
    vm.live = Some(Live {
        store,
        memory,
        stack_pointer,
        table,
        start,
    });
    vm.load_all();
    Ok(())
}

/// Most function-table entries a module may have.
const MAX_TABLE_ELEMENTS: usize = 1 << 16;

type HostResult<T> = Result<T, wasmi::Error>;

fn caller_memory(caller: &Caller<'_, HostState>) -> Option<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    }
}

fn define_imports(linker: &mut Linker<HostState>) -> Result<(), wasmi::Error> {
    linker.func_wrap(
        "zos",
        "zos_syscall",
        |mut caller: Caller<'_, HostState>,
         number: i64,
         a0: i64,
         a1: i64,
         a2: i64,
         a3: i64,
         a4: i64,
         a5: i64,
         results: i32|
         -> HostResult<()> {
            let args = [a0, a1, a2, a3, a4, a5].map(|a| a as u64);
            caller.data_mut().request = Some((number as u64, args, results as u32));
            Err(wasmi::Error::new("syscall"))
        },
    )?;
    linker.func_wrap(
        "zos",
        "zos_thread_pointer",
        |caller: Caller<'_, HostState>| -> i64 { caller.data().tp as i64 },
    )?;
    linker.func_wrap(
        "zos",
        "zos_set_thread_pointer",
        |mut caller: Caller<'_, HostState>, value: i64| {
            caller.data_mut().tp = value as u64;
        },
    )?;
    linker.func_wrap(
        "zos",
        "zos_terminal_write",
        |caller: Caller<'_, HostState>, ptr: i32, len: i32| -> i32 {
            if !caller.data().terminal {
                return -1;
            }
            let Some(memory) = caller_memory(&caller) else {
                return -1;
            };
            let data = memory.data(&caller);
            match data
                .get(ptr as u32 as usize..(ptr as u32 as usize).saturating_add(len as u32 as usize))
            {
                Some(bytes) => {
                    crate::host::console_write(bytes);
                    len
                }
                None => -1,
            }
        },
    )?;
    linker.func_wrap(
        "zos",
        "zos_terminal_read",
        |mut caller: Caller<'_, HostState>, ptr: i32, capacity: i32| -> i32 {
            if !caller.data().terminal {
                return -1;
            }
            let Some(memory) = caller_memory(&caller) else {
                return -1;
            };
            let mut chunk = alloc::vec![0u8; (capacity.max(0) as usize).min(4096)];
            let count = crate::run::take_input(&mut chunk);
            match memory.write(&mut caller, ptr as u32 as usize, &chunk[..count]) {
                Ok(()) => count as i32,
                Err(_) => -1,
            }
        },
    )?;
    Ok(())
}
