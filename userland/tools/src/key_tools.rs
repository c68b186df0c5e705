//! `zkey`: signing and verifying files with the user's key in the keystore.
//! The file's SHA-512 digest goes to the keystore and a signature comes back;
//! the private key never leaves the keystore (docs/identity.md).

use crate::io::write_out;
use crate::users::{failed, Names};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libzos::posix::{self, Errno};
use libzos::{eprintln, fs, ipc, sys};
use zos_proto::keystore::{KeyRequest, KeyResponse};
use zos_tools_core::Failure;

fn keystore(request: &KeyRequest) -> Result<KeyResponse, Failure> {
    let service =
        posix::proc_lookup("keystore").map_err(|e| failed("the keystore is not running", e))?;
    let reply = ipc::call(service, request, &[]);
    let _ = sys::cap_delete(service);
    let reply = reply.map_err(|_| Failure::Error("the keystore did not answer".into()))?;
    match reply.decode::<KeyResponse>() {
        Some(KeyResponse::Err(errno)) => Err(failed("keystore", Errno(errno))),
        Some(other) => Ok(other),
        None => Err(Failure::Error("malformed answer from the keystore".into())),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn file_digest(path: &str) -> Result<Vec<u8>, Failure> {
    let contents = fs::read_file(path).map_err(|e| failed(path, e))?;
    Ok(zos_keystore_core::digest(&contents).to_vec())
}

/// `-u USER` among the arguments: (uid, the other arguments).
fn user_option<'a>(args: &[&'a str]) -> Result<(Option<u32>, Vec<&'a str>), Failure> {
    let mut uid = None;
    let mut rest = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if *arg == "-u" {
            let name = iter
                .next()
                .ok_or_else(|| Failure::Usage("-u needs a user".into()))?;
            uid = Some(
                Names::load()
                    .uid(name)
                    .ok_or_else(|| Failure::Error(format!("'{name}': no such user")))?,
            );
        } else {
            rest.push(*arg);
        }
    }
    Ok((uid, rest))
}

pub fn zkey(args: &[&str]) -> Result<(), Failure> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Failure::Usage("expected list, sign or verify".into()));
    };
    let (uid, rest) = user_option(rest)?;
    match (*command, rest.as_slice()) {
        ("list", []) => {
            let KeyResponse::Keys(keys) = keystore(&KeyRequest::List { uid })? else {
                return Err(Failure::Error("unexpected answer".into()));
            };
            let names = Names::load();
            let mut text = String::new();
            for key in keys {
                text.push_str(&format!(
                    "{} {} ed25519 {}\n",
                    names.user(key.uid),
                    key.label,
                    hex(&key.public)
                ));
            }
            write_out(text.as_bytes())
        }
        ("sign", [file]) => {
            let digest = file_digest(file)?;
            let KeyResponse::Signature(signature) = keystore(&KeyRequest::Sign { uid, digest })?
            else {
                return Err(Failure::Error("unexpected answer".into()));
            };
            write_out(format!("{}\n", hex(&signature)).as_bytes())
        }
        ("verify", [file, signature_file]) => {
            let digest = file_digest(file)?;
            let text = fs::read_file(signature_file).map_err(|e| failed(signature_file, e))?;
            let signature = unhex(&String::from_utf8_lossy(&text))
                .ok_or_else(|| Failure::Error(format!("{signature_file}: not a hex signature")))?;
            let uid = uid.unwrap_or_else(posix::geteuid);
            let request = KeyRequest::Verify {
                uid,
                digest,
                signature,
            };
            match keystore(&request)? {
                KeyResponse::Valid(true) => write_out(b"signature OK\n"),
                KeyResponse::Valid(false) => {
                    eprintln!("zkey: signature does NOT match");
                    Err(Failure::Exit(1))
                }
                _ => Err(Failure::Error("unexpected answer".into())),
            }
        }
        _ => Err(Failure::Usage(
            "expected list | sign FILE | verify FILE SIG".into(),
        )),
    }
}
