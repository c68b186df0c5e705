//! Tools that stream file data: `cat`, `tee`, `tail`, `od`, `hexdump`,
//! `grep`. Each reads its inputs in [`CHUNK_SIZE`] pieces and never holds a
//! whole file (only `tail` keeps the lines it may still print).

use crate::io::{
    self, close_input, for_each_chunk, open_input, status, warn_path, write_out, StreamError,
    CHUNK_SIZE, STDIN,
};
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use libzos::posix::{self, Errno, Fd};
use libzos::{eprintln, fs};
use zos_tools_core::dump::{self, DumpOptions, Dumper};
use zos_tools_core::file_options;
use zos_tools_core::grep::{self, LineSplitter, Matcher, EXIT_NO_MATCH, EXIT_TROUBLE};
use zos_tools_core::head::file_header;
use zos_tools_core::tail::{self, TailBuffer, TailMode};
use zos_tools_core::Failure;

/// The operands, or `-` (standard input) when there are none.
fn inputs<'a>(files: &[&'a str]) -> Vec<&'a str> {
    if files.is_empty() {
        vec!["-"]
    } else {
        files.to_vec()
    }
}

/// Runs `each` over every chunk of every input; inputs that cannot be opened
/// or read are reported as `TOOL: NAME: error`. Returns whether any failed.
fn stream_inputs(
    tool: &str,
    names: &[&str],
    buffer: &mut [u8],
    mut each: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<bool, Failure> {
    let mut failed = false;
    for name in names {
        let fd = match open_input(name) {
            Ok(fd) => fd,
            Err(error) => {
                warn_path(tool, name, error);
                failed = true;
                continue;
            }
        };
        let result = for_each_chunk(fd, buffer, &mut each);
        close_input(fd);
        match result {
            Ok(()) => {}
            Err(StreamError::Read(error)) => {
                warn_path(tool, name, error);
                failed = true;
            }
            Err(StreamError::Stop(failure)) => return Err(failure),
        }
    }
    Ok(failed)
}

pub fn cat(args: &[&str]) -> Result<(), Failure> {
    let files = file_options::parse_cat(args)?;
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let failed = stream_inputs("cat", &inputs(&files), &mut buffer, write_out)?;
    status(failed)
}

pub fn tee(args: &[&str]) -> Result<(), Failure> {
    let options = file_options::parse_tee(args)?;
    let mode = if options.append {
        fs::O_APPEND
    } else {
        fs::O_TRUNC
    };
    let mut failed = false;
    let mut outputs: Vec<(&str, Fd)> = Vec::new();
    for name in &options.files {
        match posix::open(name, fs::O_WRONLY | fs::O_CREAT | mode, 0o666) {
            Ok(fd) => outputs.push((name, fd)),
            Err(error) => {
                warn_path("tee", name, error);
                failed = true;
            }
        }
    }
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let result = for_each_chunk(STDIN, &mut buffer, |chunk| {
        outputs.retain(|(name, fd)| match posix::write_all(*fd, chunk) {
            Ok(()) => true,
            Err(error) => {
                warn_path("tee", name, error);
                failed = true;
                let _ = posix::close(*fd);
                false
            }
        });
        write_out(chunk)
    });
    for (_, fd) in outputs {
        let _ = posix::close(fd);
    }
    match result {
        Ok(()) => status(failed),
        Err(StreamError::Read(error)) => {
            warn_path("tee", "-", error);
            status(true)
        }
        Err(StreamError::Stop(failure)) => Err(failure),
    }
}

/// For `tail -c N` of a regular file: skips to N bytes before its end.
fn seek_to_last_bytes(fd: Fd, bytes: u64) {
    if let Ok(stat) = posix::fstat(fd) {
        if stat.is_file() && stat.size > bytes {
            let _ = posix::lseek(fd, (stat.size - bytes) as i64, fs::SEEK_SET);
        }
    }
}

pub fn tail(args: &[&str]) -> Result<(), Failure> {
    let options = tail::parse(args)?;
    let names = inputs(&options.files);
    let with_headers = names.len() > 1;
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let mut failed = false;
    let mut first = true;
    for name in &names {
        let fd = match open_input(name) {
            Ok(fd) => fd,
            Err(error) => {
                warn_path("tail", name, error);
                failed = true;
                continue;
            }
        };
        if with_headers {
            write_out(file_header(name, first).as_bytes())?;
            first = false;
        }
        if let TailMode::LastBytes(bytes) = options.mode {
            seek_to_last_bytes(fd, bytes);
        }
        let mut kept = TailBuffer::new(options.mode);
        let result = for_each_chunk(fd, &mut buffer, |chunk| write_out(kept.feed(chunk)));
        close_input(fd);
        match result {
            Ok(()) => write_out(&kept.finish())?,
            Err(StreamError::Read(error)) => {
                warn_path("tail", name, error);
                failed = true;
            }
            Err(StreamError::Stop(failure)) => return Err(failure),
        }
    }
    status(failed)
}

fn run_dump(tool: &str, options: DumpOptions) -> Result<(), Failure> {
    let mut dumper = Dumper::new(options.format, options.verbose);
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let failed = stream_inputs(tool, &inputs(&options.files), &mut buffer, |chunk| {
        write_out(dumper.feed(chunk).as_bytes())
    })?;
    write_out(dumper.finish().as_bytes())?;
    status(failed)
}

pub fn od(args: &[&str]) -> Result<(), Failure> {
    run_dump("od", dump::parse_od(args)?)
}

pub fn hexdump(args: &[&str]) -> Result<(), Failure> {
    run_dump("hexdump", dump::parse_hexdump(args)?)
}

/// Output is gathered and written when it reaches this size.
const GREP_FLUSH: usize = 16 * 1024;

/// One input of `grep` being read: its selected lines so far and the
/// output not yet written.
struct GrepInput<'o> {
    options: &'o grep::GrepOptions<'o>,
    matcher: &'o Matcher,
    label: Option<&'o str>,
    line_number: u64,
    selected: u64,
    out: Vec<u8>,
    /// The input has NUL bytes in its first chunk: matches are reported as
    /// `Binary file NAME matches` instead of dumping the file (GNU grep does).
    binary: bool,
}

impl GrepInput<'_> {
    /// Tests one line; false when the answer is known and reading can stop.
    fn line(&mut self, line: &[u8]) -> bool {
        self.line_number += 1;
        if !self.matcher.selects(line, self.options.invert) {
            return true;
        }
        self.selected += 1;
        let options = self.options;
        if options.quiet || options.files_with_matches {
            return false;
        }
        if self.binary && !options.count {
            return false;
        }
        if !options.count {
            let number = options.line_numbers.then_some(self.line_number);
            self.out
                .extend_from_slice(grep::line_prefix(self.label, number).as_bytes());
            self.out.extend_from_slice(line);
            self.out.push(b'\n');
        }
        true
    }

    fn flush(&mut self) -> Result<(), Failure> {
        write_out(&self.out)?;
        self.out.clear();
        Ok(())
    }
}

pub fn grep(args: &[&str]) -> Result<(), Failure> {
    let options = grep::parse(args)?;
    let matcher = match Matcher::new(&options) {
        Ok(matcher) => matcher,
        Err(error) => {
            eprintln!("grep: {}", error.0);
            return Err(Failure::Exit(EXIT_TROUBLE));
        }
    };
    let names = inputs(&options.files);
    let label_lines = names.len() > 1;
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let mut any_selected = false;
    let mut trouble = false;
    for name in &names {
        let fd = match open_input(name) {
            Ok(fd) => fd,
            Err(error) => {
                if !options.no_messages {
                    warn_path("grep", name, error);
                }
                trouble = true;
                continue;
            }
        };
        let label = label_lines.then_some(io::display_name(name));
        let result = grep_one(fd, &options, &matcher, label, &mut buffer).and_then(
            |(selected, binary_match, error)| {
                if binary_match {
                    let shown = if *name == "-" {
                        "(standard input)"
                    } else {
                        name
                    };
                    write_out(format!("Binary file {shown} matches\n").as_bytes())?;
                }
                Ok((selected, error))
            },
        );
        close_input(fd);
        let (selected, read_error) = result?;
        if let Some(error) = read_error {
            if !options.no_messages {
                warn_path("grep", name, error);
            }
            trouble = true;
        }
        any_selected |= selected > 0;
        if options.quiet && any_selected {
            return Ok(());
        }
        if options.count {
            write_out(grep::count_line(label, selected).as_bytes())?;
        } else if options.files_with_matches && selected > 0 {
            write_out(io::display_name(name).as_bytes())?;
            write_out(b"\n")?;
        }
    }
    if trouble {
        Err(Failure::Exit(EXIT_TROUBLE))
    } else if any_selected {
        Ok(())
    } else {
        Err(Failure::Exit(EXIT_NO_MATCH))
    }
}

/// Reads one input and prints (or counts) its selected lines; returns how
/// many were selected, whether a binary input matched (nothing printed yet
/// for it), and the read error, if one happened.
fn grep_one(
    fd: Fd,
    options: &grep::GrepOptions,
    matcher: &Matcher,
    label: Option<&str>,
    buffer: &mut [u8],
) -> Result<(u64, bool, Option<Errno>), Failure> {
    let mut input = GrepInput {
        options,
        matcher,
        label,
        line_number: 0,
        selected: 0,
        out: Vec::new(),
        binary: false,
    };
    let mut splitter = LineSplitter::default();
    let mut read_error = None;
    let mut first_chunk = true;
    loop {
        let n = match posix::read(fd, buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) => {
                read_error = Some(error);
                break;
            }
        };
        if first_chunk {
            input.binary = buffer[..n].contains(&0);
            first_chunk = false;
        }
        let keep_going = splitter.feed(&buffer[..n], |line| input.line(line));
        if input.out.len() >= GREP_FLUSH {
            input.flush()?;
        }
        if !keep_going {
            input.flush()?;
            let binary_match = input.binary
                && input.selected > 0
                && !(options.count || options.quiet || options.files_with_matches);
            return Ok((input.selected, binary_match, None));
        }
    }
    if let Some(last) = splitter.finish() {
        input.line(&last);
    }
    input.flush()?;
    let binary_match = input.binary && input.selected > 0 && !options.count;
    Ok((input.selected, binary_match, read_error))
}
