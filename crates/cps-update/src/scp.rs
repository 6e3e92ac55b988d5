//! The secure channel between the issuer and the card, modelled on GlobalPlatform SCP03
//! (GlobalPlatform Card Specification v2.3, Amendment D "Secure Channel Protocol 03"):
//! AES-128 static keys, session keys and cryptograms derived with the NIST SP 800-108 KDF in
//! counter mode with AES-CMAC as PRF, C-MAC / C-DECRYPTION / R-MAC / R-ENCRYPTION (security
//! level `33`).
//!
//! Both ends are here as pure functions of bytes: [`HostSession`] (the issuer) and
//! [`CardSession`] (the card, used by the simulator). The relay never holds a key.
//!
//! Deviations from SCP03, stated: the INITIALIZE UPDATE answer is reduced to `KVN ‖ card
//! challenge ‖ card cryptogram` (no key diversification data, no sequence counter: the
//! card challenge is random); every answer to a protected command carries an R-MAC, errors
//! included, except a C-MAC failure, which ends the session and answers `6982` plain.

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use cmac::{Cmac, Mac};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The master key of the reference issuer and of the simulated cards: a **TEST** key,
/// published on purpose (card keys are [`StaticKeys::diversify`]d from it by serial number).
/// Feature `test-keys` (or `issuer`) only.
#[cfg(feature = "test-keys")]
pub const TEST_MASTER_KEY: [u8; 16] = *b"TEST cps-upd mk!";

/// The class byte of protected commands (ISO 7816-4: proprietary class `80` with the SM
/// indication `04`).
pub const CLA_SECURE: u8 = 0x84;
/// INITIALIZE UPDATE (`80 50`).
pub const INS_INITIALIZE_UPDATE: u8 = 0x50;
/// EXTERNAL AUTHENTICATE (`84 82`).
pub const INS_EXTERNAL_AUTHENTICATE: u8 = 0x82;
/// Security level: C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION (SCP03 `33`).
pub const SECURITY_LEVEL: u8 = 0x33;

/// SCP03 data derivation constants (Amendment D, table 4-1).
mod constant {
    pub const CARD_CRYPTOGRAM: u8 = 0x00;
    pub const HOST_CRYPTOGRAM: u8 = 0x01;
    pub const S_ENC: u8 = 0x04;
    pub const S_MAC: u8 = 0x06;
    pub const S_RMAC: u8 = 0x07;
}

/// A secure-channel failure; after any of these the session is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScpError {
    /// The card's cryptogram is wrong: it does not hold the keys the issuer derived.
    #[error("the card's cryptogram does not match: wrong card keys or a forged answer")]
    CardCryptogram,
    /// The issuer's cryptogram is wrong.
    #[error("the host cryptogram does not match")]
    HostCryptogram,
    /// A MAC does not match (a changed, replayed, reordered or truncated message).
    #[error("MAC mismatch: the message was changed, replayed, reordered or truncated")]
    Mac,
    /// A message too short or badly padded.
    #[error("malformed secure message: {0}")]
    Malformed(&'static str),
    /// More than 2^32 messages in one session.
    #[error("message counter exhausted: open a new session")]
    CounterExhausted,
}

/// The two static AES-128 keys of a card (K-ENC, K-MAC), zeroized on drop.
#[derive(Clone)]
pub struct StaticKeys {
    enc: Zeroizing<[u8; 16]>,
    mac: Zeroizing<[u8; 16]>,
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticKeys(..)")
    }
}

impl StaticKeys {
    /// Keys from their values.
    pub fn new(enc: [u8; 16], mac: [u8; 16]) -> Self {
        StaticKeys {
            enc: Zeroizing::new(enc),
            mac: Zeroizing::new(mac),
        }
    }

    /// The card keys the issuer derives from its master key and the card serial number
    /// (SP 800-108 KDF, labels `"cps-update K-ENC"` / `"cps-update K-MAC"`).
    pub fn diversify(master: &[u8; 16], serial: &[u8]) -> Self {
        let derive = |label: &[u8]| {
            let mut ctx = label.to_vec();
            ctx.extend_from_slice(serial);
            let out = kdf(master, 0x70, &ctx, 128);
            let mut k = [0u8; 16];
            k.copy_from_slice(out.get(..16).unwrap_or(&[0; 16]));
            k
        };
        StaticKeys::new(derive(b"cps-update K-ENC"), derive(b"cps-update K-MAC"))
    }
}

fn cmac(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <Cmac<Aes128> as KeyInit>::new(GenericArray::from_slice(key));
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// The SCP03 key derivation (Amendment D §4.1.5; NIST SP 800-108 §5.1 counter mode, PRF =
/// AES-CMAC): for `i = 1..`, `CMAC(K, 00×11 ‖ constant ‖ 00 ‖ L(2) ‖ i ‖ context)`,
/// concatenated and cut to `bits`.
pub fn kdf(key: &[u8; 16], constant: u8, context: &[u8], bits: u16) -> Zeroizing<Vec<u8>> {
    let len = usize::from(bits).div_ceil(8);
    let mut out = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut i = 1u8;
    while out.len() < len {
        let mut label = [0u8; 16];
        label[11] = constant;
        label[12] = 0x00;
        label[13..15].copy_from_slice(&bits.to_be_bytes());
        label[15] = i;
        let mut block = cmac(key, &[&label, context]);
        out.extend_from_slice(&block);
        block.zeroize();
        i = i.wrapping_add(1);
    }
    out.truncate(len);
    out
}

fn key16(v: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut k = Zeroizing::new([0u8; 16]);
    for (d, s) in k.iter_mut().zip(v) {
        *d = *s;
    }
    k
}

fn eight(v: &[u8]) -> [u8; 8] {
    let mut k = [0u8; 8];
    for (d, s) in k.iter_mut().zip(v) {
        *d = *s;
    }
    k
}

/// The session keys and the MAC chaining value, shared by both ends.
#[derive(Clone)]
struct Keys {
    s_enc: Zeroizing<[u8; 16]>,
    s_mac: Zeroizing<[u8; 16]>,
    s_rmac: Zeroizing<[u8; 16]>,
    chain: [u8; 16],
    /// Encryption counter of the current command (SCP03 §6.2.6: starts at 1).
    counter: u32,
}

impl Keys {
    fn derive(keys: &StaticKeys, context: &[u8; 16]) -> Self {
        Keys {
            s_enc: key16(&kdf(&keys.enc, constant::S_ENC, context, 128)),
            s_mac: key16(&kdf(&keys.mac, constant::S_MAC, context, 128)),
            s_rmac: key16(&kdf(&keys.mac, constant::S_RMAC, context, 128)),
            chain: [0; 16],
            counter: 0,
        }
    }

    fn cryptogram(&self, constant: u8, context: &[u8; 16]) -> [u8; 8] {
        eight(&kdf(&self.s_mac, constant, context, 64))
    }

    fn icv(&self, response: bool) -> [u8; 16] {
        let mut block = [0u8; 16];
        block[12..].copy_from_slice(&self.counter.to_be_bytes());
        if response {
            block[0] = 0x80;
        }
        let cipher = Aes128::new(GenericArray::from_slice(&self.s_enc[..]));
        let mut b = GenericArray::from(block);
        cipher.encrypt_block(&mut b);
        b.into()
    }

    fn cbc(&self, iv: [u8; 16], data: &mut [u8], encrypt: bool) {
        use aes::cipher::BlockDecrypt;
        let cipher = Aes128::new(GenericArray::from_slice(&self.s_enc[..]));
        let mut prev = iv;
        for chunk in data.chunks_exact_mut(16) {
            let mut b = GenericArray::clone_from_slice(chunk);
            if encrypt {
                for (x, p) in b.iter_mut().zip(prev) {
                    *x ^= p;
                }
                cipher.encrypt_block(&mut b);
                prev.copy_from_slice(&b);
            } else {
                let c: [u8; 16] = b.into();
                cipher.decrypt_block(&mut b);
                for (x, p) in b.iter_mut().zip(prev) {
                    *x ^= p;
                }
                prev = c;
            }
            chunk.copy_from_slice(&b);
        }
    }

    fn encrypt(&self, plain: &[u8], response: bool) -> Vec<u8> {
        if plain.is_empty() {
            return Vec::new();
        }
        let mut buf = plain.to_vec();
        buf.push(0x80);
        while buf.len() % 16 != 0 {
            buf.push(0);
        }
        self.cbc(self.icv(response), &mut buf, true);
        buf
    }

    fn decrypt(&self, cipher: &[u8], response: bool) -> Result<Zeroizing<Vec<u8>>, ScpError> {
        if cipher.is_empty() {
            return Ok(Zeroizing::new(Vec::new()));
        }
        if cipher.len() % 16 != 0 {
            return Err(ScpError::Malformed("ciphertext not a multiple of 16 bytes"));
        }
        let mut buf = Zeroizing::new(cipher.to_vec());
        self.cbc(self.icv(response), &mut buf, false);
        let end = buf
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(ScpError::Malformed("padding"))?;
        if buf.get(end) != Some(&0x80) {
            return Err(ScpError::Malformed("padding"));
        }
        buf.truncate(end);
        Ok(buf)
    }

    /// C-MAC over `chain ‖ CLA INS P1 P2 Lc ‖ data'`; updates the chaining value.
    fn command_mac(&mut self, header: [u8; 4], lc: u8, data: &[u8]) -> [u8; 8] {
        let mac = cmac(&self.s_mac, &[&self.chain, &header, &[lc], data]);
        self.chain = mac;
        eight(&mac)
    }

    fn response_mac(&self, data: &[u8], sw: [u8; 2]) -> [u8; 8] {
        eight(&cmac(&self.s_rmac, &[&self.chain, data, &sw]))
    }

    fn next_counter(&mut self) -> Result<(), ScpError> {
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(ScpError::CounterExhausted)?;
        Ok(())
    }
}

/// The context of a session: host challenge ‖ card challenge.
fn context(host: &[u8; 8], card: &[u8; 8]) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[..8].copy_from_slice(host);
    c[8..].copy_from_slice(card);
    c
}

/// The issuer's end of a session.
pub struct HostSession {
    keys: Keys,
}

impl std::fmt::Debug for HostSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSession")
            .field("counter", &self.keys.counter)
            .finish_non_exhaustive()
    }
}

/// INITIALIZE UPDATE: `80 50 KVN 00 08 host-challenge 00`.
pub fn initialize_update(kvn: u8, host_challenge: &[u8; 8]) -> Vec<u8> {
    let mut v = vec![0x80, INS_INITIALIZE_UPDATE, kvn, 0x00, 0x08];
    v.extend_from_slice(host_challenge);
    v.push(0x00);
    v
}

impl HostSession {
    /// Checks the card's answer to INITIALIZE UPDATE (`KVN ‖ card challenge ‖ card
    /// cryptogram`, with the key version asked for) and returns the session with the EXTERNAL AUTHENTICATE command to send.
    pub fn open(
        keys: &StaticKeys,
        kvn: u8,
        host_challenge: &[u8; 8],
        answer: &[u8],
    ) -> Result<(Self, Vec<u8>), ScpError> {
        let [card_kvn, rest @ ..] = answer else {
            return Err(ScpError::Malformed("INITIALIZE UPDATE answer"));
        };
        if *card_kvn != kvn {
            return Err(ScpError::Malformed(
                "the card answered with another key version",
            ));
        }
        if rest.len() != 16 {
            return Err(ScpError::Malformed("INITIALIZE UPDATE answer"));
        }
        let card_challenge = eight(rest.get(..8).unwrap_or_default());
        let ctx = context(host_challenge, &card_challenge);
        let mut k = Keys::derive(keys, &ctx);
        let expected = k.cryptogram(constant::CARD_CRYPTOGRAM, &ctx);
        if !bool::from(expected.ct_eq(rest.get(8..).unwrap_or_default())) {
            return Err(ScpError::CardCryptogram);
        }
        let host_cryptogram = k.cryptogram(constant::HOST_CRYPTOGRAM, &ctx);
        let header = [CLA_SECURE, INS_EXTERNAL_AUTHENTICATE, SECURITY_LEVEL, 0x00];
        let mac = k.command_mac(header, 16, &host_cryptogram);
        let mut apdu = header.to_vec();
        apdu.push(16);
        apdu.extend_from_slice(&host_cryptogram);
        apdu.extend_from_slice(&mac);
        Ok((HostSession { keys: k }, apdu))
    }

    /// Protects a command: `84 INS P1 P2 Lc E(data) C-MAC 00`.
    pub fn wrap(&mut self, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Result<Vec<u8>, ScpError> {
        self.keys.next_counter()?;
        let enc = self.keys.encrypt(data, false);
        let lc = u8::try_from(enc.len() + 8)
            .map_err(|_| ScpError::Malformed("command too long for a short APDU"))?;
        let mac = self.keys.command_mac([CLA_SECURE, ins, p1, p2], lc, &enc);
        let mut apdu = vec![CLA_SECURE, ins, p1, p2, lc];
        apdu.extend_from_slice(&enc);
        apdu.extend_from_slice(&mac);
        apdu.push(0x00);
        Ok(apdu)
    }

    /// Checks and opens the answer to the last wrapped command: `(plain data, SW)`.
    pub fn unwrap(&mut self, response: &[u8]) -> Result<(Zeroizing<Vec<u8>>, [u8; 2]), ScpError> {
        let (body, sw) = response
            .split_last_chunk::<2>()
            .ok_or(ScpError::Malformed("response shorter than a status word"))?;
        let (enc, mac) = body
            .split_last_chunk::<8>()
            .ok_or(ScpError::Malformed("response without R-MAC"))?;
        let expected = self.keys.response_mac(enc, *sw);
        if !bool::from(expected.ct_eq(mac)) {
            return Err(ScpError::Mac);
        }
        Ok((self.keys.decrypt(enc, true)?, *sw))
    }
}

#[cfg(feature = "card")]
/// The card's end of a session.
#[derive(Clone)]
pub struct CardSession {
    keys: Keys,
    authenticated: bool,
    expected_host: Option<[u8; 8]>,
}

#[cfg(feature = "card")]
impl std::fmt::Debug for CardSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSession")
            .field("authenticated", &self.authenticated)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "card")]
/// The card's answer to INITIALIZE UPDATE and its pending session.
#[derive(Debug)]
pub struct CardHello {
    /// `KVN ‖ card challenge ‖ card cryptogram`.
    pub answer: Vec<u8>,
    /// The session, waiting for EXTERNAL AUTHENTICATE.
    pub session: CardSession,
}

#[cfg(feature = "card")]
impl CardSession {
    /// INITIALIZE UPDATE on the card: derives the session from the host challenge and the
    /// card's fresh random challenge.
    pub fn initialize(
        keys: &StaticKeys,
        kvn: u8,
        host_challenge: &[u8],
        card_challenge: &[u8; 8],
    ) -> Result<CardHello, ScpError> {
        let host: [u8; 8] = host_challenge
            .try_into()
            .map_err(|_| ScpError::Malformed("host challenge of 8 bytes"))?;
        let ctx = context(&host, card_challenge);
        let k = Keys::derive(keys, &ctx);
        let mut answer = vec![kvn];
        answer.extend_from_slice(card_challenge);
        answer.extend_from_slice(&k.cryptogram(constant::CARD_CRYPTOGRAM, &ctx));
        // The host cryptogram EXTERNAL AUTHENTICATE must carry.
        let expected_host = Some(k.cryptogram(constant::HOST_CRYPTOGRAM, &ctx));
        let session = CardSession {
            keys: k,
            authenticated: false,
            expected_host,
        };
        Ok(CardHello { answer, session })
    }

    /// Whether EXTERNAL AUTHENTICATE succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// EXTERNAL AUTHENTICATE: checks the host cryptogram and the C-MAC of the command
    /// (`84 82 33 00 10 cryptogram mac`).
    pub fn external_authenticate(&mut self, apdu: &[u8]) -> Result<(), ScpError> {
        let [cla, ins, p1, p2, lc, rest @ ..] = apdu else {
            return Err(ScpError::Malformed("EXTERNAL AUTHENTICATE"));
        };
        if (*cla, *ins, *p1, *lc) != (CLA_SECURE, INS_EXTERNAL_AUTHENTICATE, SECURITY_LEVEL, 16) {
            return Err(ScpError::Malformed("EXTERNAL AUTHENTICATE header"));
        }
        let data = rest
            .get(..16)
            .ok_or(ScpError::Malformed("EXTERNAL AUTHENTICATE"))?;
        let (cryptogram, mac) = data.split_at(8);
        let expected = self.expected_host.take().ok_or(ScpError::HostCryptogram)?;
        let computed = self
            .keys
            .command_mac([*cla, *ins, *p1, *p2], 16, cryptogram);
        if !bool::from(computed.ct_eq(mac)) {
            return Err(ScpError::Mac);
        }
        if !bool::from(expected.ct_eq(cryptogram)) {
            return Err(ScpError::HostCryptogram);
        }
        self.authenticated = true;
        Ok(())
    }

    /// Checks and opens a protected command (`84 INS P1 P2 Lc E(data) MAC [Le]`): returns
    /// the plain data. Any failure means the session must end.
    pub fn unwrap(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, ScpError> {
        if !self.authenticated {
            return Err(ScpError::HostCryptogram);
        }
        let [cla, ins, p1, p2, lc, rest @ ..] = apdu else {
            return Err(ScpError::Malformed("protected command too short"));
        };
        if *cla != CLA_SECURE {
            return Err(ScpError::Malformed("class is not 84"));
        }
        let n = usize::from(*lc);
        let body = rest
            .get(..n)
            .ok_or(ScpError::Malformed("Lc beyond the command"))?;
        if rest.len() > n + 1 || n < 8 {
            return Err(ScpError::Malformed("length"));
        }
        let (enc, mac) = body.split_at(n - 8);
        self.keys.next_counter()?;
        let computed = self.keys.command_mac([*cla, *ins, *p1, *p2], *lc, enc);
        if !bool::from(computed.ct_eq(mac)) {
            return Err(ScpError::Mac);
        }
        self.keys.decrypt(enc, false)
    }

    /// Protects an answer: `E(data) ‖ R-MAC ‖ SW`.
    pub fn wrap(&self, data: &[u8], sw: [u8; 2]) -> Vec<u8> {
        let enc = self.keys.encrypt(data, true);
        let mac = self.keys.response_mac(&enc, sw);
        let mut out = enc;
        out.extend_from_slice(&mac);
        out.extend_from_slice(&sw);
        out
    }
}
