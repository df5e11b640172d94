//! API keys: `gd_<key id, 32 hex>_<secret, 43 base64url chars = 256 random bits>`.
//! The key id is public and used for lookup; only the SHA-256 of the secret is stored
//! (a slow password hash buys nothing for 256 random bits), compared in constant time.

use super::ids::KeyId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use uuid::Uuid;

const PREFIX: &str = "gd_";
const ID_LEN: usize = 32;
const SECRET_BYTES: usize = 32;
const SECRET_LEN: usize = 43;

/// A freshly generated key: the full secret text is shown once, then only `hash` is kept.
pub struct NewKey {
    pub id: KeyId,
    pub plaintext: String,
    pub hash: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

pub fn generate() -> NewKey {
    let id = KeyId::new();
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let hash = hash_secret(&secret);
    NewKey {
        id,
        plaintext: format!("{PREFIX}{}_{secret}", id.0.simple()),
        hash,
    }
}

pub fn hash_secret(secret: &str) -> String {
    super::sha256_hex_string(&[secret.as_bytes()])
}

/// A key as presented by a caller, split into its lookup id and secret.
#[derive(PartialEq, Eq)]
pub struct PresentedKey {
    pub id: KeyId,
    secret: String,
}

impl std::fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PresentedKey {
    /// `None` for anything that is not shaped like a grantd key.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(PREFIX)?;
        if rest.len() != ID_LEN + 1 + SECRET_LEN || !rest.is_ascii() {
            return None;
        }
        let (id, rest) = rest.split_at(ID_LEN);
        let secret = rest.strip_prefix('_')?;
        if !id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return None;
        }
        let decoded = URL_SAFE_NO_PAD.decode(secret).ok()?;
        if decoded.len() != SECRET_BYTES {
            return None;
        }
        let id = Uuid::try_parse(id).ok()?;
        Some(PresentedKey {
            id: KeyId(id),
            secret: secret.to_string(),
        })
    }

    /// Constant-time comparison of this key's secret hash with the stored one.
    pub fn matches(&self, stored_hash: &str) -> bool {
        super::sha256_hex(&[self.secret.as_bytes()])[..]
            .ct_eq(stored_hash.as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_match() {
        let k = generate();
        assert_eq!(k.plaintext.len(), PREFIX.len() + ID_LEN + 1 + SECRET_LEN);
        let p = PresentedKey::parse(&k.plaintext).expect("parses");
        assert_eq!(p.id, k.id);
        assert!(p.matches(&k.hash));
        assert_eq!(hash_secret(&p.secret), k.hash);
        // Only the exact stored text matches: not a prefix, not another case.
        assert!(!p.matches(&k.hash[..63]));
        assert!(!p.matches(&format!("{}0", k.hash)));
        if k.hash.bytes().any(|b| b.is_ascii_alphabetic()) {
            assert!(!p.matches(&k.hash.to_uppercase()));
        }
        assert_eq!(k.hash.len(), 64);
        assert!(!k.plaintext.contains(&k.hash));
    }

    #[test]
    fn keys_are_unique_and_random() {
        let a = generate();
        let b = generate();
        assert_ne!(a.plaintext, b.plaintext);
        assert_ne!(a.hash, b.hash);
        let secret_a = &a.plaintext[PREFIX.len() + ID_LEN + 1..];
        assert_eq!(URL_SAFE_NO_PAD.decode(secret_a).unwrap().len() * 8, 256);
    }

    #[test]
    fn wrong_secret_does_not_match() {
        let a = generate();
        let b = generate();
        let forged = format!(
            "{}{}",
            &a.plaintext[..PREFIX.len() + ID_LEN + 1],
            &b.plaintext[PREFIX.len() + ID_LEN + 1..]
        );
        let p = PresentedKey::parse(&forged).unwrap();
        assert_eq!(p.id, a.id);
        assert!(!p.matches(&a.hash));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        let k = generate().plaintext;
        for bad in [
            String::new(),
            "gd_".into(),
            k[..k.len() - 1].to_string(),
            format!("{k}x"),
            k.replacen("gd_", "xx_", 1),
            k.to_uppercase(),
            format!("gd_{}_{}", "z".repeat(32), &k[k.len() - 43..]),
            format!("{}!", &k[..k.len() - 1]),
            "gd_é".repeat(20),
        ] {
            assert!(PresentedKey::parse(&bad).is_none(), "accepted {bad:?}");
        }
    }
}
