//! What devmgr tells a virtio-pci driver about its PCI function.
//!
//! devmgr owns configuration space: it assigns the BARs, enables memory
//! decoding and bus mastering, and checks the virtio capability list. The
//! driver never touches configuration space; it gets the function's first
//! 256 bytes as devmgr left them, plus what each BAR register reads back
//! after all ones were written (its size mask), so that `virtio-drivers`'
//! PCI transport can find its structures through a read-only image
//! (docs/drivers.md, "virtio-pci"). Both travel as one hexadecimal argument.

use alloc::string::String;

/// Words of the configuration header and capability list carried over.
pub const WORDS: usize = 64;
/// Configuration offset of BAR 0.
pub const BAR0: usize = 0x10;

/// The image of one function's configuration space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigImage {
    pub words: [u32; WORDS],
    /// What BAR register `i` reads after all ones were written to it.
    pub masks: [u32; 6],
}

impl ConfigImage {
    /// Lower-case hex, eight digits a word: the words, then the masks.
    pub fn to_hex(&self) -> String {
        let mut text = String::with_capacity((WORDS + 6) * 8);
        for word in self.words.iter().chain(self.masks.iter()) {
            use core::fmt::Write;
            let _ = write!(text, "{word:08x}");
        }
        text
    }

    /// Parses [`Self::to_hex`]'s text; `None` when it is not exactly that.
    pub fn from_hex(text: &str) -> Option<ConfigImage> {
        if text.len() != (WORDS + 6) * 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut values = text
            .as_bytes()
            .chunks(8)
            .map(|c| u32::from_str_radix(core::str::from_utf8(c).ok()?, 16).ok());
        let mut image = ConfigImage {
            words: [0; WORDS],
            masks: [0; 6],
        };
        for slot in image.words.iter_mut().chain(image.masks.iter_mut()) {
            *slot = values.next()??;
        }
        Some(image)
    }

    /// The byte at configuration offset `at` (inside the image).
    pub fn byte(&self, at: usize) -> u8 {
        self.words
            .get(at / 4)
            .map_or(0, |w| (w >> ((at % 4) * 8)) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let mut image = ConfigImage {
            words: [0; WORDS],
            masks: [0xffff_c00c, 0xffff_ffff, 0, 0, 0, 0],
        };
        image.words[0] = 0x1042_1af4;
        image.words[WORDS - 1] = 0xdead_beef;
        let text = image.to_hex();
        assert_eq!(ConfigImage::from_hex(&text), Some(image.clone()));
        assert_eq!(image.byte(2), 0x42);
        assert_eq!(image.byte(1000), 0);
        assert_eq!(ConfigImage::from_hex(&text[1..]), None);
        let mut bad = text.clone();
        bad.replace_range(0..1, "g");
        assert_eq!(ConfigImage::from_hex(&bad), None);
        let mut signed = text;
        signed.replace_range(0..2, "+1");
        assert_eq!(ConfigImage::from_hex(&signed), None);
    }
}
