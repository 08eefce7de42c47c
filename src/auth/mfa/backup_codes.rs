//! Ten single-use recovery codes, shown once and stored as SHA-256 hashes. Each code carries
//! 50 bits from an alphabet without look-alike characters; the attempt limits of sign-in keep
//! guessing hopeless.

use crate::crypto::{constant_time_eq, sha256_hex};
use rand::Rng;
use serde::{Deserialize, Serialize};

pub const COUNT: usize = 10;
/// Crockford-style base32 without I, L, O, U: easy to read back from paper.
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const HALF: usize = 5;

/// What a backup-codes factor stores: the hashes of the codes not used yet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackupCodes {
    pub unused: Vec<String>,
}

impl BackupCodes {
    /// New codes (as the person sees them) and their stored form.
    pub fn generate() -> (Vec<String>, Self) {
        let mut rng = rand::rngs::OsRng;
        let codes: Vec<String> = (0..COUNT)
            .map(|_| {
                let mut chars =
                    (0..HALF * 2).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
                let first: String = chars.by_ref().take(HALF).collect();
                let second: String = chars.collect();
                format!("{first}-{second}")
            })
            .collect();
        let unused = codes.iter().map(|c| sha256_hex(&normalize(c))).collect();
        (codes, Self { unused })
    }

    /// Removes `code` if it is one of the unused codes; false otherwise.
    pub fn spend(&mut self, code: &str) -> bool {
        let hash = sha256_hex(&normalize(code));
        match self.unused.iter().position(|h| constant_time_eq(h, &hash)) {
            Some(i) => {
                self.unused.remove(i);
                true
            }
            None => false,
        }
    }
}

/// Case, spaces and hyphens do not matter when typing a code back; `0`/`O` and `1`/`I`/`L`
/// read the same.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_works_once_in_any_spelling() {
        let (codes, mut stored) = BackupCodes::generate();
        assert_eq!(codes.len(), COUNT);
        assert!(codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        let first = codes[0].to_lowercase().replace('-', " ");
        assert!(stored.spend(&first));
        assert!(!stored.spend(&codes[0]), "a used code is refused");
        assert_eq!(stored.unused.len(), COUNT - 1);
        assert!(!stored.spend("AAAAA-AAAAA"));
        assert!(!stored.spend(""));
    }
}
