//! Signed administration tokens: `v1.<expiry, Unix seconds>.<HMAC-SHA-256 hex>`, the MAC
//! over `"cps-update-admin v1 " ‖ expiry` under the server's administration key (32 bytes).
//!
//! The administration API (card records, practice situations, renewals, audit log) answers
//! only a request carrying `Authorization: Bearer <token>` with a valid, unexpired token; a
//! server started without an administration key refuses every administration request.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Longest accepted token (bounded parsing).
const MAX_TOKEN: usize = 128;

/// The administration key.
pub struct AdminKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(..)")
    }
}

/// Why a token was refused (said to the caller without detail beyond this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("administration needs a token (Authorization: Bearer)")]
    Missing,
    /// Not a well-formed token, or a wrong MAC.
    #[error("administration token refused")]
    Invalid,
    /// Past its expiry.
    #[error("administration token expired")]
    Expired,
    /// The server has no administration key.
    #[error("administration is disabled on this server (no administration key)")]
    Disabled,
}

impl AdminKey {
    /// A key from 32 bytes.
    pub fn new(key: [u8; 32]) -> Self {
        AdminKey(Zeroizing::new(key))
    }

    /// A key from its hex form (64 hex digits, surrounding white space ignored), as kept in a
    /// key file.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).ok()?);
        let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(Self::new(key))
    }

    fn mac(&self, expiry: i64) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        let mut m = <HmacSha256 as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable_hmac());
        m.update(b"cps-update-admin v1 ");
        m.update(expiry.to_string().as_bytes());
        m
    }

    /// A token valid until `expiry` (Unix seconds).
    pub fn token(&self, expiry: i64) -> String {
        let tag = self.mac(expiry).finalize().into_bytes();
        format!("v1.{expiry}.{}", hex::encode(tag))
    }

    /// Checks a token (MAC compared in constant time) at time `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<(), TokenError> {
        if token.len() > MAX_TOKEN {
            return Err(TokenError::Invalid);
        }
        let mut parts = token.split('.');
        let (Some("v1"), Some(expiry), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        if expiry.is_empty() || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TokenError::Invalid);
        }
        let text = expiry;
        let expiry: i64 = expiry.parse().map_err(|_| TokenError::Invalid)?;
        if expiry.to_string() != text {
            // One spelling per token (no leading zeros).
            return Err(TokenError::Invalid);
        }
        let tag = hex::decode(tag).map_err(|_| TokenError::Invalid)?;
        self.mac(expiry)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Invalid)?;
        if expiry < now {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

#[allow(clippy::panic, reason = "HMAC accepts every key length; never reached")]
fn unreachable_hmac() -> HmacSha256 {
    panic!("HMAC-SHA-256 refused a 32-byte key")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_the_key_and_before_expiry() {
        let k = AdminKey::new([7; 32]);
        let t = k.token(2_000);
        assert_eq!(k.verify(&t, 1_000), Ok(()));
        assert_eq!(k.verify(&t, 2_001), Err(TokenError::Expired));
        assert_eq!(
            AdminKey::new([8; 32]).verify(&t, 1_000),
            Err(TokenError::Invalid)
        );
        // A changed expiry with the old MAC.
        let forged = t.replacen("v1.2000.", "v1.9000.", 1);
        assert_eq!(k.verify(&forged, 1_000), Err(TokenError::Invalid));
        for bad in [
            "",
            "v1",
            "v1..",
            "v2.2000.00",
            "v1.-5.00",
            "v1.2000.zz",
            "v1.1.2.3",
        ] {
            assert_eq!(k.verify(bad, 0), Err(TokenError::Invalid), "{bad}");
        }
        assert_eq!(k.verify(&"a".repeat(1000), 0), Err(TokenError::Invalid));
        // The same expiry spelt with a leading zero.
        let padded = t.replacen("v1.2000.", "v1.02000.", 1);
        assert_eq!(k.verify(&padded, 1_000), Err(TokenError::Invalid));
        assert!(AdminKey::from_hex(&"ab".repeat(32)).is_some());
        assert!(AdminKey::from_hex("abcd").is_none());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_verifies(t in ".{0,200}") {
            let k = AdminKey::new([3; 32]);
            proptest::prop_assert!(k.verify(&t, 0).is_err());
        }

        #[test]
        fn a_token_verifies_until_its_expiry_and_not_after_one_change(
            expiry in 0i64..i64::MAX / 2,
            now in 0i64..i64::MAX / 2,
            pos in 0usize..200,
        ) {
            let k = AdminKey::new([5; 32]);
            let t = k.token(expiry);
            proptest::prop_assert_eq!(k.verify(&t, now).is_ok(), now <= expiry);
            let mut b = t.clone().into_bytes();
            let i = pos % b.len();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(b).unwrap();
            if changed != t {
                proptest::prop_assert!(k.verify(&changed, 0).is_err());
            }
        }
    }
}
