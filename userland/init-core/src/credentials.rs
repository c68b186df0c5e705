//! Credential sets and the rules init applies to them.
//!
//! Every process's credentials (`zos_proto::proc::Credentials`) are interned in a
//! [`CredentialTable`]: each distinct set gets a small number that never changes
//! meaning, so a server can cache what a client badge's number stands for
//! (`zos_proto::badge`). Number 0 is root, the credentials of init and of every
//! service it starts.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use zos_proto::proc::Credentials;

/// Interned credential sets, numbered from 0 (root).
pub struct CredentialTable {
    sets: Vec<Credentials>,
    numbers: BTreeMap<Credentials, u16>,
}

impl Default for CredentialTable {
    fn default() -> Self {
        Self::new()
    }
}

impl CredentialTable {
    pub fn new() -> Self {
        let mut table = CredentialTable {
            sets: Vec::new(),
            numbers: BTreeMap::new(),
        };
        let _ = table.intern(Credentials::root());
        table
    }

    /// The number of `credentials`, adding the set if it is new. Groups are
    /// sorted and deduplicated first, so equal sets share a number. `None` once
    /// 65,536 distinct sets exist or with too many groups.
    pub fn intern(&mut self, mut credentials: Credentials) -> Option<u16> {
        credentials.groups.sort_unstable();
        credentials.groups.dedup();
        if credentials.groups.len() > Credentials::MAX_GROUPS {
            return None;
        }
        if let Some(&number) = self.numbers.get(&credentials) {
            return Some(number);
        }
        let number = u16::try_from(self.sets.len()).ok()?;
        self.sets.push(credentials.clone());
        self.numbers.insert(credentials, number);
        Some(number)
    }

    pub fn get(&self, number: u16) -> Option<&Credentials> {
        self.sets.get(number as usize)
    }
}

/// Whether a process with credentials `sender` may signal one with `target`:
/// root may signal anyone; others only processes whose real or effective user
/// matches their own real or effective user (POSIX `kill`).
pub fn may_signal(sender: &Credentials, target: &Credentials) -> bool {
    sender.euid == 0
        || [sender.uid, sender.euid]
            .iter()
            .any(|id| *id == target.uid || *id == target.euid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn root_is_zero_and_numbers_are_stable() {
        let mut table = CredentialTable::new();
        assert_eq!(table.get(0), Some(&Credentials::root()));
        let alice = Credentials::user(1000, 1000, vec![100, 1000]);
        let a = table.intern(alice.clone()).expect("room");
        assert_eq!(a, 1);
        let same = Credentials::user(1000, 1000, vec![1000, 100, 100]);
        assert_eq!(table.intern(same), Some(a));
        assert_eq!(table.intern(Credentials::root()), Some(0));
        let b = table
            .intern(Credentials::user(1001, 1001, vec![]))
            .expect("room");
        assert_eq!(b, 2);
        assert_eq!(table.get(a).map(|c| c.uid), Some(1000));
        assert_eq!(
            table.get(a).map(|c| c.groups.clone()),
            Some(vec![100, 1000])
        );
        assert_eq!(table.get(99), None);
    }

    #[test]
    fn refuses_too_many_groups() {
        let mut table = CredentialTable::new();
        let groups = (0..40).collect();
        assert_eq!(table.intern(Credentials::user(5, 5, groups)), None);
    }

    #[test]
    fn signal_rules() {
        let root = Credentials::root();
        let alice = Credentials::user(1000, 1000, vec![]);
        let bob = Credentials::user(1001, 1001, vec![]);
        assert!(may_signal(&root, &alice));
        assert!(may_signal(&alice, &alice));
        assert!(!may_signal(&alice, &bob));
        assert!(!may_signal(&alice, &root));
        let mut su_to_bob = bob.clone();
        su_to_bob.uid = 1000;
        assert!(may_signal(&alice, &su_to_bob));
    }
}
