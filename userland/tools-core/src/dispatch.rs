//! The tool table and how an invocation picks a tool: by the base name of
//! argv[0] (`/bin/head` is a symlink to `/sbin/zbox`), or by argv[1] when the
//! binary is called by its own name (`zbox head -n 1`).

/// The multi-call binary's own name.
pub const MULTI_CALL_NAME: &str = "zbox";

/// One tool: its name, usage line and a one-line summary for `zbox --list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub usage: &'static str,
    pub summary: &'static str,
}

const fn tool(name: &'static str, usage: &'static str, summary: &'static str) -> Tool {
    Tool {
        name,
        usage,
        summary,
    }
}

/// Every tool, sorted by name.
pub const TOOLS: &[Tool] = &[
    tool("[", "[ EXPRESSION ]", "evaluate a condition (as test)"),
    tool(
        "axiom",
        "axiom head | state | log [-p PID] [-n N] | export",
        "the kernel's Axiom log: chain head, state hash, syscalls, frames",
    ),
    tool(
        "basename",
        "basename PATH [SUFFIX]",
        "the last component of a path",
    ),
    tool(
        "cat",
        "cat [-u] [FILE]...",
        "copy files (or standard input) to standard output",
    ),
    tool("chgrp", "chgrp GROUP FILE...", "change the group of files"),
    tool(
        "chmod",
        "chmod MODE FILE...",
        "change file modes (octal or u+x,go-w style)",
    ),
    tool(
        "chown",
        "chown USER[:GROUP] FILE...",
        "change the owner (root only) and group of files",
    ),
    tool(
        "cksum",
        "cksum [FILE]...",
        "print the POSIX checksum and size of files",
    ),
    tool("clear", "clear", "clear the terminal screen"),
    tool(
        "cp",
        "cp [-r] [-f] SOURCE... DEST",
        "copy files and directories (symlinks stay links)",
    ),
    tool(
        "date",
        "date [+FORMAT] | date -s DATE",
        "print the time (UTC, from the real-time clock) or set it (root)",
    ),
    tool(
        "dd",
        "dd [if=FILE] [of=FILE] [bs=N] [count=N] [skip=N] [seek=N] [conv=notrunc,fsync]",
        "copy blocks between files and devices",
    ),
    tool(
        "df",
        "df",
        "space used and free on each mounted file system",
    ),
    tool(
        "dirname",
        "dirname PATH",
        "a path without its last component",
    ),
    tool("dmesg", "dmesg", "where the kernel log is"),
    tool("echo", "echo [-neE] [STRING]...", "print the arguments"),
    tool(
        "env",
        "env [-i] [-u NAME]... [NAME=VALUE]... [COMMAND [ARG]...]",
        "print the environment or run a command in a changed one",
    ),
    tool("false", "false", "exit with status 1"),
    tool(
        "find",
        "find [PATH]... [-name GLOB] [-type f|d|l] [-maxdepth N] [-mindepth N]",
        "walk directory trees and print matching paths",
    ),
    tool("free", "free [-b|-k|-m|-h]", "memory: total, used, free"),
    tool("getty", "getty", "the console's login prompt"),
    tool(
        "grep",
        "grep [-vinclqsF] [-e PATTERN | PATTERN] [FILE]...",
        "print lines matching a basic regular expression",
    ),
    tool("groupadd", "groupadd NAME", "add a group (root)"),
    tool(
        "head",
        "head [-n LINES] [-c BYTES] [FILE]...",
        "print the first lines or bytes",
    ),
    tool(
        "hexdump",
        "hexdump [-C] [-v] [FILE]...",
        "show bytes in hex (-C: with ASCII)",
    ),
    tool("hostname", "hostname", "print the machine's name"),
    tool(
        "httpd",
        "httpd [-p PORT] [-h DIR] [-v]",
        "serve the files of a directory over HTTP (foreground)",
    ),
    tool(
        "id",
        "id [-u|-g|-G] [-n] [USER]",
        "print user and group ids",
    ),
    tool(
        "ifconfig",
        "ifconfig [INTERFACE]",
        "show network interfaces, addresses and counters",
    ),
    tool(
        "kill",
        "kill [-SIGNAL | -s SIGNAL] PID|-PGID... | kill -l [SIGNAL|STATUS]...",
        "send a signal to processes",
    ),
    tool(
        "ln",
        "ln [-s] [-f] TARGET [NAME]",
        "make a hard or symbolic link",
    ),
    tool(
        "login",
        "login [USER]",
        "log in: check the password, start the user's shell",
    ),
    tool("ls", "ls [-la1dh] [PATH]...", "list directory contents"),
    tool(
        "lsdev",
        "lsdev",
        "list devices, their drivers and the block devices",
    ),
    tool("mkdir", "mkdir [-p] [-m MODE] DIR...", "make directories"),
    tool(
        "mount",
        "mount [-t TYPE] [-o ro] [SOURCE DIR]",
        "list the mounted file systems, or mount SOURCE on DIR",
    ),
    tool("mv", "mv [-f] SOURCE... DEST", "move or rename files"),
    tool(
        "nc",
        "nc [-u] [-d] HOST PORT | nc -l [-u] [-d] -p PORT",
        "connect to or listen on a TCP/UDP port, copying standard input and output",
    ),
    tool("netstat", "netstat", "list sockets with their state"),
    tool(
        "nproc",
        "nproc [-v]",
        "CPUs online (-v: and kernel-lock waits, busy ticks)",
    ),
    tool(
        "nslookup",
        "nslookup NAME",
        "look up a name's IPv4 addresses",
    ),
    tool(
        "od",
        "od [-x|-c|-o] [-v] [FILE]...",
        "show bytes as octal words, hex words or characters",
    ),
    tool(
        "passwd",
        "passwd [USER]",
        "change a password (typed without echo)",
    ),
    tool(
        "ping",
        "ping [-c COUNT] [-s SIZE] [-W SECONDS] HOST",
        "send ICMP echo requests and report round-trip times",
    ),
    tool("poweroff", "poweroff", "power the machine off"),
    tool(
        "printf",
        "printf FORMAT [ARGUMENT]...",
        "format and print the arguments",
    ),
    tool("ps", "ps", "list processes"),
    tool("reboot", "reboot", "restart the machine"),
    tool(
        "rm",
        "rm [-r] [-f] PATH...",
        "remove files and directory trees",
    ),
    tool("rmdir", "rmdir DIR...", "remove empty directories"),
    tool(
        "seq",
        "seq [-s SEP] [FIRST [INCREMENT]] LAST",
        "print a sequence of numbers",
    ),
    tool(
        "sha256sum",
        "sha256sum [FILE]...",
        "print SHA-256 checksums",
    ),
    tool(
        "sleep",
        "sleep NUMBER[s|m|h|d]...",
        "wait for a time (fractions allowed)",
    ),
    tool(
        "spin",
        "spin MILLIONS",
        "busy-loop MILLIONS million iterations (a CPU-bound job)",
    ),
    tool("stat", "stat [-L] PATH...", "show file attributes"),
    tool(
        "su",
        "su [-] [USER] [-c COMMAND]",
        "run a shell or command as another user",
    ),
    tool("svc", "svc", "list the services init manages"),
    tool("sync", "sync", "flush file systems"),
    tool(
        "tail",
        "tail [-n [+]N] [-c [+]N] [FILE]...",
        "print the last lines or bytes",
    ),
    tool(
        "tee",
        "tee [-a] [FILE]...",
        "copy standard input to files and standard output",
    ),
    tool(
        "test",
        "test EXPRESSION",
        "evaluate a condition: files, strings, integers",
    ),
    tool("touch", "touch [-c] FILE...", "create empty files"),
    tool("true", "true", "exit with status 0"),
    tool(
        "umount",
        "umount DIR",
        "unmount the file system mounted on DIR",
    ),
    tool("uname", "uname [-asnrm]", "print system information"),
    tool("uptime", "uptime", "time since boot and process count"),
    tool(
        "useradd",
        "useradd NAME",
        "add a user with a home and an identity key (root)",
    ),
    tool(
        "userdel",
        "userdel [-r] NAME",
        "remove a user, ending its sessions (root)",
    ),
    tool(
        "usermod",
        "usermod -aG GROUP[,GROUP] NAME",
        "add a user to groups (root)",
    ),
    tool(
        "wc",
        "wc [-lwmc] [FILE]...",
        "count lines, words, characters, bytes",
    ),
    tool(
        "wget",
        "wget [-q] [-O FILE|-] URL",
        "fetch a URL over HTTP/1.1 (follows one redirect)",
    ),
    tool("which", "which NAME...", "show where commands are on $PATH"),
    tool("who", "who", "list the open sessions"),
    tool("whoami", "whoami", "print the effective user name"),
    tool("yes", "yes [STRING]...", "print a line again and again"),
    tool(
        "zkey",
        "zkey list | sign FILE | verify FILE SIG [-u USER]",
        "sign and verify with your key in the keystore",
    ),
];

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|tool| tool.name == name)
}

/// Every tool's name, in table order.
pub fn tool_names() -> impl Iterator<Item = &'static str> {
    TOOLS.iter().map(|tool| tool.name)
}

/// The last component of a path (`/bin/head` → `head`, `head/` → `head`).
pub fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((_, last)) => last,
        None => trimmed,
    }
}

/// What an invocation asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invocation<'a, 'b> {
    /// Run `tool` with `args` (the arguments after the tool's name).
    Run {
        tool: &'static Tool,
        args: &'b [&'a str],
    },
    /// `zbox`, `zbox --list`: print the tools.
    List,
    /// No tool has this name.
    Unknown(&'a str),
}

/// Picks the tool from the full argument vector (argv[0] included).
pub fn resolve<'a, 'b>(argv: &'b [&'a str]) -> Invocation<'a, 'b> {
    let Some((first, rest)) = argv.split_first() else {
        return Invocation::List;
    };
    let called_as = basename(first);
    let (name, args) = if called_as == MULTI_CALL_NAME {
        match rest.split_first() {
            None => return Invocation::List,
            Some((&"--list" | &"--help" | &"-l" | &"-h", _)) => return Invocation::List,
            Some((name, args)) => (basename(name), args),
        }
    } else {
        (called_as, rest)
    };
    match find(name) {
        Some(tool) => Invocation::Run { tool, args },
        None => Invocation::Unknown(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        let names: alloc::vec::Vec<_> = tool_names().collect();
        assert!(names.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(!names.contains(&MULTI_CALL_NAME));
    }

    #[test]
    fn basenames() {
        assert_eq!(basename("/bin/head"), "head");
        assert_eq!(basename("head"), "head");
        assert_eq!(basename("/sbin/zbox/"), "zbox");
        assert_eq!(basename(""), "");
    }

    #[test]
    fn dispatch_by_argv0() {
        let argv = ["/bin/head", "-n", "1"];
        match resolve(&argv) {
            Invocation::Run { tool, args } => {
                assert_eq!(tool.name, "head");
                assert_eq!(args, ["-n", "1"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dispatch_by_argv1() {
        let argv = ["/sbin/zbox", "wc", "-l"];
        match resolve(&argv) {
            Invocation::Run { tool, args } => {
                assert_eq!(tool.name, "wc");
                assert_eq!(args, ["-l"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listing_and_unknown() {
        assert_eq!(resolve(&[]), Invocation::List);
        assert_eq!(resolve(&["zbox"]), Invocation::List);
        assert_eq!(resolve(&["/sbin/zbox", "--list"]), Invocation::List);
        assert_eq!(resolve(&["zbox", "frob"]), Invocation::Unknown("frob"));
        assert_eq!(resolve(&["/bin/frob"]), Invocation::Unknown("frob"));
    }
}
