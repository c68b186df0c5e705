//! Redirections without fork: the shell changes its own descriptors 0–9
//! (keeping a copy of each one it replaces at 10 or above) around a
//! built-in, function, compound command or spawn — children inherit
//! 0–9, never the copies — and puts them back afterwards (`exec` keeps them).
//! Here-documents are fed through a pipe (a temporary file when the body
//! is larger than a pipe holds).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use libzos::fs::{O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use libzos::posix::{self, Fd};
use zos_sh_syntax::{expand_to_string, Redirect, RedirectKind, RedirectTarget};

use crate::shell::{move_high, user_descriptor, Shell};

/// Largest here-document sent through a pipe (the pipe holds 64 KiB).
const PIPE_BODY_LIMIT: usize = 60 * 1024;

/// A descriptor replaced by a redirection and its saved copy.
pub struct SavedFd {
    fd: Fd,
    copy: Option<Fd>,
}

impl Shell {
    /// Saves descriptor `fd` (a copy at 10+), `None` if it was closed.
    pub fn save_fd(&mut self, fd: Fd) -> Option<Fd> {
        posix::dup(fd).ok().map(move_high)
    }

    /// Puts back a descriptor saved by [`Shell::save_fd`].
    pub fn restore_fd(&mut self, fd: Fd, copy: Option<Fd>) {
        user_descriptor(fd);
        match copy {
            Some(copy) => {
                let _ = posix::dup2(copy, fd);
                let _ = posix::close(copy);
            }
            None => {
                let _ = posix::close(fd);
            }
        }
    }

    /// Applies redirections in order; on failure undoes what was done and
    /// returns the status (1).
    pub fn redirect(&mut self, redirects: &[Redirect]) -> Result<Vec<SavedFd>, i32> {
        let mut saved: Vec<SavedFd> = Vec::new();
        for redirect in redirects {
            let fd = redirect.descriptor() as Fd;
            // Descriptor 1 is about to matter as a real descriptor.
            if fd == 1
                || matches!(
                    redirect.kind,
                    RedirectKind::DupRead | RedirectKind::DupWrite
                )
            {
                self.materialize_capture();
            }
            if !saved.iter().any(|s| s.fd == fd) {
                let copy = self.save_fd(fd);
                saved.push(SavedFd { fd, copy });
            }
            let copies: Vec<Fd> = saved.iter().filter_map(|s| s.copy).collect();
            if let Err(message) = self.apply(redirect, fd, &copies) {
                self.complain(&message);
                self.restore(saved);
                return Err(1);
            }
        }
        Ok(saved)
    }

    /// Undoes redirections.
    pub fn restore(&mut self, saved: Vec<SavedFd>) {
        for entry in saved.into_iter().rev() {
            self.restore_fd(entry.fd, entry.copy);
        }
    }

    /// Keeps redirections (`exec`): drops the saved copies.
    pub fn forget(&mut self, saved: Vec<SavedFd>) {
        for entry in saved {
            if let Some(copy) = entry.copy {
                let _ = posix::close(copy);
            }
        }
    }

    /// Applies one redirection to `fd`; `copies` are the descriptors the
    /// shell saved others in, which a `>&N` may not name (they are not the
    /// user's: `>&10` with nothing open at 10 is a bad descriptor, as in
    /// other shells, not the copy just made there).
    fn apply(&mut self, redirect: &Redirect, fd: Fd, copies: &[Fd]) -> Result<(), String> {
        // Whatever `fd` holds from here on is the user's.
        user_descriptor(fd);
        let word = match &redirect.target {
            RedirectTarget::HereDoc(heredoc) => {
                let body = heredoc.body.borrow().clone();
                let text = if heredoc.quoted {
                    body.as_literal().unwrap_or_default()
                } else {
                    expand_to_string(&body, self).map_err(|e| e.to_string_message())?
                };
                let source = self.here_document(&text)?;
                let _ = posix::dup2(source, fd);
                let _ = posix::close(source);
                return Ok(());
            }
            RedirectTarget::Word(word) => word,
        };
        let target = expand_to_string(word, self).map_err(|e| e.to_string_message())?;
        let flags = match redirect.kind {
            RedirectKind::Read => O_RDONLY,
            RedirectKind::Write if self.options.noclobber => {
                let regular = libzos::fs::stat(&target).is_ok_and(|stat| stat.is_file());
                if regular {
                    return Err(format!("{target}: cannot overwrite existing file"));
                }
                O_WRONLY | O_CREAT | O_TRUNC
            }
            RedirectKind::Write | RedirectKind::Clobber => O_WRONLY | O_CREAT | O_TRUNC,
            RedirectKind::Append => O_WRONLY | O_CREAT | O_APPEND,
            RedirectKind::ReadWrite => O_RDWR | O_CREAT,
            RedirectKind::DupRead | RedirectKind::DupWrite => {
                if target == "-" {
                    let _ = posix::close(fd);
                    return Ok(());
                }
                let source: Fd = target
                    .parse()
                    .ok()
                    .filter(|source| !copies.contains(source))
                    .ok_or_else(|| format!("{target}: bad file descriptor"))?;
                if source != fd {
                    posix::dup2(source, fd).map_err(|error| format!("{source}: {error}"))?;
                }
                return Ok(());
            }
            RedirectKind::HereDoc => return Ok(()),
        };
        let opened =
            posix::open(&target, flags, 0o666).map_err(|error| format!("{target}: {error}"))?;
        if opened != fd {
            let _ = posix::dup2(opened, fd);
            let _ = posix::close(opened);
        }
        Ok(())
    }

    /// A readable descriptor holding `text`.
    fn here_document(&mut self, text: &str) -> Result<Fd, String> {
        if text.len() <= PIPE_BODY_LIMIT {
            let (read_end, write_end) =
                posix::pipe().map_err(|error| format!("pipe: {}", error.describe()))?;
            let read_end = move_high(read_end);
            let write_end = move_high(write_end);
            let _ = posix::write_all(write_end, text.as_bytes());
            let _ = posix::close(write_end);
            return Ok(read_end);
        }
        let path = self.temp_path("here");
        let fd = posix::open(&path, O_RDWR | O_CREAT | O_EXCL, 0o600)
            .map_err(|error| format!("{path}: {error}"))?;
        let _ = posix::write_all(fd, text.as_bytes());
        let _ = posix::close(fd);
        let fd = posix::open(&path, O_RDONLY, 0).map_err(|error| format!("{path}: {error}"))?;
        let _ = libzos::fs::unlink(&path);
        Ok(move_high(fd))
    }
}

/// The message of an expansion error.
trait Message {
    fn to_string_message(&self) -> String;
}

impl Message for zos_sh_syntax::ExpandError {
    fn to_string_message(&self) -> String {
        format!("{self}")
    }
}
