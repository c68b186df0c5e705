//! Bookkeeping of the client buffers the netstack maps for bulk socket I/O
//! (`IoRequest::ShareBuffer`, then `ReadShared`/`WriteShared` carry only byte
//! counts). Free of system calls so it is host-tested: the service maps and
//! unmaps what this table tells it to.
//!
//! A client usually attaches the same Memory object to every socket it
//! holds, so buffers are keyed by the object's identity (its first frame):
//! one mapping per distinct buffer, counted by the handles using it and
//! released with the last of them. The number and size of buffers are
//! bounded, so a client cannot use up the netstack's address space or
//! quota; beyond the bound attaching fails and the client keeps to messages.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use zos_proto::errno::{EINVAL, ENFILE};

/// Largest buffer accepted (the client's is 64 KiB).
pub const MAX_BUFFER_BYTES: usize = 256 * 1024;
/// Distinct buffers mapped at once.
pub const MAX_BUFFERS: usize = 64;
const PAGE: usize = 4096;

/// Where a buffer lives: its window index (the service places window `i`
/// at a fixed address, `MAX_BUFFER_BYTES` apart) and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub index: usize,
    pub size: usize,
}

/// What the service must do after [`BufferTable::attach`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    pub window: Window,
    /// True: a new buffer, to be mapped with the capability passed in (the
    /// table keeps it). False: already mapped; the capability passed in is
    /// not needed (the service deletes it).
    pub map: bool,
    /// A buffer the handle used before that no handle uses any more: to be
    /// unmapped, with its capability deleted.
    pub released: Option<Released>,
}

/// A buffer no handle uses any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    pub index: usize,
    pub memory: u64,
}

struct Entry {
    key: u64,
    size: usize,
    /// The Memory capability the mapping was made with.
    memory: u64,
    users: usize,
}

/// The mapped buffers and which handle (badge) uses which.
#[derive(Default)]
pub struct BufferTable {
    entries: Vec<Option<Entry>>,
    by_handle: BTreeMap<u64, usize>,
}

impl BufferTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Attaches the buffer `key` (the object's identity) of `size` bytes,
    /// held as capability `memory`, to `handle`, replacing the handle's
    /// earlier buffer. `EINVAL`: a size of 0, not whole pages, above
    /// [`MAX_BUFFER_BYTES`], or a known buffer with another size. `ENFILE`:
    /// [`MAX_BUFFERS`] distinct buffers are mapped. On an error the handle
    /// keeps its earlier buffer.
    pub fn attach(
        &mut self,
        handle: u64,
        key: u64,
        size: usize,
        memory: u64,
    ) -> Result<Attached, i32> {
        if size == 0 || !size.is_multiple_of(PAGE) || size > MAX_BUFFER_BYTES {
            return Err(EINVAL);
        }
        let known = self
            .entries
            .iter()
            .position(|e| e.as_ref().is_some_and(|e| e.key == key));
        if let Some(index) = known.filter(|&i| self.by_handle.get(&handle) == Some(&i)) {
            // The same buffer again: nothing changes.
            return match self.entries[index].as_ref() {
                Some(entry) if entry.size == size => Ok(Attached {
                    window: Window { index, size },
                    map: false,
                    released: None,
                }),
                _ => Err(EINVAL),
            };
        }
        let (index, map) = match known {
            Some(index) => {
                let entry = self.entries[index].as_mut().ok_or(EINVAL)?;
                if entry.size != size {
                    return Err(EINVAL);
                }
                entry.users += 1;
                (index, false)
            }
            None => {
                let free = self.entries.iter().position(Option::is_none);
                let index = match free {
                    Some(index) => index,
                    None if self.entries.len() < MAX_BUFFERS => {
                        self.entries.push(None);
                        self.entries.len() - 1
                    }
                    None => return Err(ENFILE),
                };
                self.entries[index] = Some(Entry {
                    key,
                    size,
                    memory,
                    users: 1,
                });
                (index, true)
            }
        };
        let released = self
            .by_handle
            .insert(handle, index)
            .and_then(|old| self.drop_user(old));
        Ok(Attached {
            window: Window { index, size },
            map,
            released,
        })
    }

    /// The buffer `handle` uses.
    pub fn window(&self, handle: u64) -> Option<Window> {
        let &index = self.by_handle.get(&handle)?;
        let entry = self.entries.get(index)?.as_ref()?;
        Some(Window {
            index,
            size: entry.size,
        })
    }

    /// `handle` is gone (closed, its client dead) or its mapping failed:
    /// the buffer to unmap if it was the last user.
    pub fn detach(&mut self, handle: u64) -> Option<Released> {
        let index = self.by_handle.remove(&handle)?;
        self.drop_user(index)
    }

    /// Buffers mapped now.
    pub fn mapped(&self) -> usize {
        self.entries.iter().filter(|e| e.is_some()).count()
    }

    fn drop_user(&mut self, index: usize) -> Option<Released> {
        let slot = self.entries.get_mut(index)?;
        let entry = slot.as_mut()?;
        entry.users -= 1;
        if entry.users > 0 {
            return None;
        }
        let memory = entry.memory;
        *slot = None;
        Some(Released { index, memory })
    }
}

/// Checks a `WriteShared { len }` against the buffer: the byte count to
/// take, or `EINVAL` past its end.
pub fn write_len(window: Window, len: u32) -> Result<usize, i32> {
    let len = len as usize;
    if len > window.size {
        Err(EINVAL)
    } else {
        Ok(len)
    }
}

/// A `ReadShared { max }`: at most the buffer's size.
pub fn read_max(window: Window, max: u32) -> usize {
    (max as usize).min(window.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: usize = 64 * 1024;

    #[test]
    fn one_mapping_per_distinct_buffer() {
        let mut table = BufferTable::new();
        let first = table.attach(1, 0x1000, SIZE, 10).unwrap();
        assert!(first.map);
        let second = table.attach(2, 0x1000, SIZE, 11).unwrap();
        assert!(!second.map, "the same object is mapped once");
        assert_eq!(second.window, first.window);
        assert_eq!(table.mapped(), 1);
        // The first handle closes: still in use by the second.
        assert_eq!(table.detach(1), None);
        // The last one closes: unmapped, with the capability kept first.
        assert_eq!(
            table.detach(2),
            Some(Released {
                index: first.window.index,
                memory: 10
            })
        );
        assert_eq!(table.mapped(), 0);
        assert_eq!(table.window(2), None);
    }

    #[test]
    fn replacing_releases_the_old_buffer() {
        let mut table = BufferTable::new();
        let old = table.attach(1, 0x1000, SIZE, 10).unwrap();
        let new = table.attach(1, 0x2000, SIZE, 11).unwrap();
        assert!(new.map);
        assert_eq!(
            new.released,
            Some(Released {
                index: old.window.index,
                memory: 10
            })
        );
        // Attaching the same buffer again changes nothing.
        let again = table.attach(1, 0x2000, SIZE, 12).unwrap();
        assert!(!again.map);
        assert_eq!(again.released, None);
        assert_eq!(table.detach(1).map(|r| r.memory), Some(11));
    }

    #[test]
    fn bad_sizes_are_refused() {
        let mut table = BufferTable::new();
        assert_eq!(table.attach(1, 0x1000, 0, 10), Err(EINVAL));
        assert_eq!(table.attach(1, 0x1000, 100, 10), Err(EINVAL));
        assert_eq!(
            table.attach(1, 0x1000, MAX_BUFFER_BYTES + PAGE, 10),
            Err(EINVAL)
        );
        table.attach(1, 0x1000, SIZE, 10).unwrap();
        // Another handle claiming the same object with another size.
        assert_eq!(table.attach(2, 0x1000, 2 * SIZE, 11), Err(EINVAL));
        assert_eq!(table.window(2), None);
        assert_eq!(table.window(1).map(|w| w.size), Some(SIZE));
    }

    #[test]
    fn the_number_of_buffers_is_bounded() {
        let mut table = BufferTable::new();
        for n in 0..MAX_BUFFERS as u64 {
            assert!(table.attach(n, 0x1000 * (n + 1), SIZE, n).unwrap().map);
        }
        let beyond = MAX_BUFFERS as u64;
        assert_eq!(table.attach(beyond, 0xdead_0000, SIZE, 99), Err(ENFILE));
        // Sharing a mapped one still works, and a freed window is reused.
        assert!(!table.attach(beyond, 0x1000, SIZE, 99).unwrap().map);
        let freed = table.detach(5).unwrap();
        let reused = table.attach(500, 0xbeef_0000, SIZE, 98).unwrap();
        assert_eq!(reused.window.index, freed.index);
    }

    #[test]
    fn lengths_are_checked_against_the_buffer() {
        let window = Window {
            index: 0,
            size: SIZE,
        };
        assert_eq!(write_len(window, SIZE as u32), Ok(SIZE));
        assert_eq!(write_len(window, SIZE as u32 + 1), Err(EINVAL));
        assert_eq!(write_len(window, u32::MAX), Err(EINVAL));
        assert_eq!(read_max(window, u32::MAX), SIZE);
        assert_eq!(read_max(window, 10), 10);
    }
}
