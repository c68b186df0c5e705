//! zbox: the Zero OS multi-call tools binary. Installed as `/sbin/zbox`, with
//! `/bin/<tool>` symlinks to it; it runs the tool named by the base name of
//! argv[0], or by argv[1] when called as `zbox TOOL ...`. `zbox` alone or
//! `zbox --list` lists the tools.
//!
//! Parsing, counting and formatting live in `zos-tools-core` (host-tested);
//! this crate only moves bytes through `libzos::posix`.
#![no_std]
#![no_main]

extern crate alloc;

mod axiom_tool;
mod cksum_tool;
mod file_tools;
mod info_tools;
mod io;
mod key_tools;
mod mount_all;
mod net_tools;
mod process_tools;
mod script_tools;
mod stream_tools;
mod system_tools;
mod text_tools;
mod tree;
mod users;
mod web_tools;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libzos::{eprintln, posix};
use zos_tools_core::dispatch::{self, Invocation, Tool, MULTI_CALL_NAME, TOOLS};
use zos_tools_core::failure::{self, EXIT_USAGE};
use zos_tools_core::Failure;

libzos::entry!(main);

fn main(_arg: u64) -> i64 {
    let argv: Vec<&str> = posix::args().iter().map(String::as_str).collect();
    let code = match dispatch::resolve(&argv) {
        Invocation::List => failure::exit_code(&list_tools()),
        Invocation::Unknown(name) => {
            eprintln!(
                "{MULTI_CALL_NAME}: unknown tool '{name}' ('{MULTI_CALL_NAME} --list' shows them)"
            );
            EXIT_USAGE
        }
        Invocation::Run { tool, args } => {
            let result = run(tool, args);
            report(tool, &result);
            failure::exit_code(&result)
        }
    };
    i64::from(code)
}

fn run(tool: &Tool, args: &[&str]) -> Result<(), Failure> {
    match tool.name {
        "[" | "test" => script_tools::test(tool.name, args),
        "axiom" => axiom_tool::axiom(args),
        "basename" => script_tools::basename(args),
        "cat" => stream_tools::cat(args),
        "chmod" => script_tools::chmod(args),
        "date" => script_tools::date(args),
        "chgrp" => users::chgrp(args),
        "chown" => users::chown(args),
        "getty" => users::getty(args),
        "groupadd" => users::groupadd(args),
        "login" => users::login(args),
        "passwd" => users::passwd(args),
        "su" => users::su(args),
        "useradd" => users::useradd(args),
        "userdel" => users::userdel(args),
        "usermod" => users::usermod(args),
        "who" => users::who(args),
        "whoami" => users::whoami(args),
        "zkey" => key_tools::zkey(args),
        "dirname" => script_tools::dirname(args),
        "hostname" => script_tools::hostname(args),
        "id" => users::id(args),
        "printf" => script_tools::printf(args),
        "seq" => script_tools::seq(args),
        "which" => script_tools::which(args),
        "clear" => text_tools::clear(),
        "cksum" => cksum_tool::cksum(args),
        "cp" => file_tools::cp(args),
        "dd" => file_tools::dd(args),
        "df" => info_tools::df(args),
        "dmesg" => system_tools::dmesg(),
        "echo" => text_tools::echo(args),
        "env" => process_tools::env(args),
        "false" => Err(Failure::Exit(failure::EXIT_ERROR)),
        "find" => info_tools::find(args),
        "free" => system_tools::free(args),
        "grep" => stream_tools::grep(args),
        "head" => text_tools::head(args),
        "hexdump" => stream_tools::hexdump(args),
        "kill" => process_tools::kill(args),
        "ln" => file_tools::ln(args),
        "ls" => info_tools::ls(args),
        "lsdev" => info_tools::lsdev(args),
        "mkdir" => file_tools::mkdir(args),
        "mount" => info_tools::mount(args),
        "umount" => info_tools::umount(args),
        "mv" => file_tools::mv(args),
        "nc" => net_tools::nc(args),
        "netstat" => net_tools::netstat(args),
        "httpd" => web_tools::httpd(args),
        "ifconfig" => web_tools::ifconfig(args),
        "nslookup" => web_tools::nslookup(args),
        "ping" => web_tools::ping(args),
        "sha256sum" => web_tools::sha256sum(args),
        "wget" => web_tools::wget(args),
        "od" => stream_tools::od(args),
        "poweroff" => system_tools::power_off(),
        "ps" => process_tools::ps(args),
        "reboot" => system_tools::reboot(),
        "rm" => file_tools::rm(args),
        "rmdir" => file_tools::rmdir(args),
        "sleep" => system_tools::sleep(args),
        "stat" => info_tools::stat(args),
        "svc" => process_tools::svc(args),
        "sync" => info_tools::sync(args),
        "tail" => stream_tools::tail(args),
        "tee" => stream_tools::tee(args),
        "touch" => file_tools::touch(args),
        "true" => Ok(()),
        "uname" => system_tools::uname(args),
        "nproc" => system_tools::nproc(args),
        "spin" => system_tools::spin(args),
        "uptime" => system_tools::uptime(args),
        "wc" => text_tools::wc(args),
        "yes" => text_tools::yes(args),
        other => Err(Failure::Error(format!(
            "'{other}' is listed but not built into this {MULTI_CALL_NAME}"
        ))),
    }
}

/// Prints `TOOL: message` (and the usage line after a usage error).
fn report(tool: &Tool, result: &Result<(), Failure>) {
    let Err(failure) = result else {
        return;
    };
    if let Some(message) = failure.message() {
        eprintln!("{}: {message}", tool.name);
    }
    if let Failure::Usage(_) = failure {
        eprintln!("usage: {}", tool.usage);
    }
}

fn list_tools() -> Result<(), Failure> {
    let mut text = format!(
        "{MULTI_CALL_NAME}: the Zero OS tools. Run as TOOL or as '{MULTI_CALL_NAME} TOOL'.\n"
    );
    for tool in TOOLS {
        text.push_str(&format!("  {:<10} {}\n", tool.name, tool.summary));
    }
    io::write_out(text.as_bytes())
}
