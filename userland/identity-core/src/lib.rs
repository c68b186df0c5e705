//! Zero OS identity core: the logic the identity service wraps, host-tested.
//!
//! - [`files`]: the POSIX `/etc/passwd`, `/etc/group` and `/etc/shadow` formats
//!   (malformed lines are skipped and reported, never fatal);
//! - [`names`]: which user and group names are acceptable;
//! - [`password`]: argon2id hashes in PHC string form, with the parameters;
//! - [`database`]: users and groups together: add, delete, group membership,
//!   the credentials of a user, the home layout and the user record;
//! - [`sessions`]: who is logged in where.
//!
//! Tools that only need names for ids (`ls -l`, `ps`, `id`) use [`files`] alone.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod database;
pub mod files;
pub mod names;
pub mod password;
pub mod sessions;
