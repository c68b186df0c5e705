//! `u64` fields sent as eight raw bytes, for `#[serde(with = "crate::fixed")]`.
//!
//! postcard writes integers as varints, a byte at a time: nanoseconds since
//! 1970 take nine or ten. `postcard::fixint` sends eight fixed bytes, but as
//! a tuple of eight `u8`s, each through serde's machinery (~60 instructions
//! a field on each side). A byte string of eight is one length byte and one
//! copy: about 20 a side. Three of them travel in every `stat` reply.

use serde::de::{Error, Visitor};
use serde::{Deserializer, Serializer};

/// Writes `value` as an 8-byte little-endian byte string.
pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(&value.to_le_bytes())
}

/// Reads what [`serialize`] wrote; any other length is an error.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_bytes(EightBytes)
}

struct EightBytes;

impl<'de> Visitor<'de> for EightBytes {
    type Value = u64;

    fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str("eight bytes")
    }

    fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<u64, E> {
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| E::invalid_length(bytes.len(), &self))?;
        Ok(u64::from_le_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::FileStat;

    #[test]
    fn times_round_trip_in_eight_bytes_each() {
        let stat = FileStat {
            atime_ns: u64::MAX,
            mtime_ns: 1_764_633_600_123_456_789,
            ctime_ns: 0,
            ..FileStat::default()
        };
        let bytes = postcard::to_allocvec(&stat).expect("encodes");
        assert_eq!(postcard::from_bytes::<FileStat>(&bytes), Ok(stat));
        let mut short = bytes.clone();
        short.truncate(bytes.len() - 3);
        assert!(postcard::from_bytes::<FileStat>(&short).is_err());
    }

    #[test]
    fn a_wrong_length_is_an_error() {
        // A length byte of 7 where 8 must be.
        let seven = postcard::to_allocvec(&Bytes(&[1u8; 7])).expect("encodes");
        assert!(postcard::from_bytes::<Time>(&seven).is_err());
        let eight = postcard::to_allocvec(&Bytes(&[2u8; 8])).expect("encodes");
        assert_eq!(
            postcard::from_bytes::<Time>(&eight).map(|t| t.0),
            Ok(0x0202_0202_0202_0202)
        );
    }

    #[derive(serde::Deserialize)]
    struct Time(#[serde(with = "super")] u64);

    /// A byte string as serde sees one.
    struct Bytes<'a>(&'a [u8]);

    impl serde::Serialize for Bytes<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
}
