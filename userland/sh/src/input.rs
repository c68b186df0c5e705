//! Where command lines come from: the line editor on a terminal (raw mode,
//! history keys), or plain reads from a descriptor (a pipe today, a script
//! file once `open` exists), split into bounded lines.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use libzos::posix::{self, Fd};
use zos_sh_core::completion;
use zos_sh_core::editor::{Completer, EditEvent, LineEditor};
use zos_sh_core::history::History;
use zos_sh_core::input::{LineItem, LineSplitter};

use crate::terminal::Terminal;

/// Bytes asked for per read.
const READ_CHUNK: usize = 512;

/// One attempt to read a line.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadLine {
    Line(String),
    /// Ctrl-C while editing.
    Cancelled,
    /// A line over the length limit was dropped.
    TooLong,
    /// End of input (or Ctrl-D on an empty line, or a read error).
    End,
}

pub enum LineSource {
    Editor {
        terminal: Rc<Terminal>,
        editor: LineEditor,
        /// Typed bytes not yet fed (input after an Enter).
        pending: Vec<u8>,
    },
    Plain {
        fd: Fd,
        splitter: LineSplitter,
        /// Whether to print prompts (an interactive shell not on a terminal).
        prompts: bool,
    },
}

impl LineSource {
    pub fn editor(terminal: Rc<Terminal>) -> LineSource {
        LineSource::Editor {
            terminal,
            editor: LineEditor::new(),
            pending: Vec::new(),
        }
    }

    pub fn plain(fd: Fd, prompts: bool) -> LineSource {
        LineSource::Plain {
            fd,
            splitter: LineSplitter::new(),
            prompts,
        }
    }

    pub fn terminal(&self) -> Option<&Terminal> {
        match self {
            LineSource::Editor { terminal, .. } => Some(terminal),
            LineSource::Plain { .. } => None,
        }
    }

    /// Reads one line after showing `prompt`.
    pub fn read_line(
        &mut self,
        prompt: &str,
        history: &History,
        completer: &mut dyn Completer,
    ) -> ReadLine {
        match self {
            LineSource::Editor {
                terminal,
                editor,
                pending,
            } => {
                terminal.raw();
                let result = edit_line(terminal.fd(), editor, pending, prompt, history, completer);
                terminal.cooked();
                result
            }
            LineSource::Plain {
                fd,
                splitter,
                prompts,
            } => {
                if *prompts {
                    libzos::print!("{prompt}");
                }
                read_plain_line(*fd, splitter)
            }
        }
    }
}

fn edit_line(
    fd: Fd,
    editor: &mut LineEditor,
    pending: &mut Vec<u8>,
    prompt: &str,
    history: &History,
    completer: &mut dyn Completer,
) -> ReadLine {
    editor.begin(prompt);
    let mut buffer = [0u8; READ_CHUNK];
    loop {
        let (event, used) = editor.feed_all_completing(pending, history, completer);
        pending.drain(..used);
        let _ = posix::write_all(1, editor.take_output().as_bytes());
        match event {
            EditEvent::Pending => {}
            EditEvent::Line(line) => return ReadLine::Line(line),
            EditEvent::Cancelled => return ReadLine::Cancelled,
            EditEvent::EndOfInput => return ReadLine::End,
        }
        match posix::read(fd, &mut buffer) {
            Ok(0) | Err(_) => return ReadLine::End,
            Ok(count) => pending.extend_from_slice(&buffer[..count]),
        }
    }
}

fn read_plain_line(fd: Fd, splitter: &mut LineSplitter) -> ReadLine {
    let mut buffer = [0u8; READ_CHUNK];
    loop {
        match splitter.next_line() {
            Some(LineItem::Line(line)) => return ReadLine::Line(line),
            Some(LineItem::TooLong) => return ReadLine::TooLong,
            None if splitter.is_finished() => return ReadLine::End,
            None => {}
        }
        match posix::read(fd, &mut buffer) {
            Ok(0) | Err(_) => splitter.end(),
            Ok(count) => splitter.push(&buffer[..count]),
        }
    }
}

/// Tab completion at the prompt: command names (built-ins, functions,
/// aliases, programs on `$PATH`) for the first word, paths otherwise.
pub struct ShellCompleter {
    pub commands: Vec<String>,
    pub path: String,
}

fn directory_names(directory: &str) -> Vec<(String, bool)> {
    let Ok(listing) = libzos::fs::read_dir(directory) else {
        return Vec::new();
    };
    listing
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.name != "." && entry.name != "..")
        .map(|entry| {
            let is_dir = entry.kind == libzos::fs::dirent_type::DT_DIR;
            (entry.name, is_dir)
        })
        .collect()
}

impl Completer for ShellCompleter {
    fn complete(&mut self, word: &str, first: bool) -> Vec<String> {
        if first && !word.contains('/') {
            let mut names: Vec<String> = self
                .commands
                .iter()
                .filter(|name| name.starts_with(word))
                .cloned()
                .collect();
            for directory in self.path.split(':').filter(|d| !d.is_empty()) {
                names.extend(
                    directory_names(directory)
                        .into_iter()
                        .filter(|(name, is_dir)| !is_dir && name.starts_with(word))
                        .map(|(name, _)| name),
                );
            }
            names.sort();
            names.dedup();
            return names;
        }
        let (directory, _) = completion::split_path(word);
        completion::path_candidates(word, &directory_names(&directory))
    }
}
