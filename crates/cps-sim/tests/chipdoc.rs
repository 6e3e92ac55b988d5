//! The simulated CPS4 (NXP ChipDoc on logical channel 1) in process: the command forms of
//! Cryptolib CPS 5.2 (`card-cps4.c`, `pkcs15-sec.c`), byte for byte, and the refusals around
//! them. docs/card-layout.md "CPS4".
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

mod common;

use common::{h, raw, sw};
use cps_sim::{Profile, SimCard};
use cps_transport::VirtualCard;
use rsa::pkcs8::DecodePublicKey as _;
use sha2::Digest as _;

const CHIPDOC: &str = "80250000 01FF0100";
const SELECT_CHIPDOC_CH1: &str = "01A4040C08 8025000001FF0100";

fn cps4() -> SimCard {
    let mut c = SimCard::new(Profile::Cps4, "dr-martin").unwrap();
    c.power_on();
    c
}

fn s(c: &mut SimCard, apdu: &str) -> u16 {
    sw(c, &apdu.replace(' ', ""))
}

fn r(c: &mut SimCard, apdu: &str) -> Vec<u8> {
    raw(c, &apdu.replace(' ', ""))
}

/// Sends a T=0 case-4 command and fetches its answer with GET RESPONSE on the same channel.
fn with_response(c: &mut SimCard, apdu: &str) -> Vec<u8> {
    let first = r(c, apdu);
    let cla = h(&apdu.replace(' ', ""))[0] & 0x03;
    if first.len() == 2 && first[0] == 0x61 {
        let out = c.process(&[cla, 0xC0, 0x00, 0x00, first[1]]);
        assert_eq!(&out[out.len() - 2..], &[0x90, 0x00]);
        return out[..out.len() - 2].to_vec();
    }
    // 6282: end of file reached before Le bytes (READ BINARY with Le 00).
    let sw = &first[first.len() - 2..];
    assert!(
        sw == [0x90, 0x00] || sw == [0x62, 0x82],
        "{apdu}: {first:02X?}"
    );
    first[..first.len() - 2].to_vec()
}

fn public_key(slot: &str) -> rsa::RsaPublicKey {
    let der =
        std::fs::read(common::pki_dir().join(format!("rsa2048/dr-martin/{slot}.crt.der"))).unwrap();
    let spki = common::cert_public_key_bits(&der);
    rsa::RsaPublicKey::from_public_key_der(&spki)
        .or_else(|_| {
            use rsa::pkcs1::DecodeRsaPublicKey as _;
            rsa::RsaPublicKey::from_pkcs1_der(&spki)
        })
        .unwrap()
}

#[test]
fn atrs_of_the_three_cps4_variants() {
    let want = [
        "3B9B1880010012250064800401000090 44",
        "3B9B1880010012250064800004010090 44",
        "3BDC18FF000012250064800004010090 00",
    ];
    for (i, atr) in want.iter().enumerate() {
        let c = SimCard::builder()
            .profile(Profile::Cps4)
            .persona("dr-martin")
            .atr_variant(i)
            .build()
            .unwrap();
        assert_eq!(c.atr(), h(&atr.replace(' ', "")), "variant {i}");
    }
    let e = SimCard::builder()
        .profile(Profile::Cps4)
        .persona("dr-martin")
        .atr_variant(3)
        .build();
    assert!(e.is_err(), "no fourth ATR");
}

#[test]
fn chipdoc_lives_on_logical_channel_1() {
    let mut c = cps4();
    // Before ChipDoc is selected there is no file system and no IAS application.
    assert_eq!(
        s(&mut c, "00 20 00 01"),
        0x6D00,
        "basic channel: nothing selected"
    );
    assert_eq!(s(&mut c, "01 20 00 01"), 0x6881, "channel 1 closed");
    assert_eq!(s(&mut c, "03 20 00 01"), 0x6881, "channel 3 closed");
    assert_eq!(
        s(&mut c, "00 A4 04 0C 0D E828BD080F8025000001FF0010"),
        0x6A82
    );
    // Cryptolib's first command opens channel 1 by SELECT.
    assert_eq!(s(&mut c, SELECT_CHIPDOC_CH1), 0x9000);
    assert_eq!(
        s(&mut c, "01 20 00 01"),
        0x63C3,
        "PIN tries by empty VERIFY"
    );
    // EF.SN with P2 00: FCI template 6F, then READ BINARY.
    let fci = with_response(&mut c, "01 A4 08 00 02 D003 00");
    assert_eq!(fci[0], 0x6F);
    let sn = with_response(&mut c, "01 B0 00 00 0C");
    assert_eq!(&sn[..7], &h("5A0A8025000001"));
    // The basic channel is independent: GP ISD and CPS2ter answer SELECT only.
    assert_eq!(s(&mut c, "00 A4 04 0C 07 A0000001510000"), 0x9000);
    assert_eq!(s(&mut c, "00 CA 00 66 00"), 0x6D00);
    assert_eq!(s(&mut c, "00 A4 04 0C 08 8025000001FF0002"), 0x9000);
    assert_eq!(
        s(&mut c, "01 20 00 01"),
        0x63C3,
        "channel 1 still on ChipDoc"
    );
    // ChipDoc can also be selected on the basic channel (same application state).
    assert_eq!(s(&mut c, &format!("00 A4 04 0C 08 {CHIPDOC}")), 0x9000);
    assert_eq!(s(&mut c, "00 20 00 01"), 0x63C3);
    // A reset closes channel 1: Cryptolib's re-select path (6881 -> SELECT ChipDoc).
    c.reset();
    assert_eq!(s(&mut c, "01 20 00 01"), 0x6881);
    assert_eq!(s(&mut c, SELECT_CHIPDOC_CH1), 0x9000);
    assert_eq!(s(&mut c, "01 20 00 01"), 0x63C3);
    // A failed SELECT on a closed channel leaves it closed.
    c.reset();
    assert_eq!(s(&mut c, "02 A4 04 0C 05 A000000001"), 0x6A82);
    assert_eq!(s(&mut c, "02 20 00 01"), 0x6881);
}

#[test]
fn signature_pkcs1_and_pss_with_host_hashes() {
    let mut c = cps4();
    assert_eq!(s(&mut c, SELECT_CHIPDOC_CH1), 0x9000);
    let msg = b"feuille de soins";
    let h256 = sha2::Sha256::digest(msg);
    let h1 = sha1::Sha1::digest(msg);
    let cds = |hash: &[u8]| format!("01 2A 9E 9A {:02X} {} 00", hash.len(), hex::encode(hash));
    // Without the PIN: security status not satisfied.
    assert_eq!(s(&mut c, "01 22 81 B6 04 91 02 28 81"), 0x9000);
    assert_eq!(s(&mut c, &cds(&h256)), 0x6982);
    assert_eq!(s(&mut c, "01 20 00 01 04 31323334"), 0x9000);
    let sig_pub = public_key("sign");
    let aut_pub = public_key("auth");
    for (alg, hash, pss) in [
        ("0A", &h1[..], false),
        ("28", &h256[..], false),
        ("15", &h1[..], true),
        ("2C", &h256[..], true),
    ] {
        assert_eq!(s(&mut c, &format!("01 22 81 B6 04 91 02 {alg} 81")), 0x9000);
        let sig = with_response(&mut c, &cds(hash));
        assert_eq!(sig.len(), 256);
        if pss {
            let scheme = if hash.len() == 20 {
                rsa::Pss::new::<sha1::Sha1>()
            } else {
                rsa::Pss::new::<sha2::Sha256>()
            };
            sig_pub.verify(scheme, hash, &sig).unwrap();
        } else {
            let mut di = if hash.len() == 20 {
                h("3021300906052B0E03021A05000414")
            } else {
                h("3031300D060960864801650304020105000420")
            };
            di.extend_from_slice(hash);
            sig_pub
                .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &di, &sig)
                .unwrap();
        }
        // A hash of the other length is refused.
        let other = if hash.len() == 20 { &h256[..] } else { &h1[..] };
        assert_eq!(s(&mut c, &cds(other)), 0x6700, "alg {alg}");
    }
    // PSS with the authentication key (key byte A0 = 20 | 80), as for TLS 1.3.
    assert_eq!(s(&mut c, "01 22 81 B6 04 91 02 2C A0"), 0x9000);
    let sig = with_response(&mut c, &cds(&h256));
    aut_pub
        .verify(rsa::Pss::new::<sha2::Sha256>(), &h256, &sig)
        .unwrap();
    // Algorithms marked "not implemented" in cards.h, unknown keys, malformed CRTs.
    for alg in ["09", "1E", "27", "29", "2A", "2B", "2D", "2E", "12"] {
        assert_eq!(
            s(&mut c, &format!("01 22 81 B6 04 91 02 {alg} 81")),
            0x6A80,
            "{alg}"
        );
    }
    assert_eq!(s(&mut c, "01 22 81 B6 04 91 02 28 85"), 0x6A88);
    assert_eq!(s(&mut c, "01 22 81 B6 03 91 01 28"), 0x6A80);
    assert_eq!(
        s(&mut c, "01 22 41 B6 06 80 01 42 84 01 81"),
        0x6A86,
        "IAS-ECC form"
    );
    // No INTERNAL AUTHENTICATE on ChipDoc.
    assert_eq!(s(&mut c, "01 88 00 00 04 01020304 00"), 0x6D00);
}

#[test]
fn authentication_and_decryption_by_decipher() {
    let mut c = cps4();
    assert_eq!(s(&mut c, SELECT_CHIPDOC_CH1), 0x9000);
    assert_eq!(s(&mut c, "01 22 41 B8 03 83 01 20"), 0x9000);
    // Type-1 block padded by the host (pkcs15-sec.c forces the padding for the CPS4
    // authentication key), sent chained on channel 1 (CLA 11 then 01).
    let h256 = sha2::Sha256::digest(b"TLS handshake");
    let mut di = h("3031300D060960864801650304020105000420");
    di.extend_from_slice(&h256);
    let mut block = vec![0x00, 0x01];
    block.resize(256 - di.len() - 1, 0xFF);
    block.push(0x00);
    block.extend_from_slice(&di);
    let first = format!("11 2A 80 86 FF {}", hex::encode(&block[..255]));
    let last = format!("01 2A 80 86 01 {} 00", hex::encode(&block[255..]));
    assert_eq!(s(&mut c, &first), 0x9000, "chain accepted");
    assert_eq!(s(&mut c, &last), 0x6982, "PIN first");
    assert_eq!(s(&mut c, "01 20 00 01 04 31323334"), 0x9000);
    assert_eq!(s(&mut c, &first), 0x9000);
    let sig = with_response(&mut c, &last);
    public_key("auth")
        .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &h256, &sig)
        .unwrap();
    // Decryption: the raw result keeps the type-2 padding; the host strips it.
    let plain = b"cle de session";
    let enc = public_key("auth")
        .encrypt(&mut rand_core::OsRng, rsa::Pkcs1v15Encrypt, plain)
        .unwrap();
    assert_eq!(
        s(
            &mut c,
            &format!("11 2A 80 86 FF {}", hex::encode(&enc[..255]))
        ),
        0x9000
    );
    let out = with_response(
        &mut c,
        &format!("01 2A 80 86 01 {} 00", hex::encode(&enc[255..])),
    );
    assert_eq!(out.len(), 256);
    assert_eq!(&out[..2], &[0x00, 0x02]);
    assert!(out.ends_with(plain));
    // A cryptogram of the wrong size, or not below the modulus.
    assert_eq!(s(&mut c, "01 2A 80 86 04 01020304 00"), 0x6700);
    let big = "FF".repeat(255);
    assert_eq!(s(&mut c, &format!("11 2A 80 86 FF {big}")), 0x9000);
    assert_eq!(s(&mut c, "01 2A 80 86 01 FF 00"), 0x6A80);
    // The decipher key is 20 only.
    assert_eq!(s(&mut c, "01 22 41 B8 03 83 01 21"), 0x6A88);
    assert_eq!(s(&mut c, "01 22 41 B8 03 84 01 20"), 0x6A80);
}

#[test]
fn pin_change_and_unblock_as_cryptolib_sends_them() {
    let mut c = cps4();
    assert_eq!(s(&mut c, SELECT_CHIPDOC_CH1), 0x9000);
    // Change: VERIFY old, then 24 01 new.
    assert_eq!(s(&mut c, "01 24 01 01 04 35363738"), 0x6982, "not verified");
    assert_eq!(s(&mut c, "01 20 00 01 04 31323334"), 0x9000);
    assert_eq!(s(&mut c, "01 24 01 01 04 35363738"), 0x9000);
    // Block it: three wrong PINs, each spending exactly one try.
    for left in [2u8, 1, 0] {
        let want = if left == 0 {
            0x63C0
        } else {
            0x63C0 | u16::from(left)
        };
        assert_eq!(s(&mut c, "01 20 00 01 04 30303030"), want);
        assert_eq!(c.tries_left(1), Some(left));
    }
    assert_eq!(s(&mut c, "01 20 00 01"), 0x6983, "blocked");
    // Unblock: VERIFY the PUK, 2C 03 <ref|80>, then 24 01 <ref> <new>.
    assert_eq!(s(&mut c, "01 2C 03 81"), 0x6982, "PUK first");
    assert_eq!(s(&mut c, "01 20 00 02 08 3132333435363738"), 0x9000);
    assert_eq!(s(&mut c, "01 2C 03 81"), 0x9000);
    assert_eq!(c.tries_left(1), Some(3));
    assert_eq!(s(&mut c, "01 24 01 01 04 31323334"), 0x9000);
    assert_eq!(s(&mut c, "01 20 00 01 04 31323334"), 0x9000);
}

#[test]
fn data_objects_behind_the_pin() {
    let mut c = cps4();
    assert_eq!(s(&mut c, SELECT_CHIPDOC_CH1), 0x9000);
    // CPS_NAME_PS is free, a situation needs the PIN.
    assert_eq!(s(&mut c, "01 A4 08 0C 04 0001 D001"), 0x9000);
    let name = with_response(&mut c, "01 B0 00 00 00");
    assert!(name.windows(6).any(|w| w == b"MARTIN"));
    assert_eq!(s(&mut c, "01 A4 08 0C 04 0001 D120"), 0x9000);
    assert_eq!(s(&mut c, "01 B0 00 00 00"), 0x6982);
    assert_eq!(s(&mut c, "01 20 00 01 04 31323334"), 0x9000);
    let sit = with_response(&mut c, "01 B0 00 00 00");
    assert_eq!(sit[0], 0xEE);
    // One file per situation of the persona, no more.
    assert_eq!(s(&mut c, "01 A4 08 0C 04 0001 D121"), 0x9000);
    assert_eq!(s(&mut c, "01 A4 08 0C 04 0001 D122"), 0x6A82);
}
