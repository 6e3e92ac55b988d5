//! Secure-messaging framing checked against a published worked example:
//! ICAO Doc 9303 "Machine Readable Travel Documents", part 11 "Security Mechanisms for
//! MRTDs", Appendix D.4 "Secure messaging" (3DES BAC session established in Appendix D.3).
//!
//! Session: KSenc = 979EC13B1CBFE9DCD01AB0FED307EAE5, KSmac = F1CB1F1FB5ADF208806B89DC579DC1F8,
//! SSC = 887022120C06C226. Encryption is two-key 3DES in CBC mode with a zero IV; the MAC is
//! ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC": single-DES CBC with Ka, then the last block
//! decrypted with Kb and encrypted with Ka) over SSC ‖ padded input. The SSC is incremented
//! before each command and each response (Doc 9303-11 §9.8.6.3).
//!
//! The 3DES implementation comes from the `des` dev-dependency; cps-apdu itself has none.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use cps_apdu::sm::{self, SmCrypto, SmError};
use cps_apdu::{ApduError, Command, Response, StatusWord};
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::{Des, TdesEde2};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// A BAC session: 3DES-CBC (zero IV) and retail MAC with a send-sequence counter.
struct Bac {
    enc: TdesEde2,
    mac_a: Des,
    mac_b: Des,
    ssc: u64,
}

impl Bac {
    fn d4() -> Self {
        let ks_enc = h("979EC13B1CBFE9DCD01AB0FED307EAE5");
        let ks_mac = h("F1CB1F1FB5ADF208806B89DC579DC1F8");
        Bac {
            enc: TdesEde2::new_from_slice(&ks_enc).unwrap(),
            mac_a: Des::new_from_slice(&ks_mac[..8]).unwrap(),
            mac_b: Des::new_from_slice(&ks_mac[8..]).unwrap(),
            ssc: 0x8870_2212_0C06_C226,
        }
    }

    /// ISO/IEC 9797-1 MAC algorithm 3 over SSC ‖ `input` (`input` already padded).
    fn retail_mac(&self, input: &[u8]) -> Vec<u8> {
        let mut data = self.ssc.to_be_bytes().to_vec();
        data.extend_from_slice(input);
        assert_eq!(data.len() % 8, 0);
        let mut chain = [0u8; 8];
        for block in data.chunks(8) {
            for (c, b) in chain.iter_mut().zip(block) {
                *c ^= b;
            }
            self.mac_a
                .encrypt_block(GenericArray::from_mut_slice(&mut chain));
        }
        self.mac_b
            .decrypt_block(GenericArray::from_mut_slice(&mut chain));
        self.mac_a
            .encrypt_block(GenericArray::from_mut_slice(&mut chain));
        chain.to_vec()
    }
}

impl SmCrypto for Bac {
    fn block_size(&self) -> usize {
        8
    }

    fn start_message(&mut self) {
        self.ssc = self.ssc.wrapping_add(1);
    }

    fn encrypt(&mut self, padded: &[u8]) -> Vec<u8> {
        let mut iv = [0u8; 8];
        let mut out = Vec::with_capacity(padded.len());
        for block in padded.chunks(8) {
            for (c, b) in iv.iter_mut().zip(block) {
                *c ^= b;
            }
            self.enc
                .encrypt_block(GenericArray::from_mut_slice(&mut iv));
            out.extend_from_slice(&iv);
        }
        out
    }

    fn decrypt(&mut self, cryptogram: &[u8]) -> Result<Vec<u8>, SmError> {
        let mut prev = [0u8; 8];
        let mut out = Vec::with_capacity(cryptogram.len());
        for block in cryptogram.chunks(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(block);
            let saved = b;
            self.enc.decrypt_block(GenericArray::from_mut_slice(&mut b));
            for (x, p) in b.iter_mut().zip(&prev) {
                *x ^= p;
            }
            out.extend_from_slice(&b);
            prev = saved;
        }
        Ok(out)
    }

    fn mac(&mut self, input: &[u8]) -> Vec<u8> {
        self.retail_mac(input)
    }

    fn verify_mac(&mut self, input: &[u8], mac: &[u8]) -> bool {
        let expect = self.retail_mac(input);
        // Constant time: no early exit on the first differing byte.
        expect.len() == mac.len()
            && expect
                .iter()
                .zip(mac)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The three exchanges of Appendix D.4: (unprotected command, protected command,
/// protected response, plain response data).
const EXCHANGES: [(&str, &str, &str, &str); 3] = [
    // SELECT EF.COM.
    (
        "00A4020C02011E",
        "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
        "990290008E08FA855A5D4C50A8ED9000",
        "",
    ),
    // READ BINARY of the first four bytes.
    (
        "00B0000004",
        "0CB000000D9701048E08ED6705417E96BA5500",
        "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000",
        "60145F01",
    ),
    // READ BINARY of the remaining 18 bytes from offset 4.
    (
        "00B0000412",
        "0CB000040D9701128E082EA28A70F3C7B53500",
        "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
        "04303130365F36063034303030305C026175",
    ),
];

#[test]
fn host_side_matches_doc_9303_appendix_d4() {
    let mut host = Bac::d4();
    for (plain, protected, rapdu, data) in EXCHANGES {
        let cmd = Command::parse(&h(plain)).unwrap();
        let wrapped = sm::wrap_command(&cmd, &mut host).unwrap();
        assert_eq!(hex::encode_upper(wrapped.to_bytes()), protected, "{plain}");

        let resp = Response::parse(&h(rapdu)).unwrap();
        let opened = sm::unwrap_response(&resp, &mut host).unwrap();
        assert_eq!(opened.sw, StatusWord::SUCCESS);
        assert_eq!(hex::encode_upper(&opened.data), data, "{plain}");
    }
    // Four APDUs each way: the counter moved six times.
    assert_eq!(host.ssc, 0x8870_2212_0C06_C22C);
}

#[test]
fn card_side_reproduces_the_chip_answers() {
    let mut chip = Bac::d4();
    for (plain, protected, rapdu, data) in EXCHANGES {
        let received = Command::parse(&h(protected)).unwrap();
        let opened = sm::unwrap_command(&received, &mut chip).unwrap();
        // The unprotected command, except that the chip sees Le through 97 only.
        assert_eq!(opened, Command::parse(&h(plain)).unwrap(), "{plain}");

        let answer = Response::success(h(data));
        let wrapped = sm::wrap_response(&answer, opened.ins, &mut chip).unwrap();
        assert_eq!(hex::encode_upper(wrapped.to_bytes()), rapdu, "{plain}");
    }
}

#[test]
fn tampered_example_responses_are_refused() {
    let (_, _, rapdu, _) = EXCHANGES[1];
    let good = h(rapdu);
    for i in 0..good.len() - 2 {
        let mut bad = good.clone();
        bad[i] ^= 0x80;
        let mut host = Bac::d4();
        host.ssc += 2; // as after the SELECT exchange
        sm::wrap_command(&Command::parse(&h("00B0000004")).unwrap(), &mut host).unwrap();
        let r = sm::unwrap_response(&Response::parse(&bad).unwrap(), &mut host);
        assert!(r.is_err(), "flip of byte {i} accepted");
    }
    // The last MAC byte changed: a MAC error, not a decryption attempt.
    let mut host = Bac::d4();
    sm::wrap_command(&Command::parse(&h("00A4020C02011E")).unwrap(), &mut host).unwrap();
    let forged = Response::parse(&h("990290008E08FA855A5D4C50A8EE9000")).unwrap();
    assert_eq!(
        sm::unwrap_response(&forged, &mut host),
        Err(ApduError::SecureMessaging(SmError::MacMismatch))
    );
}
