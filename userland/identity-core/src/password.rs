//! Password hashes: argon2id in PHC string form
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), as `/etc/shadow` holds them.
//!
//! Parameters ([`PARAMS`]): 8 MiB of memory, 2 passes, 1 lane. Measured cost is
//! in docs/identity.md (`cargo xtask bench`, "login"); they are lower than
//! OWASP's 19 MiB because the guest runs under emulation and the whole login
//! must stay interactive there. A hash records its own parameters, so raising
//! them later keeps old hashes verifiable.

use alloc::string::{String, ToString};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory in KiB, passes, lanes.
pub const PARAMS: (u32, u32, u32) = (8 * 1024, 2, 1);
/// Bytes of random salt per hash.
pub const SALT_BYTES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordError {
    /// The stored hash is not a PHC string argon2 understands.
    BadHash,
    /// Hashing failed (parameters or salt rejected).
    Hashing,
}

fn hasher(params: (u32, u32, u32)) -> Result<Argon2<'static>, PasswordError> {
    let params =
        Params::new(params.0, params.1, params.2, None).map_err(|_| PasswordError::Hashing)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string of `password` with `salt` (random bytes from the caller).
pub fn hash(password: &str, salt: &[u8; SALT_BYTES]) -> Result<String, PasswordError> {
    hash_with(password, salt, PARAMS)
}

/// [`hash`] with explicit parameters (tests use small ones).
pub fn hash_with(
    password: &str,
    salt: &[u8; SALT_BYTES],
    params: (u32, u32, u32),
) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(salt).map_err(|_| PasswordError::Hashing)?;
    let hashed = hasher(params)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|_| PasswordError::Hashing)?;
    Ok(hashed.to_string())
}

/// Whether `password` matches the shadow field `stored`. An empty field means
/// no password (any input, including empty, is accepted); `*` or a field
/// starting with `!` is locked (nothing matches).
pub fn verify(stored: &str, password: &str) -> Result<bool, PasswordError> {
    if stored.is_empty() {
        return Ok(true);
    }
    if stored == "*" || stored.starts_with('!') {
        return Ok(false);
    }
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::BadHash)?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: (u32, u32, u32) = (64, 1, 1);

    #[test]
    fn hash_then_verify() {
        let stored = hash_with("correct horse", &[7; SALT_BYTES], SMALL).expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(verify(&stored, "correct horse"), Ok(true));
        assert_eq!(verify(&stored, "wrong"), Ok(false));
        assert_eq!(verify(&stored, ""), Ok(false));
    }

    #[test]
    fn default_parameters_are_argon2id() {
        let stored = hash("pw", &[1; SALT_BYTES]).expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=8192,t=2,p=1$"));
        assert_eq!(verify(&stored, "pw"), Ok(true));
    }

    #[test]
    fn empty_locked_and_garbage_fields() {
        assert_eq!(verify("", "anything"), Ok(true));
        assert_eq!(verify("*", ""), Ok(false));
        assert_eq!(verify("!$argon2id$x", "x"), Ok(false));
        assert_ne!(verify("$argon2id$garbage", "x"), Ok(true));
        assert_eq!(verify("plain", "plain"), Err(PasswordError::BadHash));
    }
}
