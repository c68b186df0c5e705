//! Tools that move text: `echo`, `yes`, `head`, `wc`, `clear`.

use crate::io::{self, write_out};
use alloc::vec;
use alloc::vec::Vec;
use libzos::{eprintln, posix};
use zos_proto::MAX_IO_CHUNK;
use zos_tools_core::failure::EXIT_ERROR;
use zos_tools_core::head::{self, HeadFilter};
use zos_tools_core::wc::{self, Counter, Counts};
use zos_tools_core::{echo, yes, Failure};

/// Moves the cursor home and erases the screen.
const CLEAR_SCREEN: &[u8] = b"\x1b[H\x1b[2J";

pub fn clear() -> Result<(), Failure> {
    write_out(CLEAR_SCREEN)
}

pub fn echo(args: &[&str]) -> Result<(), Failure> {
    let (options, first_text) = echo::parse(args);
    write_out(&echo::render(&args[first_text..], options))
}

/// Prints the line until the reader goes away; each write carries a full
/// message's worth of lines.
pub fn yes(args: &[&str]) -> Result<(), Failure> {
    let buffer = yes::fill(&yes::line(args), MAX_IO_CHUNK);
    loop {
        write_out(&buffer)?;
    }
}

/// The operands, or `-` (standard input) when there are none.
fn inputs<'a>(files: &[&'a str]) -> Vec<&'a str> {
    if files.is_empty() {
        vec!["-"]
    } else {
        files.to_vec()
    }
}

pub fn head(args: &[&str]) -> Result<(), Failure> {
    let options = head::parse(args)?;
    let names = inputs(&options.files);
    let with_headers = names.len() > 1;
    let mut buffer = vec![0u8; MAX_IO_CHUNK];
    let mut failed = false;
    let mut first = true;
    for name in names {
        let fd = match io::open_input(name) {
            Ok(fd) => fd,
            Err(error) => {
                eprintln!("head: {}", io::input_error(name, error));
                failed = true;
                continue;
            }
        };
        if with_headers {
            write_out(head::file_header(name, first).as_bytes())?;
            first = false;
        }
        let mut filter = HeadFilter::new(options.limit);
        while !filter.is_done() {
            match posix::read(fd, &mut buffer) {
                Ok(0) => break,
                Ok(n) => write_out(filter.take(&buffer[..n]))?,
                Err(error) => {
                    eprintln!("head: {}", io::input_error(name, error));
                    failed = true;
                    break;
                }
            }
        }
        io::close_input(fd);
    }
    if failed {
        Err(Failure::Exit(EXIT_ERROR))
    } else {
        Ok(())
    }
}

pub fn wc(args: &[&str]) -> Result<(), Failure> {
    let options = wc::parse(args)?;
    let show_names = !options.files.is_empty();
    let names = inputs(&options.files);
    let mut buffer = vec![0u8; MAX_IO_CHUNK];
    let mut total = Counts::default();
    let mut failed = false;
    for name in &names {
        let fd = match io::open_input(name) {
            Ok(fd) => fd,
            Err(error) => {
                eprintln!("wc: {}", io::input_error(name, error));
                failed = true;
                continue;
            }
        };
        let mut counter = Counter::for_output(&options);
        let mut read_failed = false;
        loop {
            match posix::read(fd, &mut buffer) {
                Ok(0) => break,
                Ok(n) => counter.feed(&buffer[..n]),
                Err(error) => {
                    eprintln!("wc: {}", io::input_error(name, error));
                    read_failed = true;
                    break;
                }
            }
        }
        io::close_input(fd);
        failed |= read_failed;
        let counts = counter.counts();
        total.add(&counts);
        let label = show_names.then_some(*name);
        write_out(wc::format_line(&counts, &options, label).as_bytes())?;
    }
    if names.len() > 1 {
        write_out(wc::format_line(&total, &options, Some("total")).as_bytes())?;
    }
    if failed {
        Err(Failure::Exit(EXIT_ERROR))
    } else {
        Ok(())
    }
}
