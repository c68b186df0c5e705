//! The SysLog record: one per syscall, written by the kernel as the call
//! returns (or blocks), drained by `axiomd`.

/// Words of one record.
pub const SYS_RECORD_WORDS: usize = 11;

/// The result code of a call that blocked: its result is written when it
/// completes (by whoever wakes it) and is not in this record.
pub const PENDING: u16 = 0xFFFF;

/// The number of a completion record: the result of a call that blocked,
/// written when whoever woke the thread wrote its result registers (the
/// thread's previous [`PENDING`] record is the call).
pub const COMPLETION: u16 = 0xFFFF;

/// One syscall: who made it, its number and arguments, its result, and the
/// commits it produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysRecord {
    pub seq: u64,
    /// Slab indices of the calling process and thread (the commits name
    /// their pid and tid: `ProcessCreated`, `ThreadCreated`).
    pub process: u32,
    pub thread: u32,
    pub number: u16,
    /// The error code (0 success) or [`PENDING`].
    pub code: u16,
    pub args: [u64; 6],
    /// The first result value (register 1). For a [`PENDING`] `Call` or
    /// `ReplyRecv` that took the IPC fast path: the slab index + 1 of the
    /// thread it handed its message to, whose own call thereby completed
    /// with code 0 and this message (`args[1]` on); no [`COMPLETION`]
    /// record is written for it (the fast path's cost budget).
    pub value: u64,
    /// The commits it produced: `count` from sequence `first_commit`.
    pub first_commit: u64,
    pub commits: u32,
}

impl SysRecord {
    /// The record of a call about to run (result [`PENDING`] until known).
    #[inline]
    pub fn call(process: u32, thread: u32, number: u64, args: [u64; 6], first_commit: u64) -> Self {
        let number = number as u16;
        Self {
            process,
            thread,
            number,
            code: PENDING,
            args,
            first_commit,
            ..Self::default()
        }
    }

    /// The record with the call's result code and first value.
    #[inline]
    pub fn ended(self, code: u16, value: u64) -> Self {
        Self {
            code,
            value,
            ..self
        }
    }

    /// The result of a blocked call of `thread`, as it is written.
    #[inline]
    pub fn completion(
        process: u32,
        thread: u32,
        code: u64,
        value: Option<u64>,
        next_commit: u64,
    ) -> Self {
        Self {
            process,
            thread,
            number: COMPLETION,
            code: code as u16,
            value: value.unwrap_or(0),
            first_commit: next_commit,
            ..Self::default()
        }
    }

    #[inline]
    pub fn encode(&self) -> [u64; SYS_RECORD_WORDS] {
        let mut record = [0; SYS_RECORD_WORDS];
        self.encode_into(&mut record);
        record
    }

    /// [`SysRecord::encode`] into `record` (a ring's slot).
    #[inline]
    pub fn encode_into(&self, record: &mut [u64; SYS_RECORD_WORDS]) {
        let a = self.args;
        *record = [
            self.seq,
            self.process as u64 | (self.thread as u64) << 32,
            self.number as u64 | (self.code as u64) << 16 | (self.commits as u64) << 32,
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5],
            self.value,
            self.first_commit,
        ];
    }

    pub fn decode(w: &[u64; SYS_RECORD_WORDS]) -> Self {
        Self {
            seq: w[0],
            process: w[1] as u32,
            thread: (w[1] >> 32) as u32,
            number: w[2] as u16,
            code: (w[2] >> 16) as u16,
            commits: (w[2] >> 32) as u32,
            args: [w[3], w[4], w[5], w[6], w[7], w[8]],
            value: w[9],
            first_commit: w[10],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = SysRecord {
            seq: 3,
            process: 4,
            thread: 5,
            number: 24,
            code: PENDING,
            args: [1, 2, 3, 4, 5, u64::MAX],
            value: 9,
            first_commit: 100,
            commits: 7,
        };
        assert_eq!(SysRecord::decode(&r.encode()), r);
    }
}
