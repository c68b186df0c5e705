//! A pipe's byte buffer with POSIX semantics: bounded, readers see end of file
//! once every write end is closed, writers get EPIPE once every read end is.

use alloc::collections::VecDeque;

/// Bytes a pipe holds before writers wait.
pub const PIPE_CAPACITY: usize = zos_proto::ring::CAPACITY;

#[derive(Debug, Default)]
pub struct Pipe {
    data: VecDeque<u8>,
    pub readers: u32,
    pub writers: u32,
}

/// Outcome of a read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    Data(alloc::vec::Vec<u8>),
    EndOfFile,
    WouldBlock,
}

/// Outcome of a write.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Written(usize),
    BrokenPipe,
    WouldBlock,
}

impl Pipe {
    pub fn new() -> Self {
        Pipe {
            data: VecDeque::new(),
            readers: 1,
            writers: 1,
        }
    }

    pub fn read(&mut self, max: usize) -> ReadOutcome {
        if self.data.is_empty() {
            return if self.writers == 0 {
                ReadOutcome::EndOfFile
            } else {
                ReadOutcome::WouldBlock
            };
        }
        let n = max.min(self.data.len());
        ReadOutcome::Data(self.data.drain(..n).collect())
    }

    pub fn write(&mut self, bytes: &[u8]) -> WriteOutcome {
        if self.readers == 0 {
            return WriteOutcome::BrokenPipe;
        }
        let room = PIPE_CAPACITY - self.data.len();
        if room == 0 {
            return WriteOutcome::WouldBlock;
        }
        let n = room.min(bytes.len());
        self.data.extend(&bytes[..n]);
        WriteOutcome::Written(n)
    }

    pub fn buffered(&self) -> usize {
        self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eof_and_epipe() {
        let mut pipe = Pipe::new();
        assert_eq!(pipe.read(10), ReadOutcome::WouldBlock);
        assert_eq!(pipe.write(b"hello"), WriteOutcome::Written(5));
        assert_eq!(pipe.read(3), ReadOutcome::Data(b"hel".to_vec()));
        pipe.writers = 0;
        assert_eq!(pipe.read(10), ReadOutcome::Data(b"lo".to_vec()));
        assert_eq!(pipe.read(10), ReadOutcome::EndOfFile);
        pipe.readers = 0;
        assert_eq!(pipe.write(b"x"), WriteOutcome::BrokenPipe);
    }

    #[test]
    fn bounded() {
        let mut pipe = Pipe::new();
        let big = alloc::vec![7u8; PIPE_CAPACITY + 10];
        assert_eq!(pipe.write(&big), WriteOutcome::Written(PIPE_CAPACITY));
        assert_eq!(pipe.write(b"x"), WriteOutcome::WouldBlock);
    }
}
