#![no_std]
#![no_main]
libzos::entry!(main);
fn main(_arg: u64) -> i64 { 0 }
