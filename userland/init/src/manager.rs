//! The process manager and service supervisor.
//!
//! One thread serves init's endpoint; a second thread (the reaper) waits on the
//! notification every child's exit signals and tells the first by calling the
//! endpoint with a badge of its own. Processes get a capability to the endpoint
//! badged with their pid; pipe ends are badged references (see `pipes`).
//!
//! Credentials: every process has a credential set (numbered in a
//! `CredentialTable`), root for services, inherited from the parent on spawn,
//! changed only by `SetCredentials` arriving on the credential authority
//! capability (the "credentials" grant, held by the identity service). A lookup
//! of a service with `client_badges` hands out a capability badged with the
//! caller's pid and credential number, so that service learns who calls.

use crate::boot::{BootInfo, Device};
use crate::clock::Clock;
use crate::pipes::{self, Answer, Pipes};
use crate::start_pages::StartPages;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use libzos::abi::{bootinfo, map_flags, rights};
use libzos::ipc::{self, Received, Server};
use libzos::loader::{self, SpawnOptions};
use libzos::{dprintln, sys};
use zos_init_core::credentials::{self, CredentialTable};
use zos_init_core::restart::{CrashHistory, Decision};
use zos_init_core::services::{self, Service};
use zos_proto::errno::*;
use zos_proto::io::IoRequest;
use zos_proto::proc::{
    self, signal, Credentials, ProcInfo, ProcRequest, ProcResponse, ServiceInfo, SystemInfo,
    ARG_MAX,
};
use zos_proto::start::{self, Grant, StartInfo};

/// Badge of the reaper thread's capability.
const REAPER_BADGE: u64 = 0xFFFF_FFFF_0000_0001;
/// Badge of the alarm thread's capability (delayed service restarts).
const ALARM_BADGE: u64 = 0xFFFF_FFFF_0000_0002;
/// Badge of the credential authority capability ("credentials" grant): the
/// only one on which `SetCredentials` is honoured.
const CREDENTIAL_AUTHORITY_BADGE: u64 = 0xFFFF_FFFF_0000_0003;

/// When the alarm thread should next call init (0: nothing pending).
static ALARM_DEADLINE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// Quota of each program init runs itself (`init.run=`); services set theirs
/// with `quota_mib`. A quota is a ceiling on what the process (and anything it
/// creates) may use, charged as it is used, not a reservation: giving many
/// programs a generous ceiling costs nothing until they use it.
const PROGRAM_QUOTA: u64 = 48 << 20;
/// A program started through `Spawn` may use up to half of what init has left.
const SPAWN_SHARE: u64 = 2;
/// Least a program gets.
const MIN_QUOTA: u64 = 2 << 20;
/// One process slot per this much of init's boot quota (64 to 4,096 slots).
const MEMORY_PER_PROCESS: u64 = 192 << 10;
/// Slots and memory kept for foreground commands (`ps`, `kill`, …): a
/// background spawn fails with EAGAIN once only these are left.
const FOREGROUND_SLOTS: usize = 16;
/// Memory kept for foreground commands, as a share of init's boot quota.
const FOREGROUND_SHARE: u64 = 16;
/// Where a child's descriptors go in its capability table.
const FD_SLOT_BASE: u64 = 16;
/// Scratch address for writing a child's start-up page.
const START_SCRATCH: u64 = libzos::abi::layout::START_SCRATCH;
const SERVICES_PATH: &str = "/etc/init/services.toml";

struct Proc {
    pid: u32,
    ppid: u32,
    pgid: u32,
    /// Session id: the leading login's pid, inherited at spawn (0: none).
    sid: u32,
    name: String,
    process: u64,
    /// Wait status once ended (a zombie until waited for).
    status: Option<i32>,
    /// The signal init killed it with, if any.
    signal: Option<u32>,
    service: Option<usize>,
    /// Signals the process ignores and catches.
    ignored: u64,
    caught: u64,
    /// Where caught signals are delivered (a notification in init's table).
    signal_notification: Option<u64>,
    /// Number of its credential set in `Manager::credentials`.
    credentials: u16,
    /// Stopped by SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU until SIGCONT.
    stopped: bool,
    /// The CPUs its threads may run on, as last set through `Affinity`
    /// (0: never set, every CPU).
    cpus: u64,
    /// A stop or continuation its parent has not been told of yet (a wait
    /// status for `Wait` with `report`).
    unreported: Option<i32>,
    /// The boot-archive program it runs, whose read-only segments are in
    /// `Manager::segments` (a fork child shares them); `None` for a staged
    /// image or a service.
    image: Option<&'static [u8]>,
    /// The badge its faults reach init with (0: none, the kernel ends it).
    fault_badge: u64,
    /// Its latest fault held for its handler (`FaultResume`); boxed, as
    /// few processes ever have one.
    held_fault: Option<Box<HeldFault>>,
    /// The bit its end sets in init's exit notification: a reap asks only
    /// the processes whose bit woke it (all bits: always asked).
    exit_bit: u64,
    /// The page of `Manager::start_pages` it maps, given back at its end.
    start_page: Option<usize>,
}

/// A fault of a program that catches its signal, held by init: the
/// faulting thread waits on `reply` until the program's signal thread
/// has stopped it and asks for the fault (docs/posix.md, "Faults").
struct HeldFault {
    /// The faulting thread's reply right, until `FaultResume` uses it.
    reply: Option<u64>,
    signal: u32,
    code: u32,
    address: u64,
}

/// Badges of fault endpoints (capabilities to init's endpoint the kernel
/// sends faults on): this tag in the upper half, a number below.
const FAULT_TAG: u64 = 0x4641_554C << 32;

fn is_fault_badge(badge: u64) -> bool {
    badge & 0xFFFF_FFFF_0000_0000 == FAULT_TAG
}

/// How init reads the syndrome word of a fault message.
#[cfg(target_arch = "x86_64")]
const MACHINE: zos_init_core::fault::Machine = zos_init_core::fault::Machine::X86_64;
#[cfg(not(target_arch = "x86_64"))]
const MACHINE: zos_init_core::fault::Machine = zos_init_core::fault::Machine::Aarch64;

impl Proc {
    /// A new process record: `family` is its parent's pid, its process group
    /// and its session; no signal set-up, no image, running.
    fn new(pid: u32, family: [u32; 3], name: String, process: u64, credentials: u16) -> Self {
        let [ppid, pgid, sid] = family;
        Self {
            pid,
            ppid,
            pgid,
            sid,
            name,
            process,
            status: None,
            signal: None,
            service: None,
            ignored: 0,
            caught: 0,
            signal_notification: None,
            credentials,
            stopped: false,
            cpus: 0,
            unreported: None,
            image: None,
            fault_badge: 0,
            held_fault: None,
            exit_bit: u64::MAX,
            start_page: None,
        }
    }

    /// Lets go of the capabilities init holds for a process it forgets (a
    /// reaped zombie): the process and its signal notification. A
    /// notification left behind took one slot of init's table per process
    /// that ever caught a signal, until spawns failed (EBADF, EIO) once the
    /// table was full: BusyBox's hush_test after about 4,000 such shells.
    fn release(self) {
        let _ = sys::cap_delete(self.process);
        if let Some(reply) = self.held_fault.and_then(|held| held.reply) {
            let _ = sys::cap_delete(reply);
        }
        if let Some(notification) = self.signal_notification {
            let _ = sys::cap_delete(notification);
        }
    }
}

struct ServiceState {
    spec: Service,
    pid: Option<u32>,
    restarts: u32,
    /// Failures within the restart window (see `zos_init_core::restart`).
    history: CrashHistory,
    /// A restart waiting out its back-off, due at this uptime.
    restart_due: Option<u64>,
    state: &'static str,
    endpoint: Option<u64>,
    /// Running and, for `ready_notify` services, reported ready.
    ready: bool,
}

struct Waiter {
    parent: u32,
    pid: i32,
    reply: u64,
    /// `ProcRequest::Wait`'s report flags.
    report: u32,
}

pub struct Manager {
    boot: BootInfo,
    /// The boot archive's entries sorted by name: a spawn finds its program
    /// by binary search, not by parsing every cpio header before it (a scan
    /// of the test archive's ~2,000 entries cost ~330,000 instructions).
    archive_index: Vec<zos_boot::initramfs::Entry<'static>>,
    server: Server,
    exited: u64,
    /// Wakes the alarm thread when a delayed restart is scheduled.
    alarm_wake: u64,
    /// The CPUs init's own threads may run on, as root set them through
    /// `Affinity` for pid 1 (0: every online CPU).
    own_cpus: u64,
    procs: BTreeMap<u32, Proc>,
    waiters: Vec<Waiter>,
    pipes: Pipes,
    services: Vec<ServiceState>,
    /// Program text and read-only data shared between processes.
    segments: loader::SegmentCache,
    /// Start-up pages kept mapped, one per live spawned process.
    start_pages: StartPages,
    /// Spawn requests staged through shared memory, by caller pid.
    staged: BTreeMap<u32, Vec<u8>>,
    /// Programs read from the VFS for a caller's next spawn (`StageImage`):
    /// the Memory object and its length in bytes.
    staged_images: BTreeMap<u32, (u64, u64)>,
    /// Descriptors for a caller's next spawn beyond its message's four
    /// (`StageFds`): descriptor and capability.
    staged_fds: BTreeMap<u32, Vec<(u32, u64)>>,
    /// Turns of [`Manager::next_exit_bit`].
    exit_bit_turn: u32,
    /// The staged program the spawn in progress runs (mapped at IMAGE_SCRATCH).
    next_image: Option<&'static [u8]>,
    /// The name of the script a spawn in progress runs (its interpreter is
    /// the program started): the process is named after the script, as
    /// Linux names it after the file executed (`pidof SCRIPT` finds it).
    script_name: Option<String>,
    /// Whether the spawn in progress takes its terminal at start
    /// (`Spawn::take_terminal`).
    next_takes_terminal: bool,
    /// The process the spawn in progress replaces (`Spawn::exec`): the
    /// program runs under its pid.
    exec_as: Option<u32>,
    credentials: CredentialTable,
    /// The credential authority capability, copied to services granted it.
    credential_authority: u64,
    clock: Clock,
    /// Draws each process's random layout (ASLR) and start-page random bytes:
    /// keyed from the platform's seed (device tree `rng-seed`) and the clock.
    random: zos_random_core::ChaChaRng,
    /// The number in the next fault badge init hands out.
    next_fault: u32,
}

fn encode(response: &ProcResponse) -> Vec<u8> {
    ipc::encode_vec(response).unwrap_or_default()
}

fn err(errno: i32) -> Answer {
    Answer::Now(encode(&ProcResponse::Err(errno)), Vec::new())
}

fn ok() -> Answer {
    Answer::Now(encode(&ProcResponse::Ok), Vec::new())
}

/// Answers every call on the endpoint of a service init gave up on with an
/// empty reply, which no client decodes as an answer (it reports `EIO`), so
/// a call to a dead service ends with an error instead of waiting for ever.
fn tombstone(endpoint: u64) {
    let server = ipc::Server::new(endpoint);
    loop {
        match server.recv() {
            Ok(request) => {
                for &cap in &request.caps {
                    let _ = sys::cap_delete(cap);
                }
                // A no-senders notice has no caller: the reply fails, harmlessly.
                let _ = server.reply_raw(&[], &[]);
            }
            Err(_) => sys::sleep_until(sys::clock_ns() + 100_000_000),
        }
    }
}

/// A service that will not run again: nothing serves its endpoint any
/// more, but its clients keep capabilities to it, and calls already queued
/// there would wait for ever, so a [`tombstone`] thread answers each with an
/// error. Lookups of the service fail from now on.
fn retire_endpoint(service: &mut ServiceState, name: &str) {
    if let Some(endpoint) = service.endpoint.take() {
        if libzos::thread::spawn(tombstone, endpoint, 150).is_err() {
            dprintln!("init: no thread to answer '{name}''s callers");
        }
    }
}

fn reaper(endpoint: u64) {
    let exited = endpoint >> 32;
    let endpoint = endpoint & 0xFFFF_FFFF;
    loop {
        match sys::wait(exited) {
            Ok(bits) => {
                EXITED_BITS.fetch_or(bits, core::sync::atomic::Ordering::AcqRel);
            }
            Err(_) => {
                sys::sleep_until(sys::clock_ns() + 100_000_000);
                continue;
            }
        }
        let _ = ipc::call(endpoint, &ProcRequest::Ids, &[]);
    }
}

/// Exit-notification bits the reaper thread saw and the next reap has not
/// looked at yet.
static EXITED_BITS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Sleeps until [`ALARM_DEADLINE`], then calls init so it starts the services
/// whose back-off has passed. `arg`: wake-up notification << 32 | endpoint.
fn alarm(arg: u64) {
    let wake = arg >> 32;
    let endpoint = arg & 0xFFFF_FFFF;
    loop {
        let deadline = ALARM_DEADLINE.load(core::sync::atomic::Ordering::Acquire);
        if deadline == 0 {
            let _ = sys::wait(wake);
            continue;
        }
        if sys::clock_ns() < deadline {
            sys::sleep_until(deadline);
            continue;
        }
        ALARM_DEADLINE.store(0, core::sync::atomic::Ordering::Release);
        let _ = ipc::call(endpoint, &ProcRequest::Ids, &[]);
    }
}

impl Manager {
    /// Whether one more program may start: a process limit derived from memory,
    /// with a reserve of slots and memory that only foreground commands may
    /// use, so a runaway background loop leaves `ps`, `kill` and the shell
    /// working and gets EAGAIN instead of exhausting memory.
    /// Returns the memory quota init has left (one `SystemInfo` a spawn).
    fn admit(&self, foreground: bool) -> Result<u64, i32> {
        let limit = (self.boot.quota / MEMORY_PER_PROCESS).clamp(64, 4096) as usize;
        let live = self.procs.values().filter(|p| p.status.is_none()).count();
        let reserve_slots = if foreground { 0 } else { FOREGROUND_SLOTS };
        if live + reserve_slots >= limit {
            return Err(EAGAIN);
        }
        // Background work stops while a foreground command would still fit.
        let foreground_minimum = MIN_QUOTA / 4;
        let reserve_memory = if foreground {
            foreground_minimum
        } else {
            foreground_minimum + self.boot.quota / FOREGROUND_SHARE
        };
        let left = sys::system_info()[2];
        if left < reserve_memory {
            return Err(if foreground { ENOMEM } else { EAGAIN });
        }
        Ok(left)
    }

    pub fn new(boot: BootInfo) -> Result<Manager, &'static str> {
        let endpoint = sys::endpoint_create().map_err(|_| "no endpoint")?;
        let exited = sys::notification_create().map_err(|_| "no notification")?;
        let reaper_cap = sys::cap_mint(endpoint, sys::NONE, rights::WRITE, REAPER_BADGE)
            .map_err(|_| "no reaper capability")?;
        libzos::thread::spawn(reaper, reaper_cap | (exited << 32), 150)
            .map_err(|_| "no reaper thread")?;
        let alarm_wake = sys::notification_create().map_err(|_| "no notification")?;
        let alarm_cap = sys::cap_mint(endpoint, sys::NONE, rights::WRITE, ALARM_BADGE)
            .map_err(|_| "no alarm capability")?;
        libzos::thread::spawn(alarm, alarm_cap | (alarm_wake << 32), 150)
            .map_err(|_| "no alarm thread")?;
        let credential_authority = sys::cap_mint(
            endpoint,
            sys::NONE,
            rights::WRITE | rights::GRANT,
            CREDENTIAL_AUTHORITY_BADGE,
        )
        .map_err(|_| "no credential authority capability")?;
        let rtc = boot
            .devices
            .iter()
            .find(|d| d.name == "pl031" && d.kind == 5)
            .map(|d| (d.slot, d.base));
        let clock = Clock::new(rtc);
        #[cfg(target_arch = "x86_64")]
        let clock = crate::cmos::clock(&boot).unwrap_or(clock);
        if !clock.has_hardware() {
            dprintln!("init: no real-time clock; the date starts at 1970 until set (date -s)");
        }
        let mut random = zos_random_core::ChaChaRng::from_seed([0; 32]);
        random.absorb(&boot.rng_seed);
        random.absorb(&sys::clock_ns().to_le_bytes());
        let mut archive_index: Vec<_> = boot.initramfs.entries().map_while(Result::ok).collect();
        archive_index.sort_by(|a, b| a.name.cmp(b.name));
        Ok(Manager {
            random,
            next_fault: 0,
            archive_index,
            boot,
            server: Server::new(endpoint),
            exited,
            alarm_wake,
            own_cpus: 0,
            procs: BTreeMap::new(),
            waiters: Vec::new(),
            pipes: Pipes::new(endpoint),
            services: Vec::new(),
            segments: loader::SegmentCache::new(),
            start_pages: StartPages::default(),
            staged: BTreeMap::new(),
            staged_images: BTreeMap::new(),
            staged_fds: BTreeMap::new(),
            exit_bit_turn: 0,
            next_image: None,
            next_takes_terminal: false,
            exec_as: None,
            script_name: None,
            credentials: CredentialTable::new(),
            credential_authority,
            clock,
        })
    }

    /// Starts the test program or the services.
    pub fn boot(&mut self) {
        let run = self.boot.arg("init.run").map(String::from);
        self.load_services();
        // With `init.run`, only daemons start (not services bound to the
        // terminal, like the shell); then the program runs.
        for index in 0..self.services.len() {
            let spec = &self.services[index].spec;
            if !spec.enabled(&self.boot.cmdline) {
                self.services[index].state = "disabled";
                continue;
            }
            if run.is_none() || spec.stdio.is_none() {
                self.start_service(index);
            }
        }
        if let Some(name) = run {
            self.run_program(&name);
            return;
        }
        if self.boot.flag("poweroff") {
            dprintln!("init: boot complete; powering off (boot argument poweroff)");
            let _ = sys::power_off(bootinfo::SLOT_SYSTEM);
        }
        if self.services.is_empty() {
            dprintln!(
                "init: no services, so no console and no shell: the machine is idle \
                 (Ctrl-A X leaves QEMU)"
            );
        }
    }

    /// Reads and checks the service table.
    fn load_services(&mut self) {
        let table_path = self
            .boot
            .arg("init.services")
            .unwrap_or(SERVICES_PATH)
            .to_string();
        let table = match self.boot.initramfs.find(&table_path) {
            Ok(Some(entry)) => core::str::from_utf8(entry.data).unwrap_or("").to_string(),
            _ => {
                dprintln!("init: {table_path} not found; no services started");
                return;
            }
        };
        let specs = match services::parse(&table) {
            Ok(specs) => specs,
            Err(e) => {
                dprintln!("init: {table_path}: {e}; no services started");
                return;
            }
        };
        for spec in specs {
            self.services.push(ServiceState {
                spec,
                pid: None,
                restarts: 0,
                history: CrashHistory::default(),
                restart_due: None,
                state: "stopped",
                endpoint: None,
                ready: false,
            });
        }
    }

    /// Starts `/sbin/NAME` for `init.run`.
    fn run_program(&mut self, name: &str) {
        let arg = self
            .boot
            .arg("init.arg")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let path = format!("/sbin/{name}");
        let grants = self.device_grants(&["initramfs".to_string()]);
        let env = ["PATH=/bin:/sbin", "HOME=/"];
        match self.spawn(
            1,
            &path,
            &[name],
            &env,
            "/",
            Vec::new(),
            0,
            grants,
            arg,
            PROGRAM_QUOTA.min(sys::system_info()[2] / 2),
        ) {
            Ok(pid) => dprintln!("init: started {path} as pid {pid}"),
            Err(e) => {
                dprintln!("init: {path}: cannot start: {}", describe(e));
                self.finish_run(name, 127);
            }
        }
    }

    fn finish_run(&mut self, name: &str, code: i32) {
        dprintln!("init: {name} exited with status {code}");
        if self.boot.flag("poweroff") {
            dprintln!("init: powering off");
            let _ = sys::power_off(bootinfo::SLOT_SYSTEM);
        }
        dprintln!(
            "init: {name} has finished; the machine stays up with no shell \
             (boot with `poweroff` to power off afterwards; Ctrl-A X leaves QEMU)"
        );
    }

    /// Device capabilities by name: "uart"/"uart-irq" (the PL011 on AArch64,
    /// the 16550 on COM1 on x86_64), any device
    /// name from the boot information (plus "-irq"), "initramfs", or "log"
    /// (the system capability: the kernel log and power control).
    fn device_grants(&self, names: &[String]) -> Vec<(String, u64, u64, u64, u32)> {
        let mut grants = Vec::new();
        for name in names {
            let (device, want_irq) = match name.strip_suffix("-irq") {
                Some(base) => (base, true),
                None => (name.as_str(), false),
            };
            if device == "initramfs" {
                grants.push((name.clone(), bootinfo::SLOT_INITRAMFS, 0, 0, 0));
                continue;
            }
            // Not a capability: the seed travels in the environment.
            if device == "rng-seed" {
                continue;
            }
            // The system capability, for the console to take over the kernel log.
            if device == "log" {
                grants.push((name.clone(), bootinfo::SLOT_SYSTEM, 0, 0, 0));
                continue;
            }
            // The Audit capability (the kernel's Axiom rings), for axiomd.
            if device == "axiom" {
                grants.push((name.clone(), bootinfo::SLOT_AUDIT, 0, 0, 0));
                continue;
            }
            // A service's endpoint badged as an authority (`badge::AUTHORITY`,
            // or `AXIOM_AUTHORITY` for "axiom-authority:"): that service
            // honours requests only its holders may make (the keystore's
            // "authority:devmgr" opens its partition, axiomd's
            // "axiom-authority:devmgr" its log). Only while the service
            // runs, so nobody waits on an endpoint nobody serves.
            let authority = [
                ("authority:", zos_proto::badge::AUTHORITY),
                ("axiom-authority:", zos_proto::badge::AXIOM_AUTHORITY),
            ];
            let wanted = authority
                .iter()
                .find_map(|(prefix, badge)| Some((device.strip_prefix(prefix)?, *badge)));
            if let Some((service, badge)) = wanted {
                let endpoint = self
                    .services
                    .iter()
                    .find(|s| s.spec.name == service && s.pid.is_some())
                    .and_then(|s| s.endpoint);
                let minted = endpoint.and_then(|e| {
                    sys::cap_mint(e, sys::NONE, rights::WRITE | rights::GRANT, badge).ok()
                });
                match minted {
                    Some(cap) => grants.push((name.clone(), cap, 0, 0, 0)),
                    None => dprintln!("init: '{name}' not granted: '{service}' is not running"),
                }
                continue;
            }
            // The right to set other processes' credentials (the identity service).
            if device == "credentials" {
                grants.push((name.clone(), self.credential_authority, 0, 0, 0));
                continue;
            }
            let kind = if want_irq { 6 } else { 5 };
            let matches = |d: &&Device| match device {
                "uart" => matches!(d.name.as_str(), "pl011" | "ns16550" | "wasm-terminal"),
                _ => d.name == device,
            };
            // A name several devices share (`virtio-mmio`) grants each of them.
            let before = grants.len();
            for d in self
                .boot
                .devices
                .iter()
                .filter(|d| d.kind == kind)
                .filter(matches)
            {
                grants.push((name.clone(), d.slot, d.base, d.size, d.irq));
            }
            // Optional hardware: a machine without virtio-mmio or PCI is fine.
            let optional = device == "virtio-mmio" || device.starts_with("pci-");
            if grants.len() == before && !optional {
                dprintln!("init: no device capability '{name}'");
            }
        }
        grants
    }

    fn start_service(&mut self, index: usize) {
        let Some(service) = self.services.get(index) else {
            return;
        };
        let spec = service.spec.clone();
        for dependency in &spec.depends_on {
            let Some(dep) = self.services.iter().find(|s| &s.spec.name == dependency) else {
                return;
            };
            // A service that did its work and ended cleanly (a one-shot such
            // as the boot-time `mount -a`, or devmgr with no devices) is done;
            // one whose program this build lacks is absent.
            if dep.pid.is_none() && matches!(dep.state, "done" | "absent") {
                continue;
            }
            // Started and not ready yet, or itself waiting for another:
            // this one starts when that is ready (or done).
            if (dep.pid.is_some() && !dep.ready) || (dep.pid.is_none() && dep.state == "waiting") {
                // Started, not ready yet: this one starts when it reports ready.
                self.services[index].state = "waiting";
                return;
            }
            if dep.pid.is_none() {
                dprintln!(
                    "init: service '{}' not started: '{dependency}' is not running",
                    spec.name
                );
                self.services[index].state = "blocked";
                return;
            }
        }
        let mut grants = self.device_grants(&spec.grants);
        if spec.provides {
            let endpoint = match self.services[index].endpoint {
                Some(endpoint) => endpoint,
                None => match sys::endpoint_create() {
                    Ok(endpoint) => {
                        self.services[index].endpoint = Some(endpoint);
                        endpoint
                    }
                    Err(_) => return,
                },
            };
            grants.push(("endpoint".to_string(), endpoint, 0, 0, 0));
        }
        let mut fds = Vec::new();
        if let Some(stdio) = &spec.stdio {
            let provider = self
                .services
                .iter()
                .find(|s| &s.spec.name == stdio)
                .and_then(|s| s.endpoint);
            let Some(provider) = provider else {
                dprintln!("init: service '{}': no stdio provider '{stdio}'", spec.name);
                return;
            };
            // One open file description for 0, 1 and 2, as a getty's
            // `dup`s make on Linux (O_NONBLOCK on one is on all three).
            match ipc::call(provider, &IoRequest::Clone, &[]) {
                Ok(reply) if reply.caps.len() == 1 => {
                    fds.extend((0..3).map(|fd| (fd, reply.caps[0])));
                }
                _ => dprintln!("init: service '{}': no handle from '{stdio}'", spec.name),
            }
        }
        let restarts = format!("ZOS_RESTARTS={}", self.services[index].restarts);
        // Services see the kernel command line for their own `name.key=value`
        // settings (e.g. the VFS's `vfs.root_mib`).
        let cmdline = format!("ZOS_CMDLINE={}", self.boot.cmdline);
        // The platform's random seed only to services granted "rng-seed".
        let seed = if self.services[index]
            .spec
            .grants
            .iter()
            .any(|g| g == "rng-seed")
        {
            let hex: String = self
                .boot
                .rng_seed
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("ZOS_RNG_SEED={hex}")
        } else {
            String::new()
        };
        let env_all = [
            "PATH=/bin:/sbin",
            "HOME=/",
            restarts.as_str(),
            cmdline.as_str(),
            seed.as_str(),
        ];
        let env: Vec<&str> = env_all.iter().copied().filter(|e| !e.is_empty()).collect();
        let mut argv: Vec<&str> = alloc::vec![spec.name.as_str()];
        argv.extend(spec.args.iter().map(String::as_str));
        // What the table asks for, but never more than half of what init has
        // left, so small machines still boot every service.
        let quota = (spec.quota_mib << 20).min(sys::system_info()[2] / 2);
        match self.spawn(
            1, &spec.path, &argv, &env, "/", fds, 0, grants, spec.arg, quota,
        ) {
            Ok(pid) => {
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.service = Some(index);
                }
                let s = &mut self.services[index];
                s.pid = Some(pid);
                s.state = "running";
                s.ready = !s.spec.ready_notify;
                dprintln!("init: started service '{}' as pid {pid}", spec.name);
            }
            // A build without the program (the browser page has no drivers):
            // the service is absent, and depending on it is no obstacle.
            Err(e) if e == ENOENT => {
                self.services[index].state = "absent";
                dprintln!(
                    "init: service '{}': {} is not in this build; skipped",
                    spec.name,
                    spec.path
                );
            }
            Err(e) => {
                self.services[index].state = "failed";
                dprintln!(
                    "init: service '{}' ({}) failed to start: {}",
                    spec.name,
                    spec.path,
                    describe(e)
                );
            }
        }
    }

    /// Finds a program in the initramfs, following symbolic links.
    fn find_program(&self, path: &str) -> Result<&'static [u8], i32> {
        let mut current = String::from(path);
        for _ in 0..8 {
            let wanted = zos_boot::initramfs::relative(&current);
            let found = self.archive_index.binary_search_by(|e| e.name.cmp(wanted));
            // The first entry of that name, as `Archive::find` gives.
            let Some(entry) = found.ok().and_then(|at| {
                let before = self.archive_index.get(..at).unwrap_or(&[]);
                let first = before
                    .iter()
                    .rposition(|e| e.name != wanted)
                    .map_or(0, |last_other| last_other + 1);
                self.archive_index.get(first).copied()
            }) else {
                return Err(ENOENT);
            };
            match entry.mode & 0o170000 {
                0o120000 => {
                    let target = core::str::from_utf8(entry.data).map_err(|_| ENOENT)?;
                    current = if target.starts_with('/') {
                        target.to_string()
                    } else {
                        let dir = current.rsplit_once('/').map_or("", |(d, _)| d);
                        format!("{dir}/{target}")
                    };
                }
                0o100000 => return Ok(entry.data),
                0o040000 => return Err(EACCES),
                _ => return Err(EACCES),
            }
        }
        Err(ELOOP)
    }

    /// Starts a program as a child of `parent`. `fds` are (descriptor, capability
    /// slot in init's table); they move to the child.
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &mut self,
        parent: u32,
        path: &str,
        argv: &[&str],
        env: &[&str],
        cwd: &str,
        fds: Vec<(u32, u64)>,
        pgid: u32,
        grants: Vec<(String, u64, u64, u64, u32)>,
        arg: u64,
        quota: u64,
    ) -> Result<u32, i32> {
        // Set by the call that found this program to be a script's interpreter.
        let script_name = self.script_name.take();
        // A program the caller staged from the VFS, else the archive's.
        let staged = self.next_image.take();
        let image = match staged {
            Some(image) => image,
            None => self.find_program(path)?,
        };
        if let Some((interpreter, argument)) = zos_init_core::shebang::parse(image) {
            // One level only: an interpreter that is itself a script is ELOOP.
            let interpreter_image = self.find_program(&interpreter)?;
            if interpreter_image.starts_with(b"#!") {
                return Err(ELOOP);
            }
            let script_argv =
                zos_init_core::shebang::argv(&interpreter, argument.as_deref(), path, argv);
            self.script_name = Some(path.rsplit('/').next().unwrap_or(path).to_string());
            return self.spawn(
                parent,
                &interpreter,
                &script_argv,
                env,
                cwd,
                fds,
                pgid,
                grants,
                arg,
                quota,
            );
        }
        let (fault_endpoint, fault_badge) = self.fault_binding(parent);
        let exit_bit = self.next_exit_bit();
        let options = SpawnOptions {
            quota,
            exit_notification: self.exited,
            exit_bits: exit_bit,
            fault_endpoint,
            fault_badge,
            priority: 100,
            arg,
            stack_top: 0,
            // The heap's first block shares the stack's object (one
            // object made and freed per spawn); so does the start-up page
            // on wasm32 (elsewhere it comes from `start_pages`).
            start_pages: FIRST_HEAP_PAGES + cfg!(target_arch = "wasm32") as u64,
        };
        // ASLR: the stack top from this draw (down by whole pages, then
        // 16-byte steps inside one); the child takes its heap and mmap
        // bases from the same bytes on its start page.
        let mut layout_random = [0u8; start::RANDOM_BYTES];
        self.random.fill(&mut layout_random);
        let options = SpawnOptions {
            stack_top: start::main_stack_top(&layout_random),
            ..options
        };
        // Staged images are not shared: the scratch address is reused.
        let cache = match staged {
            Some(_) => None,
            None => Some(&mut self.segments),
        };
        let child = match loader::spawn_cached(image, &options, cache) {
            Ok(child) => child,
            Err(loader::SpawnError::BadElf(_)) => return Err(ENOEXEC),
            Err(loader::SpawnError::Sys(_, e)) if e.is(sys::SysError::QuotaExceeded) => {
                return Err(ENOMEM)
            }
            Err(_) => return Err(EIO),
        };
        // An exec's program takes the pid of the process it replaces: the
        // kernel's number for it is never seen (docs/posix.md, "execve").
        let replaced = self.exec_as.filter(|old| self.procs.contains_key(old));
        let pid = replaced.unwrap_or(child.pid as u32);
        let ppid = match replaced {
            Some(old) => self.procs.get(&old).map_or(1, |p| p.ppid),
            None => parent,
        };
        let fail = |child: &loader::Child, errno: i32| {
            if let Some((memory, _)) = child.start_memory {
                let _ = sys::cap_delete(memory);
            }
            let _ = sys::process_kill(child.process);
            let _ = sys::cap_delete(child.process);
            let _ = sys::cap_delete(child.thread);
            Err(errno)
        };
        // Fixed slots: itself, its main thread, print-only console, process manager.
        let main_thread = sys::cap_copy(child.thread, child.process, start::slots::MAIN_THREAD);
        if !self.fill_fixed_slots(child.process, pid) || main_thread.is_err() {
            return fail(&child, EIO);
        }
        let mut start_grants = Vec::new();
        for (i, (name, slot, base, size, irq)) in grants.iter().enumerate() {
            let child_slot = start::slots::FIRST_GRANTED + i as u64;
            if sys::cap_copy(*slot, child.process, child_slot).is_err() {
                return fail(&child, EIO);
            }
            start_grants.push(Grant {
                name: name.clone(),
                slot: child_slot,
                base: *base,
                size: *size,
                irq: *irq,
            });
        }
        let mut start_fds: Vec<(u32, u64)> = Vec::new();
        // Descriptors that share one capability (one open file description,
        // as `dup` makes) share one slot of the child's.
        let mut given: Vec<(u64, u64)> = Vec::new();
        for (fd, slot) in &fds {
            if let Some(&(_, child_slot)) = given.iter().find(|(s, _)| s == slot) {
                start_fds.push((*fd, child_slot));
                continue;
            }
            let child_slot = FD_SLOT_BASE + *fd as u64;
            given.push((*slot, child_slot));
            if sys::raw(
                sys::Sys::CapTransfer,
                [*slot, child.process, child_slot, 0, 0, 0],
            )
            .check()
            .is_err()
            {
                return fail(&child, EIO);
            }
            start_fds.push((*fd, child_slot));
        }
        let info = StartInfo {
            pid,
            ppid,
            argv: argv.iter().map(|a| a.to_string()).collect(),
            env: env.iter().map(|e| e.to_string()).collect(),
            cwd: cwd.to_string(),
            fds: start_fds,
            grants: start_grants,
            take_terminal: match (self.next_takes_terminal, pgid) {
                (false, _) => 0,
                (true, 0) => pid,
                (true, group) => group,
            },
        };
        let flags = map_first_heap_block(&child, &layout_random);
        let pool = &mut self.start_pages;
        let start_page = match write_start_page(&child, &info, &layout_random, flags, pool) {
            Ok(page) => page,
            Err(errno) => return fail(&child, errno),
        };
        // Its process ended (or never ran): the page may be reused.
        let give_back = |pool: &mut StartPages| start_page.map(|page| pool.give_back(page));
        if let Some((memory, _)) = child.start_memory {
            let _ = sys::cap_delete(memory);
        }
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        let name = argv
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .unwrap_or(name);
        let name = script_name.unwrap_or(name);
        let image = staged.is_none().then_some(image);
        if replaced.is_some() {
            // The old program ends before the new one runs: nothing of it
            // (a pipe ring's lock under this pid) outlives the switch.
            self.replace_image(pid, child.process, name.clone(), image, fault_badge);
            if let Some(p) = self.procs.get_mut(&pid) {
                // The old program's page, if any, went back in replace_image.
                p.start_page = start_page;
            }
            if let Some(p) = self.procs.get_mut(&pid) {
                p.exit_bit = exit_bit;
            }
        }
        if loader::start(&child).is_err() {
            if replaced.is_some() {
                // The old program is gone already and the table names the
                // new process: the pid ends as killed, so its parent reaps it.
                let _ = sys::process_kill(child.process);
                let _ = sys::cap_delete(child.thread);
                self.ended(pid, proc::signal_status(signal::SIGKILL));
                return Err(EIO);
            }
            let result = fail(&child, EIO);
            give_back(&mut self.start_pages);
            return result;
        }
        let _ = sys::cap_delete(child.thread);
        if replaced.is_some() {
            return Ok(pid);
        }
        let pgid = if pgid == 0 { pid } else { pgid };
        let credentials = self.procs.get(&parent).map_or(0, |p| p.credentials);
        let sid = self.procs.get(&parent).map_or(0, |p| p.sid);
        self.procs.insert(
            pid,
            Proc {
                image,
                fault_badge,
                exit_bit,
                start_page,
                ..Proc::new(pid, [parent, pgid, sid], name, child.process, credentials)
            },
        );
        Ok(pid)
    }

    /// `execve`: process `pid` now runs `process` (started already); the one
    /// it ran before ends without an exit status. Group, session, parent,
    /// children, credentials, CPUs and ignored signals stay; caught ones go
    /// back to their default (POSIX), and a held fault goes with the old
    /// program.
    fn replace_image(
        &mut self,
        pid: u32,
        process: u64,
        name: String,
        image: Option<&'static [u8]>,
        fault_badge: u64,
    ) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let old = Proc {
            process: core::mem::replace(&mut p.process, process),
            signal_notification: p.signal_notification.take(),
            held_fault: p.held_fault.take(),
            ..Proc::new(pid, [0; 3], String::new(), 0, 0)
        };
        p.name = name;
        p.image = image;
        p.fault_badge = fault_badge;
        p.caught = 0;
        p.stopped = false;
        p.signal = None;
        let old_page = p.start_page.take();
        let _ = sys::process_kill(old.process);
        old.release();
        if let Some(page) = old_page {
            self.start_pages.give_back(page);
        }
        self.pipes.process_ended(pid);
    }

    /// Fills a new process's fixed slots: itself, the print-only console,
    /// and the process manager badged with its pid. False if one failed.
    fn fill_fixed_slots(&self, process: u64, pid: u32) -> bool {
        let console = sys::cap_mint(
            bootinfo::SLOT_SYSTEM,
            sys::NONE,
            rights::READ | rights::GRANT,
            0,
        );
        let manager = sys::cap_mint(
            self.server.endpoint,
            sys::NONE,
            rights::WRITE | rights::GRANT,
            pid as u64,
        );
        let transfer = |cap: u64, slot: u64| {
            sys::raw(sys::Sys::CapTransfer, [cap, process, slot, 0, 0, 0])
                .check()
                .map(|_| 0)
        };
        let fixed = [
            sys::cap_copy(process, process, start::slots::SELF),
            console.and_then(|c| transfer(c, start::slots::CONSOLE)),
            manager.and_then(|m| transfer(m, start::slots::PROC)),
        ];
        fixed.iter().all(|r| r.is_ok())
    }

    /// `Fork`: an empty process registered as the caller's child, its
    /// capability for the caller (docs/posix.md, "fork"). The caller fills
    /// and starts it, or kills it; either way it ends as a child of the
    /// caller's that `Wait` reaps. init keeps its own capability, as for a
    /// spawned child (kill, status).
    fn fork(&mut self, parent: u32) -> Answer {
        let Some(p) = self.procs.get(&parent).filter(|p| p.status.is_none()) else {
            return err(ESRCH);
        };
        let (pgid, sid, credentials, ignored, name, image, cpus) = (
            p.pgid,
            p.sid,
            p.credentials,
            p.ignored,
            p.name.clone(),
            p.image,
            p.cpus,
        );
        let left = match self.admit(false) {
            Ok(left) => left,
            Err(errno) => return err(errno),
        };
        let quota = (left / SPAWN_SHARE).max(MIN_QUOTA);
        let (fault_endpoint, fault_badge) = self.fault_binding(parent);
        let exit_bit = self.next_exit_bit();
        let created =
            sys::process_create(quota, self.exited, exit_bit, fault_endpoint, fault_badge);
        let (process, pid) = match created {
            Ok(created) => created,
            Err(e) if e.is(sys::SysError::QuotaExceeded) => return err(ENOMEM),
            Err(_) => return err(EAGAIN),
        };
        let pid = pid as u32;
        let for_parent = match sys::cap_copy(process, sys::SELF, sys::NONE) {
            Ok(cap) if self.fill_fixed_slots(process, pid) => cap,
            result => {
                if let Ok(cap) = result {
                    let _ = sys::cap_delete(cap);
                }
                let _ = sys::process_kill(process);
                let _ = sys::cap_delete(process);
                return err(ENOMEM);
            }
        };
        self.procs.insert(
            pid,
            Proc {
                ignored,
                image,
                // Its thread will be the parent's thread's creation: its CPUs.
                cpus,
                fault_badge,
                exit_bit,
                ..Proc::new(pid, [parent, pgid, sid], name, process, credentials)
            },
        );
        let shared = image.map_or_else(Vec::new, |image| {
            loader::map_cached_segments(image, process, &self.segments)
        });
        Answer::Now(
            encode(&ProcResponse::Forked { pid, shared }),
            alloc::vec![for_parent],
        )
    }

    /// Serves requests forever.
    pub fn serve(&mut self) -> ! {
        let mut next = self.server.recv();
        loop {
            let answer = match &next {
                Ok(message) => self.handle(message),
                Err(_) => Answer::Deferred,
            };
            next = match answer {
                // A reply's capabilities leave init even when the caller is
                // gone (the kernel deletes them): pipe ends close through
                // NO_SENDERS.
                Answer::Now(bytes, caps) => self.server.reply_recv_raw(&bytes, &caps),
                Answer::Deferred => self.server.recv(),
            };
        }
    }

    fn handle(&mut self, message: &Received) -> Answer {
        if is_fault_badge(message.badge) && message.label == libzos::abi::labels::FAULT {
            return self.fault(message);
        }
        if message.badge == REAPER_BADGE {
            self.reap();
            return ok();
        }
        if message.badge == ALARM_BADGE {
            self.start_due_services();
            return ok();
        }
        if pipes::is_pipe_badge(message.badge) && message.label == sys::NO_SENDERS {
            self.pipes.gone(message.badge);
            return Answer::Deferred; // from the kernel: nobody to answer
        }
        if pipes::is_pipe_badge(message.badge) {
            // The pipe server keeps a `Watch`'s notification, drops the rest.
            let request = message.decode::<IoRequest>();
            return self
                .pipes
                .handle(&self.server, message.badge, request, &message.caps);
        }
        if message.badge == CREDENTIAL_AUTHORITY_BADGE {
            for cap in &message.caps {
                let _ = sys::cap_delete(*cap);
            }
            return match message.decode::<ProcRequest>() {
                Some(ProcRequest::SetCredentials {
                    pid,
                    credentials,
                    new_session,
                }) => self.set_credentials(pid, credentials, new_session),
                Some(ProcRequest::EndSession { leader }) => self.end_session(leader),
                Some(_) => err(EINVAL),
                None => err(EINVAL),
            };
        }
        let caller = message.badge as u32;
        let Some(request) = message.decode::<ProcRequest>() else {
            for cap in &message.caps {
                let _ = sys::cap_delete(*cap);
            }
            return err(EINVAL);
        };
        match request {
            spawn @ ProcRequest::Spawn { .. } => self.spawn_request(caller, spawn, &message.caps),
            ProcRequest::Fork => self.fork(caller),
            ProcRequest::FaultResume { deliver } => self.fault_resume(caller, deliver),
            ProcRequest::Affinity { pid, cpus } => self.affinity(caller, pid, cpus),
            ProcRequest::StageSpawn { length } => {
                let staged = match message.caps.first() {
                    Some(&memory) => read_staged(memory, length as usize),
                    None => Err(EINVAL),
                };
                for cap in &message.caps {
                    let _ = sys::cap_delete(*cap);
                }
                match staged {
                    Ok(bytes) => {
                        self.staged.insert(caller, bytes);
                        ok()
                    }
                    Err(errno) => err(errno),
                }
            }
            ProcRequest::StageFds { fds, first } => {
                self.stage_fds(caller, &fds, first, &message.caps)
            }
            ProcRequest::StageImage { length } => {
                let Some(&memory) = message.caps.first() else {
                    return err(EINVAL);
                };
                for cap in message.caps.iter().skip(1) {
                    let _ = sys::cap_delete(*cap);
                }
                if length == 0 || length > proc::IMAGE_MAX {
                    let _ = sys::cap_delete(memory);
                    return err(E2BIG);
                }
                if let Some((old, _)) = self.staged_images.insert(caller, (memory, length)) {
                    let _ = sys::cap_delete(old);
                }
                ok()
            }
            ProcRequest::SpawnStaged => {
                let Some(bytes) = self.staged.remove(&caller) else {
                    for cap in &message.caps {
                        let _ = sys::cap_delete(*cap);
                    }
                    return err(EINVAL);
                };
                match zos_proto::decode::<ProcRequest>(&bytes) {
                    Some(spawn @ ProcRequest::Spawn { .. }) => {
                        self.spawn_request(caller, spawn, &message.caps)
                    }
                    _ => {
                        for cap in &message.caps {
                            let _ = sys::cap_delete(*cap);
                        }
                        err(EINVAL)
                    }
                }
            }
            ProcRequest::Wait {
                pid,
                nohang,
                report,
            } => self.wait(caller, pid, nohang, report),
            ProcRequest::Kill { pid, signal } => self.kill(caller, pid, signal),
            ProcRequest::TerminalAccess {
                foreground,
                signal,
                blocked,
            } => self.terminal_access(caller, foreground, signal, blocked),
            ProcRequest::Ids => {
                let (ppid, pgid) = self
                    .procs
                    .get(&caller)
                    .map_or((0, caller), |p| (p.ppid, p.pgid));
                Answer::Now(
                    encode(&ProcResponse::Ids {
                        pid: caller,
                        ppid,
                        pgid,
                    }),
                    Vec::new(),
                )
            }
            ProcRequest::SetPgid { pid, pgid } => {
                let target = if pid == 0 { caller } else { pid };
                match self.procs.get_mut(&target) {
                    Some(p) if p.pid == caller || p.ppid == caller => {
                        p.pgid = if pgid == 0 { target } else { pgid };
                        ok()
                    }
                    Some(_) => err(EPERM),
                    None => err(ESRCH),
                }
            }
            ProcRequest::SetSid => match self.procs.get_mut(&caller) {
                Some(p) if p.pgid == caller => err(EPERM),
                Some(p) => {
                    p.sid = caller;
                    p.pgid = caller;
                    ok()
                }
                None => err(ESRCH),
            },
            ProcRequest::List { after } => {
                let mut list = Vec::new();
                if after < 1 {
                    list.push(ProcInfo {
                        pid: 1,
                        ppid: 0,
                        pgid: 1,
                        state: 'S',
                        name: "init",
                        uid: 0,
                    });
                }
                // A page fits one message: at most 30 bytes an entry beside
                // its name, 3 KiB in all.
                let mut bytes = 0;
                for p in self.procs.values().filter(|p| p.pid > after) {
                    bytes += 30 + p.name.len();
                    if bytes > 3 << 10 {
                        break;
                    }
                    let state = if p.status.is_some() { 'Z' } else { 'S' };
                    list.push(ProcInfo {
                        pid: p.pid,
                        ppid: p.ppid,
                        pgid: p.pgid,
                        state,
                        name: &p.name,
                        uid: self.credentials.get(p.credentials).map_or(0, |c| c.euid),
                    });
                }
                match ipc::encode_vec(&ProcResponse::List(list)) {
                    Ok(bytes) => Answer::Now(bytes, Vec::new()),
                    Err(_) => err(E2BIG),
                }
            }
            ProcRequest::Services => {
                let list: Vec<ServiceInfo> = self
                    .services
                    .iter()
                    .map(|s| ServiceInfo {
                        name: &s.spec.name,
                        state: s.state,
                        pid: s.pid.unwrap_or(0),
                        restarts: s.restarts,
                    })
                    .collect();
                match ipc::encode_vec(&ProcResponse::Services(list)) {
                    Ok(bytes) => Answer::Now(bytes, Vec::new()),
                    Err(_) => err(E2BIG),
                }
            }
            ProcRequest::Lookup { name } => {
                let service = self.services.iter().find(|s| s.spec.name == name);
                let endpoint = service.and_then(|s| s.endpoint);
                // Services that want to know who calls get the caller's pid and
                // credential number in the badge; the kernel carries it.
                let badge = match service {
                    Some(s) if s.spec.client_badges => {
                        zos_proto::badge::client(self.credentials_of(caller), caller)
                    }
                    _ => 0,
                };
                // GRANT: requests may carry capabilities (a mount hands the
                // VFS the file-system server's); servers delete what they do
                // not take.
                let minted = endpoint.and_then(|e| {
                    sys::cap_mint(e, sys::NONE, rights::WRITE | rights::GRANT, badge).ok()
                });
                match minted {
                    Some(cap) => Answer::Now(encode(&ProcResponse::Attached), alloc::vec![cap]),
                    None => err(ENOENT),
                }
            }
            ProcRequest::Pipe => match self.pipes.create() {
                Some((read, write)) => {
                    Answer::Now(encode(&ProcResponse::Attached), alloc::vec![read, write])
                }
                None => err(ENOMEM),
            },
            ProcRequest::SystemInfo => {
                let kernel = sys::system_info();
                let info = SystemInfo {
                    uptime_ns: sys::clock_ns(),
                    total_bytes: kernel[1] * 4096,
                    free_bytes: kernel[0] * 4096,
                    processes: self.procs.values().filter(|p| p.status.is_none()).count() as u32
                        + 1,
                    realtime_ns: self.clock.now_ns(),
                };
                Answer::Now(encode(&ProcResponse::SystemInfo(info)), Vec::new())
            }
            ProcRequest::SignalAction { signal, action } => {
                let Some(p) = self.procs.get_mut(&caller) else {
                    return err(ESRCH);
                };
                if let Some(cap) = message.caps.first() {
                    if let Some(old) = p.signal_notification.replace(*cap) {
                        let _ = sys::cap_delete(old);
                    }
                }
                if signal == 0
                    || signal >= 64
                    || signal == signal::SIGKILL
                    || signal == signal::SIGSTOP
                {
                    return err(EINVAL);
                }
                let bit = 1u64 << signal;
                match action {
                    0 => {
                        p.ignored &= !bit;
                        p.caught &= !bit;
                    }
                    1 => {
                        p.ignored |= bit;
                        p.caught &= !bit;
                    }
                    2 if p.signal_notification.is_some() => {
                        p.caught |= bit;
                        p.ignored &= !bit;
                    }
                    _ => return err(EINVAL),
                }
                ok()
            }
            ProcRequest::Ready => {
                if let Some(index) = self.services.iter().position(|s| s.pid == Some(caller)) {
                    self.services[index].ready = true;
                    self.start_waiting();
                }
                ok()
            }
            ProcRequest::PowerOff => {
                dprintln!("init: powering off");
                let _ = sys::power_off(bootinfo::SLOT_SYSTEM);
                err(EPERM)
            }
            ProcRequest::Usage { pid } => {
                // Slot 0 is init itself.
                let process = match pid {
                    1 => Some(0),
                    _ => self
                        .procs
                        .get(&pid)
                        .filter(|p| p.status.is_none())
                        .map(|p| p.process),
                };
                match process.map(sys::process_usage) {
                    Some(Ok(Some((memory, cpu_ticks)))) => {
                        let usage = ProcResponse::Usage { memory, cpu_ticks };
                        match ipc::encode_vec(&usage) {
                            Ok(bytes) => Answer::Now(bytes, Vec::new()),
                            Err(_) => err(EIO),
                        }
                    }
                    _ => err(ESRCH),
                }
            }
            ProcRequest::Credentials { pid } => {
                let pid = if pid == 0 { caller } else { pid };
                let number = if pid == 1 {
                    Some(0)
                } else {
                    self.procs.get(&pid).map(|p| p.credentials)
                };
                match number.and_then(|n| self.credentials.get(n)) {
                    Some(set) => credentials_answer(set),
                    None => err(ESRCH),
                }
            }
            ProcRequest::CredentialSet { id } => match self.credentials.get(id) {
                Some(set) => credentials_answer(set),
                None => err(ESRCH),
            },
            ProcRequest::SetCredentials { .. } | ProcRequest::EndSession { .. } => err(EPERM),
            ProcRequest::SetTime { epoch_ns } => {
                let is_root = self
                    .credentials
                    .get(self.credentials_of(caller))
                    .is_some_and(|c| c.euid == 0);
                if !is_root {
                    return err(EPERM);
                }
                self.clock.set(epoch_ns);
                ok()
            }
            ProcRequest::Reboot => {
                dprintln!("init: rebooting");
                let _ = sys::raw(sys::Sys::Reset, [bootinfo::SLOT_SYSTEM, 0, 0, 0, 0, 0]);
                err(EPERM)
            }
        }
    }

    /// Handles passed for a child that never started are dropped: their
    /// servers (pipes here too) hear through NO_SENDERS when a handle's last
    /// capability is gone (init does not call other servers from its loop,
    /// which could deadlock with them).
    /// `StageFds`: descriptors `fds` (capabilities `caps`, in order) for
    /// the caller's next spawn.
    fn stage_fds(&mut self, caller: u32, fds: &[(u32, u8)], first: bool, caps: &[u64]) -> Answer {
        if first {
            if let Some(old) = self.staged_fds.remove(&caller) {
                self.drop_handles(&old);
            }
        }
        let staged = self.staged_fds.get(&caller).map_or(0, Vec::len);
        let bad = |&(fd, index): &(u32, u8)| fd >= proc::OPEN_MAX || index as usize >= caps.len();
        let unused = |index: usize| !fds.iter().any(|&(_, i)| i as usize == index);
        let refused = if fds.iter().any(bad) || (0..caps.len()).any(unused) {
            Some(EBADF)
        } else if staged + fds.len() > proc::OPEN_MAX as usize {
            Some(EMFILE)
        } else {
            None
        };
        if let Some(errno) = refused {
            for cap in caps {
                let _ = sys::cap_delete(*cap);
            }
            return err(errno);
        }
        let entry = self.staged_fds.entry(caller).or_default();
        entry.extend(fds.iter().map(|&(fd, index)| (fd, caps[index as usize])));
        ok()
    }

    fn drop_handles(&mut self, handles: &[(u32, u64)]) {
        let mut slots: Vec<u64> = handles.iter().map(|(_, slot)| *slot).collect();
        slots.sort_unstable();
        slots.dedup();
        for slot in slots {
            let _ = sys::cap_delete(slot);
        }
    }

    /// A `Spawn` (sent whole, or staged through shared memory); `caps` are
    /// the descriptors' capabilities attached to the message.
    fn spawn_request(&mut self, caller: u32, request: ProcRequest, caps: &[u64]) -> Answer {
        let ProcRequest::Spawn {
            path,
            argv,
            env,
            cwd,
            fds,
            pgid,
            foreground,
            take_terminal,
            exec,
            name,
        } = request
        else {
            return err(EINVAL);
        };
        let mut moved = self.staged_fds.remove(&caller).unwrap_or_default();
        for (fd, index) in fds {
            match caps.get(index as usize) {
                Some(slot) if fd < proc::OPEN_MAX => moved.push((fd, *slot)),
                _ => {
                    for cap in caps {
                        let _ = sys::cap_delete(*cap);
                    }
                    self.drop_handles(&moved);
                    return err(EBADF);
                }
            }
        }
        let bytes: usize = argv.iter().chain(env.iter()).map(|s| s.len() + 1).sum();
        if bytes > ARG_MAX {
            self.drop_handles(&moved);
            return err(E2BIG);
        }
        let image = self.staged_images.remove(&caller);
        // An exec replaces a process: it adds none.
        let admitted = match exec {
            true => Ok(sys::system_info()[2]),
            false => self.admit(foreground),
        };
        let left = match admitted {
            Ok(left) => left,
            Err(errno) => {
                self.drop_handles(&moved);
                if let Some((memory, _)) = image {
                    let _ = sys::cap_delete(memory);
                }
                return err(errno);
            }
        };
        let mapped = match image {
            Some((memory, length)) => {
                let pages = length.div_ceil(4096);
                let mapped = sys::memory_map(memory, sys::SELF, IMAGE_SCRATCH, 0, pages, 0);
                let _ = sys::cap_delete(memory);
                if mapped.is_err() {
                    self.drop_handles(&moved);
                    return err(EINVAL);
                }
                // SAFETY: `pages` pages were just mapped read-only at
                // IMAGE_SCRATCH and hold `length` bytes; the slice is used by
                // the spawn below only, and unmapped right after it.
                self.next_image = Some(unsafe {
                    core::slice::from_raw_parts(IMAGE_SCRATCH as *const u8, length as usize)
                });
                true
            }
            None => false,
        };
        // Names are for people and `pidof`: a path's last component at most.
        self.script_name = name
            .map(|n| n.rsplit('/').next().unwrap_or(n))
            .filter(|n| !n.is_empty())
            .map(String::from);
        self.next_takes_terminal = take_terminal && !exec;
        self.exec_as = exec.then_some(caller);
        let spawned = self.spawn(
            caller,
            path,
            &argv,
            &env,
            cwd,
            moved.clone(),
            pgid,
            Vec::new(),
            0,
            (left / SPAWN_SHARE).max(MIN_QUOTA),
        );
        self.next_image = None;
        self.next_takes_terminal = false;
        self.exec_as = None;
        if mapped {
            let _ = sys::memory_unmap(sys::SELF, IMAGE_SCRATCH);
        }
        match spawned {
            // The caller is gone: nobody to answer.
            Ok(_) if exec => Answer::Deferred,
            Ok(pid) => Answer::Now(encode(&ProcResponse::Spawned { pid }), Vec::new()),
            Err(e) => {
                self.drop_handles(&moved);
                err(e)
            }
        }
    }

    /// `Affinity`: reads, or sets and reads, the CPUs of `pid`'s threads.
    /// init itself (pid 1, in no table of its own) is a target like any
    /// other: root's credentials, its own process (`taskset -p 1`).
    fn affinity(&mut self, caller: u32, pid: u32, cpus: u64) -> Answer {
        let target = if pid == 0 { caller } else { pid };
        let online = match sys::cpus_online().clamp(1, 64) {
            64 => u64::MAX,
            n => (1u64 << n) - 1,
        };
        let (process, owner, set) = if target == crate::pipes::INIT_PID {
            (sys::SELF, 0, self.own_cpus)
        } else {
            match self.procs.get(&target).filter(|p| p.status.is_none()) {
                Some(p) => (p.process, p.credentials, p.cpus),
                None => return err(ESRCH),
            }
        };
        let mut now = set;
        if cpus != 0 {
            let sender = self.credentials.get(self.credentials_of(caller));
            match (sender, self.credentials.get(owner)) {
                (Some(sender), Some(owner)) if credentials::may_signal(sender, owner) => {}
                _ => return err(EPERM),
            }
            if cpus & online == 0 {
                return err(EINVAL);
            }
            if sys::thread_set_affinity(process, cpus & online).is_err() {
                return err(ESRCH);
            }
            now = cpus & online;
            match self.procs.get_mut(&target) {
                Some(p) => p.cpus = now,
                None => self.own_cpus = now,
            }
        }
        let now = if now == 0 { online } else { now };
        match ipc::encode_vec(&ProcResponse::Affinity { cpus: now }) {
            Ok(bytes) => Answer::Now(bytes, Vec::new()),
            Err(_) => err(EIO),
        }
    }

    /// The credential number of process `pid` (init and unknown pids: root's
    /// 0; a message can only come from a live process's badge).
    fn credentials_of(&self, pid: u32) -> u16 {
        self.procs.get(&pid).map_or(0, |p| p.credentials)
    }

    /// `SetCredentials` from the credential authority (with `new_session`,
    /// `pid` also leads a new session).
    fn set_credentials(&mut self, pid: u32, credentials: Credentials, new_session: bool) -> Answer {
        let Some(number) = self.credentials.intern(credentials) else {
            return err(EINVAL);
        };
        match self.procs.get_mut(&pid) {
            Some(p) if p.status.is_none() => {
                p.credentials = number;
                if new_session {
                    p.sid = pid;
                }
                ok()
            }
            _ => err(ESRCH),
        }
    }

    /// `EndSession` from the credential authority: SIGHUP (sent as init, so
    /// with root's right to signal) to every live process of the session
    /// `leader` leads, the leader excepted.
    fn end_session(&mut self, leader: u32) -> Answer {
        if leader == 0 {
            return err(EINVAL);
        }
        let members: Vec<u32> = self
            .procs
            .values()
            .filter(|p| p.sid == leader && p.pid != leader && p.status.is_none())
            .map(|p| p.pid)
            .collect();
        for pid in members {
            let _ = self.kill(1, pid as i32, signal::SIGHUP);
        }
        ok()
    }

    /// Where the faults of a child of `parent` go: to init, with a badge of
    /// its own, for a program another process started (so a handler of its
    /// can have them); nowhere for what init starts itself (services and
    /// `init.run` programs: the kernel ends them, their restart policy
    /// decides).
    fn fault_binding(&mut self, parent: u32) -> (u64, u64) {
        if parent == 1 {
            return (sys::NONE, 0);
        }
        self.next_fault = self.next_fault.wrapping_add(1);
        (self.server.endpoint, FAULT_TAG | self.next_fault as u64)
    }

    /// A fault of a program init started for another process (the kernel's
    /// message: kind, address, pc, syndrome). One that catches the fault's
    /// signal keeps its faulting thread waiting here and is told (bit 0 of
    /// its signal notification); it asks for the fault with `FaultResume`.
    /// Any other is ended as killed by that signal.
    fn fault(&mut self, message: &Received) -> Answer {
        let word = |i: usize| {
            let bytes = message.bytes.get(i * 8..i * 8 + 8);
            bytes.map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        };
        let (kind, address, syndrome) = (word(0), word(1), word(3));
        let (signal, code) = zos_init_core::fault::signal_of(MACHINE, kind, syndrome);
        let found = self.procs.values().find(|p| p.fault_badge == message.badge);
        let Some(pid) = found.filter(|p| p.status.is_none()).map(|p| p.pid) else {
            return Answer::Deferred; // ended meanwhile: nobody waits
        };
        // Not while one is held already (a fault of another of its threads).
        let catches = self.procs.get(&pid).is_some_and(|p| {
            let holding = p.held_fault.as_ref().is_some_and(|h| h.reply.is_some());
            p.caught & 1 << signal != 0 && !holding
        });
        if catches {
            if let Ok(reply) = self.server.defer() {
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.held_fault = Some(Box::new(HeldFault {
                        reply: Some(reply),
                        signal,
                        code,
                        address,
                    }));
                }
                self.notify(pid, proc::FAULT_HELD);
                return Answer::Deferred;
            }
        }
        self.end_by_fault(pid, signal, address);
        Answer::Deferred
    }

    /// `FaultResume`: lets the caller's held fault go to its handler, or
    /// ends the caller as killed by its latest fault's signal (also after
    /// letting it go: the handler may turn out not to be able to run).
    fn fault_resume(&mut self, caller: u32, deliver: bool) -> Answer {
        let held = self
            .procs
            .get_mut(&caller)
            .and_then(|p| p.held_fault.as_mut());
        let Some(held) = held else {
            return err(ESRCH);
        };
        let (signal, code, address) = (held.signal, held.code, held.address);
        let reply = held.reply.take();
        if !deliver {
            if let Some(reply) = reply {
                let _ = sys::cap_delete(reply);
            }
            self.end_by_fault(caller, signal, address);
            return ok();
        }
        // The reply resumes the faulting thread (stopped there if the
        // caller suspended it first); its contents are not read.
        let Some(reply) = reply else {
            return err(ESRCH);
        };
        let _ = ipc::reply_later(reply, &ProcResponse::Ok, &[]);
        let fault = ProcResponse::Fault {
            signal,
            code,
            address,
        };
        Answer::Now(encode(&fault), Vec::new())
    }

    /// Ends `pid` as killed by `signal` for a fault at `address`, with a
    /// line in the log (its parent sees status 128 + `signal`).
    fn end_by_fault(&mut self, pid: u32, signal: u32, address: u64) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        dprintln!(
            "init: pid {pid} ({}) killed by a fault at {address:#x} (signal {signal})",
            p.name
        );
        p.signal = Some(signal);
        let _ = sys::process_kill(p.process);
    }

    fn kill(&mut self, caller: u32, pid: i32, sig: u32) -> Answer {
        // init exists and takes no signal, as on Linux: signals to pid 1 are
        // accepted and ignored (SIGKILL included), `kill -0 1` succeeds.
        if pid == 1 {
            return if sig <= 63 { ok() } else { err(EINVAL) };
        }
        let targets: Vec<u32> = if pid > 0 {
            self.procs
                .get(&(pid as u32))
                .filter(|p| p.status.is_none())
                .map(|p| p.pid)
                .into_iter()
                .collect()
        } else if pid < 0 {
            let group = pid.unsigned_abs();
            self.procs
                .values()
                .filter(|p| p.pgid == group && p.status.is_none())
                .map(|p| p.pid)
                .collect()
        } else {
            Vec::new()
        };
        if targets.is_empty() {
            return err(ESRCH);
        }
        // POSIX: a user signals only its own processes; root any.
        let sender = self.credentials.get(self.credentials_of(caller)).cloned();
        let allowed: Vec<u32> = targets
            .iter()
            .copied()
            .filter(|pid| {
                let target = self.credentials.get(self.credentials_of(*pid));
                match (&sender, target) {
                    (Some(sender), Some(target)) => credentials::may_signal(sender, target),
                    _ => false,
                }
            })
            .collect();
        if allowed.is_empty() {
            return err(EPERM);
        }
        let targets = allowed;
        match sig {
            0 => ok(),
            1..=63 => {
                let bit = 1u64 << sig;
                for pid in targets {
                    // SIGCONT continues a stopped process whatever it does
                    // with the signal itself.
                    if sig == signal::SIGCONT {
                        self.set_stopped(pid, false, sig);
                    }
                    if sig != signal::SIGKILL && self.notify_caught(pid, sig) {
                        continue;
                    }
                    let Some(p) = self.procs.get_mut(&pid) else {
                        continue;
                    };
                    if sig != signal::SIGKILL && (p.ignored & bit != 0 || p.caught & bit != 0) {
                        continue;
                    }
                    // Default actions: CHLD, URG, WINCH and CONT are ignored,
                    // STOP, TSTP, TTIN and TTOU stop the process, everything
                    // else ends it.
                    if signal::ignored_by_default(sig) {
                        continue;
                    }
                    if signal::stops_by_default(sig) {
                        self.set_stopped(pid, true, sig);
                        continue;
                    }
                    p.signal = Some(sig);
                    let _ = sys::process_kill(p.process);
                }
                ok()
            }
            _ => err(EINVAL),
        }
    }

    /// `TerminalAccess`: the POSIX rules for a process outside its
    /// terminal's foreground group (docs/terminals.md, "Background reads").
    fn terminal_access(&mut self, caller: u32, foreground: u32, sig: u32, blocked: bool) -> Answer {
        if sig != signal::SIGTTIN && sig != signal::SIGTTOU {
            return err(EINVAL);
        }
        let Some(p) = self.procs.get(&caller) else {
            return ok();
        };
        let (pgid, sid, ignored) = (p.pgid, p.sid, p.ignored & 1 << sig != 0);
        if foreground == 0 || foreground == pgid {
            return ok();
        }
        // A foreground group with no live member is none (its shell ended);
        // one of another session means this is not the caller's terminal.
        let foreground_sid = self
            .procs
            .values()
            .find(|q| q.pgid == foreground && q.status.is_none())
            .map(|q| q.sid);
        if foreground_sid != Some(sid) {
            return ok();
        }
        if ignored || blocked {
            return if sig == signal::SIGTTIN {
                err(EIO)
            } else {
                ok()
            };
        }
        if self.orphaned(pgid) {
            return err(EIO);
        }
        // The caller's own group: nothing can refuse it.
        let _ = self.kill(caller, -(pgid as i32), sig);
        err(EINTR)
    }

    /// Whether process group `pgid` is orphaned: no live member has a live
    /// parent in another group of the same session (POSIX), so nobody could
    /// continue it once stopped.
    fn orphaned(&self, pgid: u32) -> bool {
        !self
            .procs
            .values()
            .filter(|p| p.pgid == pgid && p.status.is_none())
            .any(|member| {
                self.procs.get(&member.ppid).is_some_and(|parent| {
                    parent.status.is_none() && parent.pgid != pgid && parent.sid == member.sid
                })
            })
    }

    /// Delivers `sig` to `pid` if that process catches it; whether it did.
    fn notify_caught(&self, pid: u32, sig: u32) -> bool {
        let caught = self
            .procs
            .get(&pid)
            .is_some_and(|p| p.caught & 1 << sig != 0);
        caught && self.notify(pid, 1 << sig)
    }

    /// Signals `bits` on `pid`'s signal notification; whether it has one.
    fn notify(&self, pid: u32, bits: u64) -> bool {
        let Some(notification) = self.procs.get(&pid).and_then(|p| p.signal_notification) else {
            return false;
        };
        if let Ok(badged) = sys::cap_mint(notification, sys::NONE, rights::WRITE, bits) {
            let _ = sys::signal(badged);
            let _ = sys::cap_delete(badged);
        }
        true
    }

    /// Stops (`stop`) or continues a live process for job control: all its
    /// threads are suspended or resumed (`ThreadSuspend` on the process), its
    /// parent told (a waiter asking for such reports, and SIGCHLD if it
    /// catches that).
    fn set_stopped(&mut self, pid: u32, stop: bool, sig: u32) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if p.stopped == stop || p.status.is_some() {
            return;
        }
        let done = match stop {
            true => sys::thread_suspend(p.process),
            false => sys::thread_resume(p.process),
        };
        if let Err(e) = done {
            dprintln!("init: cannot stop or continue pid {pid}: {}", e.name());
            return;
        }
        p.stopped = stop;
        let (status, flag) = match stop {
            true => (proc::wait::stopped_status(sig), proc::wait::UNTRACED),
            false => (proc::wait::CONTINUED_STATUS, proc::wait::CONTINUED),
        };
        p.unreported = Some(status);
        let parent = p.ppid;
        if self.answer_waiter(parent, pid, status, flag) {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.unreported = None;
            }
        }
        self.notify_caught(parent, signal::SIGCHLD);
    }

    fn wait(&mut self, parent: u32, pid: i32, nohang: bool, report: u32) -> Answer {
        let matches = |p: &Proc| p.ppid == parent && (pid == -1 || p.pid as i32 == pid);
        if let Some(found) = self
            .procs
            .values()
            .find(|p| matches(p) && p.status.is_some())
            .map(|p| p.pid)
        {
            return self.reap_delivered(found);
        }
        let wanted = |status: i32| match proc::wait::stop_signal(status) {
            Some(_) => report & proc::wait::UNTRACED != 0,
            None => report & proc::wait::CONTINUED != 0,
        };
        if let Some(p) = self
            .procs
            .values_mut()
            .find(|p| matches(p) && p.unreported.is_some_and(wanted))
        {
            let (pid, status) = (p.pid, p.unreported.take().unwrap_or_default());
            return Answer::Now(encode(&ProcResponse::Waited { pid, status }), Vec::new());
        }
        if !self.procs.values().any(matches) {
            return err(ECHILD);
        }
        if nohang {
            return Answer::Now(encode(&ProcResponse::NotYet), Vec::new());
        }
        match self.server.defer() {
            Ok(reply) => {
                self.waiters.push(Waiter {
                    parent,
                    pid,
                    reply,
                    report,
                });
                Answer::Deferred
            }
            Err(_) => err(EAGAIN),
        }
    }

    /// Answers a `Wait` with zombie `pid`'s status and removes the zombie
    /// only once the caller has the answer. A signal may interrupt the call
    /// (`CALL_INTERRUPTIBLE`) while init serves it, on another CPU; the
    /// caller then asks again (SA_RESTART), and a zombie reaped for an
    /// answer nobody got would leave it with ECHILD and a lost status.
    fn reap_delivered(&mut self, pid: u32) -> Answer {
        let status = self.procs.get(&pid).and_then(|p| p.status).unwrap_or(0);
        let bytes = encode(&ProcResponse::Waited { pid, status });
        // A plain reply (then a receive) says whether it reached the caller,
        // which a combined reply-and-receive does not.
        if self.server.reply_raw(&bytes, &[]).is_ok() {
            if let Some(p) = self.procs.remove(&pid) {
                p.release();
            }
        }
        Answer::Deferred
    }

    /// The exit-notification bit for the next process: processes share the
    /// 64 bits in turn, so a reap asks a few of them, not all.
    fn next_exit_bit(&mut self) -> u64 {
        self.exit_bit_turn = self.exit_bit_turn.wrapping_add(1);
        1 << (self.exit_bit_turn % 64)
    }

    /// Checks the live children whose exit bit is set after an exit
    /// notification.
    fn reap(&mut self) {
        let bits = EXITED_BITS.swap(0, core::sync::atomic::Ordering::AcqRel);
        let live: Vec<u32> = self
            .procs
            .values()
            .filter(|p| p.status.is_none() && p.exit_bit & bits != 0)
            .map(|p| p.pid)
            .collect();
        for pid in live {
            let Some(p) = self.procs.get(&pid) else {
                continue;
            };
            let Ok([state, code, _, address, _]) = sys::process_status(p.process) else {
                continue;
            };
            if state == 0 {
                continue;
            }
            let status = match (state, p.signal) {
                (1, _) => proc::exit_status(code as i32),
                (_, Some(sig)) => proc::signal_status(sig),
                _ => {
                    dprintln!(
                        "init: pid {pid} ({}) killed by a fault at {address:#x}",
                        p.name
                    );
                    proc::signal_status(signal::SIGSEGV)
                }
            };
            self.ended(pid, status);
        }
    }

    fn ended(&mut self, pid: u32, status: i32) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        self.pipes.process_ended(pid);
        p.status = Some(status);
        if let Some(page) = p.start_page.take() {
            self.start_pages.give_back(page);
        }
        let parent = p.ppid;
        let service = p.service;
        let name = p.name.clone();
        // SIGCHLD to a parent that catches it (the default ignores it).
        self.notify_caught(parent, signal::SIGCHLD);
        self.staged.remove(&pid);
        if let Some((memory, _)) = self.staged_images.remove(&pid) {
            let _ = sys::cap_delete(memory);
        }
        if let Some(fds) = self.staged_fds.remove(&pid) {
            self.drop_handles(&fds);
        }
        // Orphans go to init.
        for child in self.procs.values_mut().filter(|c| c.ppid == pid) {
            child.ppid = 1;
        }
        let orphaned_zombies: Vec<u32> = self
            .procs
            .values()
            .filter(|c| c.ppid == 1 && c.status.is_some() && c.pid != pid)
            .map(|c| c.pid)
            .collect();
        for zombie in orphaned_zombies {
            if let Some(z) = self.procs.remove(&zombie) {
                z.release();
            }
        }
        if parent == 1 {
            if let Some(p) = self.procs.remove(&pid) {
                p.release();
            }
            if let Some(index) = service {
                self.service_ended(index, &name, status);
            } else if self.boot.arg("init.run").is_some() {
                let code = libzos::posix::status_code(status);
                self.finish_run(&name, code);
            }
            return;
        }
        // A parent waiting for this child?
        if self.answer_waiter(parent, pid, status, 0) {
            if let Some(p) = self.procs.remove(&pid) {
                p.release();
            }
        }
    }

    /// Answers the oldest waiter of `parent` for `pid` (whose report flags
    /// include `flag`, if not 0) with `status`; whether one took it. A waiter
    /// whose wait was interrupted (job control, a signal) is gone: the
    /// answer goes to the next.
    fn answer_waiter(&mut self, parent: u32, pid: u32, status: i32, flag: u32) -> bool {
        let bytes = encode(&ProcResponse::Waited { pid, status });
        while let Some(at) = self.waiters.iter().position(|w| {
            w.parent == parent
                && (w.pid == -1 || w.pid == pid as i32)
                && (flag == 0 || w.report & flag != 0)
        }) {
            let waiter = self.waiters.remove(at);
            if ipc::reply_later_raw(waiter.reply, &bytes, &[]).is_ok() {
                return true;
            }
        }
        false
    }

    fn service_ended(&mut self, index: usize, name: &str, status: i32) {
        let Some(service) = self.services.get_mut(index) else {
            return;
        };
        service.pid = None;
        service.ready = false;
        let failed = status != 0;
        let how = match libzos::posix::term_signal(status) {
            Some(sig) => format!("killed by signal {sig}"),
            None => format!(
                "exited with status {}",
                libzos::posix::exit_code(status).unwrap_or(0)
            ),
        };
        let window = service.spec.restart_window_s;
        let decision = service.history.ended(
            service.spec.restart,
            failed,
            sys::clock_ns(),
            service.spec.restart_limit,
            window * 1_000_000_000,
        );
        match decision {
            Decision::Restart { delay_ns } => {
                service.restarts += 1;
                service.state = "restarting";
                let limit = match service.spec.restart_limit {
                    0 => String::from("no limit"),
                    n => format!("{n} in {window} s"),
                };
                let recent = service.history.recent_failures();
                if delay_ns == 0 {
                    dprintln!(
                        "init: service '{name}' {how}; restarting ({recent} failures, {limit})"
                    );
                    self.start_service(index);
                } else {
                    dprintln!(
                        "init: service '{name}' {how}; restarting in {} ms ({recent} failures, {limit})",
                        delay_ns / 1_000_000
                    );
                    let due = sys::clock_ns() + delay_ns;
                    service.restart_due = Some(due);
                    self.arm_alarm(due);
                }
            }
            Decision::GiveUp { failures } => {
                service.state = "failed";
                dprintln!(
                    "init: service '{name}' {how}; it failed {failures} times in {window} s: giving up (not restarted)"
                );
                retire_endpoint(service, name);
            }
            Decision::Stop => {
                service.state = if failed { "failed" } else { "done" };
                dprintln!("init: service '{name}' {how}; not restarted");
                // A clean end (devmgr's on a machine without virtio devices,
                // at every such boot) keeps its endpoint: no thread for it.
                if failed {
                    retire_endpoint(service, name);
                }
                // Services waiting for it to be ready start now (done counts).
                self.start_waiting();
            }
        }
    }

    /// Starts the services that wait for a dependency to be ready.
    fn start_waiting(&mut self) {
        for waiting in 0..self.services.len() {
            if self.services[waiting].state == "waiting" {
                self.start_service(waiting);
            }
        }
    }

    /// Makes the alarm thread call init at `due` (or earlier, if already set).
    fn arm_alarm(&self, due: u64) {
        use core::sync::atomic::Ordering;
        let current = ALARM_DEADLINE.load(Ordering::Acquire);
        if current == 0 || due < current {
            ALARM_DEADLINE.store(due, Ordering::Release);
        }
        let _ = sys::signal(self.alarm_wake);
    }

    /// Starts the services whose back-off has passed; re-arms for the rest.
    fn start_due_services(&mut self) {
        let now = sys::clock_ns();
        let mut next: Option<u64> = None;
        for index in 0..self.services.len() {
            match self.services[index].restart_due {
                Some(due) if due <= now => {
                    self.services[index].restart_due = None;
                    self.start_service(index);
                }
                Some(due) => next = Some(next.map_or(due, |n: u64| n.min(due))),
                None => {}
            }
        }
        if let Some(due) = next {
            self.arm_alarm(due);
        }
    }
}

/// Pages of the heap's first block that init maps for a child (wasm32
/// processes grow their heap in their own linear memory).
const FIRST_HEAP_PAGES: u64 = if cfg!(target_arch = "wasm32") {
    0
} else {
    start::flags::HEAP_BLOCK / 4096
};

/// Maps the heap's first block into a new child from the pages after its
/// start page, where libzos would have put its first heap growth; returns
/// the start-page flags that tell it so (0 if not mapped: it maps its own).
fn map_first_heap_block(child: &loader::Child, random: &[u8; start::RANDOM_BYTES]) -> u32 {
    let Some((memory, first_page)) = child.start_memory else {
        return 0;
    };
    if FIRST_HEAP_PAGES == 0 {
        return 0;
    }
    let block = start::heap_start(random).next_multiple_of(start::flags::HEAP_BLOCK);
    let mapped = sys::memory_map(
        memory,
        child.process,
        block,
        first_page,
        FIRST_HEAP_PAGES,
        map_flags::WRITE,
    );
    match mapped {
        Ok(()) => start::flags::HEAP_BLOCK_MAPPED,
        Err(_) => 0,
    }
}

/// Writes the start-up page (length, flags, random bytes, postcard
/// `StartInfo`) and maps it read-only into the child; returns the page of
/// `pool` it took, if it fit in one (the usual case).
fn write_start_page(
    child: &loader::Child,
    info: &StartInfo,
    random: &[u8; start::RANDOM_BYTES],
    flags: u32,
    pool: &mut StartPages,
) -> Result<Option<usize>, i32> {
    let bytes = zos_proto::encode_vec(info).ok_or(E2BIG)?;
    let length = bytes.len();
    if length + start::START_HEADER > start::MAX_START_INFO {
        return Err(E2BIG);
    }
    let mut header = [0u8; start::START_HEADER];
    header[..4].copy_from_slice(&(length as u32).to_le_bytes());
    header[4..8].copy_from_slice(&flags.to_le_bytes());
    header[8..].copy_from_slice(random);
    if let Some(page) = pool.fill(&[&header, &bytes]) {
        let mapped = sys::memory_map(pool.memory(page), child.process, start::START_INFO, 0, 1, 0);
        if mapped.is_err() {
            pool.give_back(page);
            return Err(ENOMEM);
        }
        return Ok(Some(page));
    }
    let pages = (start::START_HEADER + length).div_ceil(4096) as u64;
    // On wasm32 the page after the child's stack and IPC buffer when it
    // holds the whole page, else an object of its own.
    let (memory, first_page, own) = match child.start_memory {
        Some((memory, first)) if pages == 1 && cfg!(target_arch = "wasm32") => {
            (memory, first, false)
        }
        _ => (
            sys::memory_create(pages * 4096).map_err(|_| ENOMEM)?,
            0,
            true,
        ),
    };
    let result = (|| {
        sys::memory_map(
            memory,
            sys::SELF,
            START_SCRATCH,
            first_page,
            pages,
            map_flags::WRITE,
        )
        .map_err(|_| ENOMEM)?;
        // SAFETY: START_SCRATCH..+pages pages were just mapped writable in init.
        unsafe {
            core::ptr::copy_nonoverlapping(
                header.as_ptr(),
                START_SCRATCH as *mut u8,
                start::START_HEADER,
            );
            let body = (START_SCRATCH + start::START_HEADER as u64) as *mut u8;
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), body, length);
        }
        let _ = sys::memory_unmap(sys::SELF, START_SCRATCH);
        sys::memory_map(
            memory,
            child.process,
            start::START_INFO,
            first_page,
            pages,
            0,
        )
        .map_err(|_| ENOMEM)
    })();
    if own {
        let _ = sys::cap_delete(memory);
    }
    result.map(|()| None)
}

/// Where init maps a staged Spawn request to read it.
const STAGE_SCRATCH: u64 = 0x0000_2200_0000_0000;

/// Where init maps a program staged with `StageImage` while it spawns it
/// (`IMAGE_MAX` bytes of free address space).
const IMAGE_SCRATCH: u64 = 0x0000_2280_0000_0000;

/// Copies `length` bytes out of a Memory object a client filled (a staged
/// Spawn request); the object must hold them.
fn read_staged(memory: u64, length: usize) -> Result<Vec<u8>, i32> {
    if length == 0 || length > ARG_MAX + 64 * 1024 {
        return Err(E2BIG);
    }
    let pages = length.div_ceil(4096) as u64;
    sys::memory_map(memory, sys::SELF, STAGE_SCRATCH, 0, pages, 0).map_err(|_| EINVAL)?;
    // SAFETY: `pages` pages were just mapped read-only at STAGE_SCRATCH, and
    // `length` fits in them.
    let bytes = unsafe { core::slice::from_raw_parts(STAGE_SCRATCH as *const u8, length) }.to_vec();
    let _ = sys::memory_unmap(sys::SELF, STAGE_SCRATCH);
    Ok(bytes)
}

fn credentials_answer(set: &Credentials) -> Answer {
    match ipc::encode_vec(&ProcResponse::Credentials(set.clone())) {
        Ok(bytes) => Answer::Now(bytes, Vec::new()),
        Err(_) => err(EIO),
    }
}
