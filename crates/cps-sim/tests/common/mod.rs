//! Helpers shared by the in-process tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

use cps_apdu::{Command, Response, StatusWord};
use cps_sim::{Profile, SimCard};
use cps_transport::{Exchange, InProcessChannel, VirtualCard};

/// The IAS-ECC application's AID (docs/card-layout.md, [real CPx]).
pub const AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];

/// Bytes from hex with spaces.
pub fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// A powered card.
pub fn card(profile: Profile, persona: &str) -> SimCard {
    let mut c = SimCard::new(profile, persona).unwrap();
    c.power_on();
    c
}

/// Sends raw bytes, returns the raw answer.
pub fn raw(c: &mut SimCard, apdu: &str) -> Vec<u8> {
    c.process(&h(apdu))
}

/// Sends raw bytes as a T=0 host does: a case-4 answer announced by a bare `61xx` is
/// fetched with one GET RESPONSE; returns the answer.
pub fn fetch(c: &mut SimCard, apdu: &str) -> Vec<u8> {
    fetch_bytes(c, &h(apdu))
}

/// [`fetch`] of bytes.
pub fn fetch_bytes(c: &mut SimCard, apdu: &[u8]) -> Vec<u8> {
    let r = c.process(apdu);
    match r.as_slice() {
        [0x61, le] => c.process(&[0x00, 0xC0, 0x00, 0x00, *le]),
        _ => r,
    }
}

/// Sends raw bytes, returns the status word only.
pub fn sw(c: &mut SimCard, apdu: &str) -> u16 {
    let r = raw(c, apdu);
    assert!(r.len() >= 2, "{apdu}: short answer");
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

/// A host exchange over an in-process channel.
pub fn host(profile: Profile, persona: &str) -> Exchange<InProcessChannel<SimCard>> {
    let c = SimCard::new(profile, persona).unwrap();
    Exchange::new(InProcessChannel::new(c))
}

/// Transmits through the exchange layer.
pub fn tx(e: &mut Exchange<InProcessChannel<SimCard>>, cmd: Command) -> Response {
    e.transmit(&cmd).unwrap()
}

/// Command from header bytes and data, with Le.
pub fn cmd(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], ne: Option<usize>) -> Command {
    let mut c = Command::new(cla, ins, p1, p2).with_data(data);
    c.ne = ne;
    c
}

pub fn select_aid(e: &mut Exchange<InProcessChannel<SimCard>>) {
    let r = tx(e, cmd(0, 0xA4, 0x04, 0x04, &AID, Some(256)));
    assert!(r.is_success(), "{}", r.sw);
}

pub fn verify(e: &mut Exchange<InProcessChannel<SimCard>>, pin: &[u8]) -> StatusWord {
    tx(e, cmd(0, 0x20, 0, 1, pin, None)).sw
}

/// Reads a whole EF at an absolute path through the exchange layer.
pub fn read_file(e: &mut Exchange<InProcessChannel<SimCard>>, path: &[u8]) -> Vec<u8> {
    let r = tx(e, cmd(0, 0xA4, 0x09, 0x04, path, Some(256)));
    assert!(r.is_success(), "select {}: {}", hex::encode(path), r.sw);
    let size = usize::from(u16::from_be_bytes([r.data[4], r.data[5]]));
    let mut out = Vec::new();
    while out.len() < size {
        let off = out.len() as u16;
        let n = (size - out.len()).min(256);
        let r = tx(e, cmd(0, 0xB0, (off >> 8) as u8, off as u8, &[], Some(n)));
        assert!(r.is_success(), "read: {}", r.sw);
        out.extend_from_slice(&r.data);
    }
    out
}

/// The subjectPublicKey bits of a DER certificate (RFC 5280 §4.1: Certificate → tbs →
/// [version], serial, signature, issuer, validity, subject, SPKI → BIT STRING).
pub fn cert_public_key_bits(cert: &[u8]) -> Vec<u8> {
    fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = b[0];
        let (len, hdr) = match b[1] {
            l if l < 0x80 => (usize::from(l), 2),
            0x81 => (usize::from(b[2]), 3),
            0x82 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
            _ => panic!("length"),
        };
        (tag, &b[hdr..hdr + len], &b[hdr + len..])
    }
    let (_, cert_body, _) = tlv(cert);
    let (_, mut tbs, _) = tlv(cert_body);
    let (tag, _, rest) = tlv(tbs);
    if tag == 0xA0 {
        tbs = rest; // skip version
    } else {
        // no version: serial is first
    }
    // serial, signature alg, issuer, validity, subject
    for _ in 0..5 {
        let (_, _, rest) = tlv(tbs);
        tbs = rest;
    }
    let (_, spki, _) = tlv(tbs);
    let (_, _, after_alg) = tlv(spki);
    let (tag, bits, _) = tlv(after_alg);
    assert_eq!(tag, 0x03);
    bits[1..].to_vec()
}

/// The committed test PKI directory.
pub fn pki_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testvectors/pki")
}
