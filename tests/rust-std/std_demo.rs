//! A Rust program using `std` on Zero OS: built for aarch64-unknown-linux-musl
//! and linked against Zero OS's musl and libzos (`zos-rust-ld`). Files, the
//! environment and `std::process::Command`; tests/acceptance/libc.exp checks
//! its lines.
use std::io::Write;
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("std-demo: args {args:?}");
    std::env::set_var("STD_DEMO", "set by std");
    println!("std-demo: env {:?}", std::env::var("STD_DEMO").ok());
    let path = std::env::temp_dir().join("std-demo.txt");
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(b"written by std\n"));
    let read = std::fs::read_to_string(&path);
    println!("std-demo: file {:?} {:?}", written.is_ok(), read.as_deref().map(str::trim));
    let _ = std::fs::remove_file(&path);
    let mut numbers: Vec<u64> = (1..=20).map(|n| n * n % 17).collect();
    numbers.sort_unstable();
    numbers.dedup();
    println!("std-demo: collections {numbers:?}");
    match Command::new("sh").args(["-c", "echo from a child; exit 3"]).output() {
        Ok(output) => println!(
            "std-demo: command {:?} status {:?}",
            String::from_utf8_lossy(&output.stdout).trim(),
            output.status.code()
        ),
        Err(error) => println!("std-demo: command failed: {error}"),
    }
}
