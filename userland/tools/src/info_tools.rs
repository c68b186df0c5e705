//! Tools that describe files and file systems: `ls`, `stat`, `find`, `df`,
//! `mount`, `sync`.

use crate::io::{status, warn_path, write_out, STDOUT};
use crate::tree::list_names;
use alloc::string::String;
use alloc::vec::Vec;
use libzos::fs::{self, FileStat};
use libzos::posix;
use zos_tools_core::df::{self, DfRow};
use zos_tools_core::find::{self, FindOptions};
use zos_tools_core::ls::{self, LongEntry, LsOptions};
use zos_tools_core::mode::type_letter;
use zos_tools_core::path::{file_name, join};
use zos_tools_core::{file_options, stat as stat_report, Failure};

/// Terminal width assumed for `ls` columns (there is no window-size query yet).
const TERMINAL_COLUMNS: usize = 80;
/// `find` output is written when it reaches this size.
const FIND_FLUSH: usize = 8 * 1024;

/// A long-listing row for `path`, shown as `name`.
fn long_entry(name: &str, path: &str, stat: FileStat) -> LongEntry {
    let link_target = if stat.is_symlink() {
        posix::readlink(path).ok()
    } else {
        None
    };
    LongEntry {
        name: name.into(),
        stat,
        link_target,
    }
}

/// Prints names or long rows.
fn print_listing(
    options: &LsOptions,
    names: &[String],
    rows: &[LongEntry],
    total: bool,
) -> Result<(), Failure> {
    if options.long {
        if total {
            write_out(ls::total_line(rows).as_bytes())?;
        }
        let names = crate::users::Names::load();
        let table = ls::long_table_named(rows, options.human, &|uid| names.user(uid), &|gid| {
            names.group(gid)
        });
        return write_out(table.as_bytes());
    }
    let text = if !options.one_per_line && posix::isatty(STDOUT) {
        ls::columns(names, TERMINAL_COLUMNS)
    } else {
        let mut text = String::new();
        for name in names {
            text.push_str(name);
            text.push('\n');
        }
        text
    };
    write_out(text.as_bytes())
}

/// Lists the entries of directory `path`; false if some could not be read.
fn list_directory(options: &LsOptions, path: &str) -> Result<bool, Failure> {
    let mut ok = true;
    let mut names: Vec<String> = match posix::read_dir(path) {
        Ok(dir) => {
            let mut names = Vec::new();
            for entry in dir {
                match entry {
                    Ok(entry) if ls::shows(&entry.name, options.all) => names.push(entry.name),
                    Ok(_) => {}
                    Err(error) => {
                        warn_path("ls", path, error);
                        ok = false;
                        break;
                    }
                }
            }
            names
        }
        Err(error) => {
            warn_path("ls", path, error);
            return Ok(false);
        }
    };
    ls::sort_names(&mut names);
    let mut rows = Vec::new();
    if options.long {
        for name in &names {
            let full = join(path, name);
            match posix::lstat(&full) {
                Ok(stat) => rows.push(long_entry(name, &full, stat)),
                Err(error) => {
                    warn_path("ls", &full, error);
                    ok = false;
                }
            }
        }
    }
    print_listing(options, &names, &rows, true)?;
    Ok(ok)
}

pub fn ls(args: &[&str]) -> Result<(), Failure> {
    let options = ls::parse(args)?;
    let mut failed = false;
    let mut file_names = Vec::new();
    let mut file_rows = Vec::new();
    let mut directories = Vec::new();
    for path in &options.paths {
        // A symlink operand is listed as itself with -l or -d, else followed.
        let described = if options.long || options.directory_itself {
            posix::lstat(path)
        } else {
            posix::stat(path).or_else(|_| posix::lstat(path))
        };
        match described {
            Ok(stat) if stat.is_dir() && !options.directory_itself => directories.push(*path),
            Ok(stat) => {
                file_names.push(String::from(*path));
                file_rows.push(long_entry(path, path, stat));
            }
            Err(error) => {
                warn_path("ls", path, error);
                failed = true;
            }
        }
    }
    let mut first = true;
    if !file_names.is_empty() {
        print_listing(&options, &file_names, &file_rows, false)?;
        first = false;
    }
    let with_headers = options.paths.len() > 1;
    for dir in directories {
        if with_headers {
            write_out(ls::directory_header(dir, first).as_bytes())?;
        }
        first = false;
        failed |= !list_directory(&options, dir)?;
    }
    status(failed)
}

pub fn stat(args: &[&str]) -> Result<(), Failure> {
    let options = stat_report::parse(args)?;
    let mut failed = false;
    for path in &options.paths {
        let described = if options.follow_links {
            posix::stat(path)
        } else {
            posix::lstat(path)
        };
        match described {
            Ok(stat) => {
                let target = if stat.is_symlink() {
                    posix::readlink(path).ok()
                } else {
                    None
                };
                write_out(stat_report::report(path, &stat, target.as_deref()).as_bytes())?;
            }
            Err(error) => {
                warn_path("stat", path, error);
                failed = true;
            }
        }
    }
    status(failed)
}

/// The `find` walk: prints selected paths, goes into directories.
struct FindWalk<'o> {
    options: &'o FindOptions<'o>,
    out: String,
    failed: bool,
}

impl FindWalk<'_> {
    fn visit(&mut self, path: &str, depth: u32) -> Result<(), Failure> {
        let stat = match posix::lstat(path) {
            Ok(stat) => stat,
            Err(error) => {
                warn_path("find", path, error);
                self.failed = true;
                return Ok(());
            }
        };
        if self
            .options
            .selects(file_name(path), type_letter(stat.mode), depth)
        {
            self.out.push_str(path);
            self.out.push('\n');
            if self.out.len() >= FIND_FLUSH {
                write_out(self.out.as_bytes())?;
                self.out.clear();
            }
        }
        if stat.is_dir() && self.options.descends(depth) {
            match list_names(path) {
                Ok(names) => {
                    for name in names {
                        self.visit(&join(path, &name), depth + 1)?;
                    }
                }
                Err(error) => {
                    warn_path("find", path, error);
                    self.failed = true;
                }
            }
        }
        Ok(())
    }
}

pub fn find(args: &[&str]) -> Result<(), Failure> {
    let options = find::parse(args)?;
    let mut walk = FindWalk {
        options: &options,
        out: String::new(),
        failed: false,
    };
    for path in &options.paths {
        walk.visit(path, 0)?;
    }
    write_out(walk.out.as_bytes())?;
    status(walk.failed)
}

fn mount_table() -> Result<Vec<fs::Mount>, Failure> {
    fs::mounts().map_err(|error| Failure::Error(alloc::format!("cannot list mounts: {error}")))
}

pub fn df(args: &[&str]) -> Result<(), Failure> {
    file_options::no_operands(args)?;
    let mut failed = false;
    let mut text = df::df_header();
    text.push('\n');
    for mount in mount_table()? {
        match fs::statfs(&mount.path) {
            Ok(capacity) => {
                let row = DfRow {
                    fs_type: &mount.fs_type,
                    mount_point: &mount.path,
                    block_size: u64::from(capacity.block_size),
                    blocks: capacity.blocks,
                    free_blocks: capacity.free_blocks,
                };
                text.push_str(&df::df_line(&row));
                text.push('\n');
            }
            Err(error) => {
                warn_path("df", &mount.path, error);
                failed = true;
            }
        }
    }
    write_out(text.as_bytes())?;
    status(failed)
}

pub fn mount(args: &[&str]) -> Result<(), Failure> {
    let command = df::parse_mount(args)?;
    if command == df::MountCommand::All {
        return crate::mount_all::mount_all();
    }
    if let df::MountCommand::Mount {
        fs_type,
        source,
        target,
        read_only,
    } = command
    {
        let request = fs::MountRequest {
            source,
            target,
            fs_type,
            read_only,
            subdir: "",
        };
        return fs::mount_with_reason(&request).map_err(|error| match error.reason {
            // The server's reason names the problem with the source.
            Some(reason) => Failure::Error(alloc::format!("{source}: {reason}")),
            None => Failure::Error(alloc::format!(
                "mounting {source} on {target}: {}",
                error.errno.describe()
            )),
        });
    }
    let mut text = String::new();
    for mount in mount_table()? {
        text.push_str(&df::mount_line(
            &mount.fs_type,
            &mount.path,
            mount.read_only,
        ));
        text.push('\n');
    }
    write_out(text.as_bytes())
}

pub fn umount(args: &[&str]) -> Result<(), Failure> {
    let [target] = args else {
        return Err(Failure::Usage("usage: umount DIR".into()));
    };
    fs::unmount(target).map_err(|error| {
        Failure::Error(alloc::format!("unmounting {target}: {}", error.describe()))
    })
}

pub fn sync(args: &[&str]) -> Result<(), Failure> {
    file_options::no_operands(args)?;
    fs::sync().map_err(|error| Failure::Error(alloc::format!("{error}")))
}

/// devmgr's endpoint.
fn devmgr() -> Result<u64, Failure> {
    use libzos::ipc;
    use zos_proto::block::DEVMGR_SERVICE;
    use zos_proto::proc::{ProcRequest, ProcResponse};
    let unavailable = || Failure::Error(String::from("the device manager is not running"));
    let lookup = ProcRequest::Lookup {
        name: DEVMGR_SERVICE,
    };
    let reply =
        ipc::call(zos_proto::start::slots::PROC, &lookup, &[]).map_err(|_| unavailable())?;
    match (reply.decode::<ProcResponse>(), reply.caps.first()) {
        (Some(ProcResponse::Attached), Some(&cap)) => Ok(cap),
        _ => Err(unavailable()),
    }
}

/// `lsdev -r NAME SECTOR COUNT [-w]`: reads COUNT sectors of block device
/// NAME through the block protocol (a block handle from devmgr, a CONTIGUOUS
/// buffer attached once, `Read`), with `-w` writes them back in place and
/// flushes, and copies them to standard output. What ext2 does, as a tool.
fn block_read(args: &[&str]) -> Result<(), Failure> {
    use libzos::{ipc, sys};
    use zos_proto::block::{BlockRequest, BlockResponse, DevRequest, DevResponse};
    let usage = || Failure::Usage(String::from("-r NAME SECTOR COUNT [-w]"));
    let (name, sector, count) = match args {
        [name, sector, count, ..] => (
            *name,
            sector.parse::<u64>().map_err(|_| usage())?,
            count.parse::<u32>().map_err(|_| usage())?,
        ),
        _ => return Err(usage()),
    };
    let rewrite = args.get(3) == Some(&"-w");
    let failed = |what: &str, e: i32| {
        let errno = libzos::posix::Errno(e);
        Failure::Error(alloc::format!("{name}: {what}: {errno}"))
    };
    let call =
        |handle: u64, request: &BlockRequest, caps: &[u64]| match ipc::call(handle, request, caps)
            .map(|r| r.decode::<BlockResponse>())
        {
            Ok(Some(BlockResponse::Err(e))) => Err(e),
            Ok(Some(answer)) => Ok(answer),
            _ => Err(zos_proto::errno::EIO),
        };
    let devmgr = devmgr()?;
    let reply = ipc::call(devmgr, &DevRequest::OpenBlock { name }, &[]);
    let _ = sys::cap_delete(devmgr);
    let handle = match reply
        .as_ref()
        .map(|r| (r.decode::<DevResponse>(), r.caps.as_slice()))
    {
        Ok((Some(DevResponse::Opened), &[cap])) => cap,
        Ok((Some(DevResponse::Err(e)), _)) => return Err(failed("open", e)),
        _ => return Err(failed("open", zos_proto::errno::EIO)),
    };
    let bytes = count as u64 * 512;
    let size = bytes.div_ceil(4096).max(1) * 4096;
    let va = libzos::abi::layout::DMA_WINDOW;
    let no_memory = |_| failed("buffer", zos_proto::errno::ENOMEM);
    let memory = sys::memory_create_contiguous(size).map_err(no_memory)?;
    let writable = libzos::abi::map_flags::WRITE;
    sys::memory_map(memory, sys::SELF, va, 0, size / 4096, writable).map_err(no_memory)?;
    let copy = sys::cap_copy(memory, sys::SELF, sys::NONE).map_err(no_memory)?;
    call(handle, &BlockRequest::Attach, &[copy]).map_err(|e| failed("attach", e))?;
    let read = BlockRequest::Read {
        sector,
        count,
        offset: 0,
    };
    call(handle, &read, &[]).map_err(|e| failed("read", e))?;
    if rewrite {
        let write = BlockRequest::Write {
            sector,
            count,
            offset: 0,
        };
        call(handle, &write, &[]).map_err(|e| failed("write", e))?;
        call(handle, &BlockRequest::Flush, &[]).map_err(|e| failed("flush", e))?;
    }
    // SAFETY: `va` maps `size` >= `bytes` bytes of our buffer; the driver is
    // done with it (every request was answered).
    let data = unsafe { core::slice::from_raw_parts(va as *const u8, bytes as usize) };
    let result = write_out(data);
    let _ = call(handle, &BlockRequest::Close, &[]);
    let _ = sys::cap_delete(handle);
    result
}

/// `lsdev`: devmgr's device list and block devices (`-r`: see [`block_read`]).
pub fn lsdev(args: &[&str]) -> Result<(), Failure> {
    use libzos::ipc;
    use zos_proto::block::{DevRequest, DevResponse};
    if args.first() == Some(&"-r") {
        return block_read(&args[1..]);
    }
    file_options::no_operands(args)?;
    let devmgr = devmgr()?;
    let ask = |request: &DevRequest| {
        ipc::call(devmgr, request, &[])
            .ok()
            .and_then(|r| r.decode::<DevResponse>())
    };
    let devices = match ask(&DevRequest::List) {
        Some(DevResponse::Devices(devices)) => devices,
        _ => Vec::new(),
    };
    let blocks = match ask(&DevRequest::Blocks) {
        Some(DevResponse::Blocks(blocks)) => blocks,
        _ => Vec::new(),
    };
    let _ = libzos::sys::cap_delete(devmgr);
    write_out(zos_tools_core::lsdev::format(&devices, &blocks).as_bytes())
}
