//! The keystore's partition: how the store lies on the block device only the
//! keystore holds (GPT type `zos_proto::block::KEYSTORE_PARTITION_TYPE`).
//!
//! Two slots, each the first half and the second half of the partition (at
//! most [`SLOT_SECTORS_MAX`] sectors each). A slot is one header sector —
//! magic `ZKSDEV01`, generation, payload length, the master key, and a
//! SHA-512 over all of it and the payload — then the payload (the
//! [`KeyStore::to_bytes`](crate::KeyStore::to_bytes) image). Each save writes
//! the slot not holding the newest generation, then flushes, so a power cut
//! during a save leaves the previous store whole. A partition of zeros is a
//! fresh one; anything else that has no valid slot is corrupt, reported and
//! left untouched.

use alloc::string::String;
use alloc::vec::Vec;
use sha2::{Digest, Sha512};

/// Bytes of a sector.
pub const SECTOR: usize = 512;
/// First bytes of a slot's header.
pub const DEVICE_MAGIC: &[u8; 8] = b"ZKSDEV01";
/// Largest slot: 256 KiB (a store of a few thousand keys).
pub const SLOT_SECTORS_MAX: u64 = 512;
/// Bytes of the header before its digest.
const HEADER_FIELDS: usize = 8 + 8 + 4 + 32;

/// What one slot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Never written (its header sector is all zero).
    Empty,
    Valid {
        generation: u64,
        master: [u8; 32],
        payload: Vec<u8>,
    },
    /// Written, but not a store any more.
    Corrupt(&'static str),
}

/// What the partition holds, from its two slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contents {
    /// Both slots empty: a new partition, to be initialised.
    Fresh,
    /// The newest valid slot (`index` 0 or 1).
    Store {
        index: usize,
        generation: u64,
        master: [u8; 32],
        payload: Vec<u8>,
    },
    /// No valid slot, and not fresh: the reason, for the report.
    Corrupt(String),
}

/// Sectors of each slot on a partition of `sectors` sectors (0 when the
/// partition is too small for a header and one payload sector).
pub fn slot_sectors(sectors: u64) -> u64 {
    let half = (sectors / 2).min(SLOT_SECTORS_MAX);
    if half < 2 {
        0
    } else {
        half
    }
}

/// The payload length a slot's header announces (to know how much to read
/// after the header), or `None` when the header is not one.
pub fn payload_len(header: &[u8]) -> Option<usize> {
    if header.len() < SECTOR || &header[..8] != DEVICE_MAGIC {
        return None;
    }
    Some(u32::from_le_bytes(header[16..20].try_into().ok()?) as usize)
}

fn seal(fields: &[u8], payload: &[u8]) -> [u8; 64] {
    let mut hash = Sha512::new();
    hash.update(fields);
    hash.update(payload);
    let mut out = [0u8; 64];
    out.copy_from_slice(&hash.finalize());
    out
}

/// A slot's bytes (header sector + payload, padded to whole sectors).
pub fn encode(generation: u64, master: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SECTOR + payload.len() + SECTOR);
    out.extend_from_slice(DEVICE_MAGIC);
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(master);
    let digest = seal(&out, payload);
    out.extend_from_slice(&digest);
    out.resize(SECTOR, 0);
    out.extend_from_slice(payload);
    out.resize(out.len().div_ceil(SECTOR) * SECTOR, 0);
    out
}

/// Reads one slot: `bytes` is its header sector followed by at least the
/// payload the header announces (fewer bytes: corrupt).
pub fn decode(bytes: &[u8]) -> Slot {
    let Some(header) = bytes.get(..SECTOR) else {
        return Slot::Corrupt("shorter than a sector");
    };
    if header.iter().all(|&b| b == 0) {
        return Slot::Empty;
    }
    if &header[..8] != DEVICE_MAGIC {
        return Slot::Corrupt("bad magic");
    }
    let Some(len) = payload_len(header) else {
        return Slot::Corrupt("bad header");
    };
    let Some(payload) = bytes.get(SECTOR..SECTOR.saturating_add(len)) else {
        return Slot::Corrupt("payload longer than the slot");
    };
    let fields = &header[..HEADER_FIELDS];
    if seal(fields, payload)[..] != header[HEADER_FIELDS..HEADER_FIELDS + 64] {
        return Slot::Corrupt("checksum mismatch");
    }
    let mut generation = [0u8; 8];
    generation.copy_from_slice(&header[8..16]);
    let mut master = [0u8; 32];
    master.copy_from_slice(&header[20..52]);
    Slot::Valid {
        generation: u64::from_le_bytes(generation),
        master,
        payload: payload.to_vec(),
    }
}

/// The partition's contents from its two slots.
pub fn choose(slots: [Slot; 2]) -> Contents {
    let mut best: Option<(usize, u64, [u8; 32], Vec<u8>)> = None;
    let mut reasons = Vec::new();
    for (index, slot) in slots.into_iter().enumerate() {
        match slot {
            Slot::Valid {
                generation,
                master,
                payload,
            } => {
                if best.as_ref().is_none_or(|b| generation > b.1) {
                    best = Some((index, generation, master, payload));
                }
            }
            Slot::Corrupt(reason) => reasons.push(alloc::format!("slot {index}: {reason}")),
            Slot::Empty => {}
        }
    }
    match best {
        Some((index, generation, master, payload)) => Contents::Store {
            index,
            generation,
            master,
            payload,
        },
        None if reasons.is_empty() => Contents::Fresh,
        None => Contents::Corrupt(reasons.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(generation: u64, payload: &[u8]) -> Vec<u8> {
        encode(generation, &[7; 32], payload)
    }

    #[test]
    fn round_trip_and_newest_slot_wins() {
        let a = slot(4, b"ZKS1 older");
        let b = slot(5, b"ZKS1 newer store");
        assert_eq!(a.len() % SECTOR, 0);
        let contents = choose([decode(&a), decode(&b)]);
        let Contents::Store {
            index,
            generation,
            master,
            payload,
        } = contents
        else {
            panic!("{contents:?}");
        };
        assert_eq!((index, generation, master), (1, 5, [7; 32]));
        assert_eq!(payload, b"ZKS1 newer store");
        assert_eq!(payload_len(&b), Some(16));
    }

    #[test]
    fn zeros_are_fresh_and_anything_else_corrupt() {
        let zero = alloc::vec![0u8; SECTOR * 2];
        assert_eq!(choose([decode(&zero), decode(&zero)]), Contents::Fresh);
        let random: Vec<u8> = (0..SECTOR * 2).map(|i| (i * 31 + 7) as u8).collect();
        assert!(matches!(
            choose([decode(&random), decode(&zero)]),
            Contents::Corrupt(reason) if reason.contains("bad magic")
        ));
    }

    #[test]
    fn a_torn_or_flipped_slot_falls_back_to_the_other() {
        let old = slot(1, b"old");
        let new = slot(2, b"new store");
        for cut in [0, 100, SECTOR, SECTOR + 3] {
            let torn = &new[..cut];
            let contents = choose([decode(&old), decode(torn)]);
            assert!(
                matches!(&contents, Contents::Store { generation: 1, .. }),
                "{cut}: {contents:?}"
            );
        }
        for at in 0..new.len() {
            let mut flipped = new.clone();
            flipped[at] ^= 0x20;
            let contents = choose([decode(&old), decode(&flipped)]);
            // Padding after the payload is not covered; everything else is.
            if at < SECTOR + 9 && !(HEADER_FIELDS + 64..SECTOR).contains(&at) {
                assert!(
                    matches!(&contents, Contents::Store { generation: 1, .. }),
                    "{at}: {contents:?}"
                );
            }
        }
        assert!(matches!(
            choose([decode(&new[..SECTOR + 2]), Slot::Empty]),
            Contents::Corrupt(_)
        ));
    }

    #[test]
    fn tiny_partitions_have_no_slots() {
        assert_eq!(slot_sectors(3), 0);
        assert_eq!(slot_sectors(4), 2);
        assert_eq!(slot_sectors(2048), SLOT_SECTORS_MAX);
    }
}
