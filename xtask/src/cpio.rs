//! A writer for cpio "newc" archives (the initramfs format the kernel reads).

use std::path::Path;

/// An archive being assembled in memory.
#[derive(Clone)]
pub struct Archive {
    bytes: Vec<u8>,
    inode: u32,
}

const MODE_DIR: u32 = 0o040000;
const MODE_FILE: u32 = 0o100000;
const MODE_SYMLINK: u32 = 0o120000;

impl Default for Archive {
    fn default() -> Self {
        Self::new()
    }
}

impl Archive {
    pub fn new() -> Self {
        Self {
            bytes: Vec::new(),
            inode: 1,
        }
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        let name_size = name.len() + 1;
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.inode,
            mode,
            0,
            0,
            if mode & MODE_DIR != 0 { 2 } else { 1 },
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name_size,
            0
        );
        self.inode += 1;
        self.bytes.extend_from_slice(header.as_bytes());
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    /// Adds a directory entry.
    pub fn add_dir(&mut self, name: &str) {
        self.entry(name, MODE_DIR | 0o755, &[]);
    }

    /// Adds a regular file with permission bits `perm`.
    pub fn add_file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, MODE_FILE | (perm & 0o7777), data);
    }

    /// Adds a symbolic link `name` → `target` (newc stores the target as the
    /// entry's data; permissions are always 0o777 for links).
    pub fn add_symlink(&mut self, name: &str, target: &str) {
        self.entry(name, MODE_SYMLINK | 0o777, target.as_bytes());
    }

    /// Adds everything under `dir` (sorted, so the archive is reproducible) below
    /// the archive path `prefix`.
    pub fn add_tree(&mut self, dir: &Path, prefix: &str) -> Result<(), String> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                self.add_dir(&path);
                self.add_tree(&entry.path(), &path)?;
            } else if kind.is_file() {
                let data = std::fs::read(entry.path()).map_err(|e| e.to_string())?;
                // Executable files (scripts with `#!`) stay executable.
                let executable = {
                    use std::os::unix::fs::PermissionsExt;
                    entry
                        .metadata()
                        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
                };
                self.add_file(&path, if executable { 0o755 } else { 0o644 }, &data);
            }
        }
        Ok(())
    }

    /// Appends the trailer and returns the archive bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        while !self.bytes.len().is_multiple_of(512) {
            self.bytes.push(0);
        }
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_layout() {
        let mut archive = Archive::new();
        archive.add_file("etc/motd", 0o644, b"hi\n");
        let bytes = archive.finish();
        assert!(bytes.starts_with(b"070701"));
        let name_size = &bytes[94..102];
        assert_eq!(name_size, b"00000009");
        assert_eq!(&bytes[110..118], b"etc/motd");
        assert_eq!(bytes.len() % 512, 0);
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn symlink_entry() {
        let mut archive = Archive::new();
        archive.add_symlink("bin/head", "/sbin/zbox");
        let bytes = archive.finish();
        let field = |index: usize| &bytes[6 + index * 8..6 + (index + 1) * 8];
        assert_eq!(field(1), b"0000a1ff", "mode 0o120777");
        assert_eq!(field(6), b"0000000a", "file size is the target's length");
        assert_eq!(field(11), b"00000009", "name size includes the NUL");
        assert_eq!(&bytes[110..119], b"bin/head\0");
        // Header (110) + name (9) padded to 4 → data at 120.
        assert_eq!(&bytes[120..130], b"/sbin/zbox");
    }

    #[test]
    fn kernel_reader_sees_symlinks() {
        let mut archive = Archive::new();
        archive.add_dir("bin");
        archive.add_symlink("bin/wc", "/sbin/zbox");
        archive.add_file("sbin/zbox", 0o755, b"\x7fELF");
        let bytes = archive.finish();
        let reader = zos_boot::initramfs::Archive::new(&bytes);
        let link = reader
            .find("bin/wc")
            .expect("archive parses")
            .expect("link present");
        assert_eq!(link.mode, 0o120777);
        assert!(!link.is_file() && !link.is_dir());
        assert_eq!(link.data, b"/sbin/zbox");
        let target = reader.find("sbin/zbox").expect("archive parses");
        assert!(target.is_some_and(|entry| entry.is_file()));
    }
}
