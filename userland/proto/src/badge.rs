//! Client badges: how a server learns who calls.
//!
//! When a process looks up a service whose table entry says `client_badges =
//! true`, init mints the endpoint capability with a badge naming the caller:
//! its pid and the number of its credential set. The server reads both from the
//! badge of every message (the kernel sets it; no message field can forge it)
//! and asks init once per number what credentials it stands for
//! (`ProcRequest::CredentialSet`). Credential numbers never change meaning.
//!
//! Layout: bits 48..64 the tag, bits 32..48 the credential number, 0..32 the pid.

/// Tag in the top 16 bits of every client badge ("SE", for session).
pub const CLIENT_TAG: u64 = 0x5345 << 48;
/// The bits that hold the tag.
pub const TAG_MASK: u64 = 0xFFFF << 48;

/// The badge for process `pid` running with credential set `credentials`.
pub const fn client(credentials: u16, pid: u32) -> u64 {
    CLIENT_TAG | (credentials as u64) << 32 | pid as u64
}

/// Badge of an authority capability: a service's endpoint that init hands
/// to the services granted `"authority:SERVICE"` in the service table (e.g.
/// the keystore's right to ask devmgr for its partition). Only init mints it,
/// so a message arriving with it comes from a holder of that grant.
pub const AUTHORITY: u64 = 0x4155_5448 << 32;

/// Badge of `"axiom-authority:SERVICE"`: the same for Axiom's log (`axiomd`'s
/// right to ask devmgr for its partition), distinct from [`AUTHORITY`] so
/// neither holder can open the other's partition.
pub const AXIOM_AUTHORITY: u64 = 0x4158_4d4c << 32;

/// (credential number, pid) of a client badge; `None` for any other badge.
pub const fn parse(badge: u64) -> Option<(u16, u32)> {
    if badge & TAG_MASK != CLIENT_TAG {
        return None;
    }
    Some(((badge >> 32) as u16, badge as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_badges() {
        assert_eq!(parse(client(7, 42)), Some((7, 42)));
        assert_eq!(
            parse(client(u16::MAX, u32::MAX)),
            Some((u16::MAX, u32::MAX))
        );
        assert_eq!(parse(0), None);
        assert_eq!(parse(42), None);
        assert_eq!(parse(0x4649_4C45 << 32 | 3), None);
    }
}
