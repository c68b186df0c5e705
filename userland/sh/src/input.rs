//! Where command lines come from: the line editor on a terminal (raw mode,
//! history keys), or plain reads from a descriptor (a pipe today, a script
//! file once `open` exists), split into bounded lines.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use libzos::posix::{self, Fd};
use zos_sh_core::editor::{EditEvent, LineEditor};
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
    pub fn read_line(&mut self, prompt: &str, history: &History) -> ReadLine {
        match self {
            LineSource::Editor {
                terminal,
                editor,
                pending,
            } => {
                terminal.raw();
                let result = edit_line(terminal.fd(), editor, pending, prompt, history);
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
) -> ReadLine {
    editor.begin(prompt);
    let mut buffer = [0u8; READ_CHUNK];
    loop {
        let (event, used) = editor.feed_all(pending, history);
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
