//! In-process tests of every command and error path of the simulated card.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

mod common;

use common::*;
use cps_apdu::tlv::{self, Tag};
use cps_apdu::{Command, Response, StatusWord};
use cps_sim::{Applet, AppletContext, Interface, Profile, SimCard, SimError};
use cps_transport::{Atr, Exchange, InProcessChannel, VirtualCard};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use sha2::Digest;

const DI_SHA256: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

fn rsa_pub(card: &SimCard, key: u8) -> rsa::RsaPublicKey {
    rsa::RsaPublicKey::from_pkcs1_der(&card.public_key(key).unwrap()).unwrap()
}

// ---------------------------------------------------------------- ATR, interfaces, transport

#[test]
fn atrs_follow_the_layout() {
    let c3 = card(Profile::Cps3, "dr-martin");
    assert_eq!(
        c3.atr(),
        h("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00")
    );
    // The real CPS4: the production ATR of card-cps.c's CPS_ATR_LIST (CPS4_C_ATR), T=0,
    // no extended length (the earlier modelled CPS4 announced T=1 and extended length).
    let c4 = card(Profile::Cps4, "dr-martin");
    let atr = c4.atr();
    assert_eq!(atr, h("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44"));
    let parsed = Atr::new(&atr);
    assert!(parsed.protocols().contains(&0));
    assert!(!parsed.supports_extended_length());
    assert_eq!(parsed.interface(), cps_transport::Interface::Contact);
    for p in [Profile::Cps3, Profile::Cps4] {
        let cl = SimCard::builder()
            .profile(p)
            .interface(Interface::Contactless)
            .build()
            .unwrap();
        let atr = cl.atr();
        let parsed = Atr::new(&atr);
        assert!(parsed.is_well_formed(), "{p} contactless ATR");
        assert_eq!(
            parsed.interface(),
            cps_transport::Interface::Contactless,
            "{p}"
        );
        assert_eq!(cl.interface(), Interface::Contactless);
    }
}

#[test]
fn contactless_has_no_iasecc_application() {
    let mut c = SimCard::builder()
        .profile(Profile::Cps4)
        .interface(Interface::Contactless)
        .build()
        .unwrap();
    c.power_on();
    let mut sel = String::from("00A404000D");
    sel.push_str(&hex::encode(AID));
    assert_eq!(sw(&mut c, &sel), 0x6A82);
    assert_eq!(sw(&mut c, "00A4000C023F00"), 0x6A82);
    assert_eq!(sw(&mut c, "00A40904043F002F01"), 0x6A82);
    assert_eq!(sw(&mut c, "0084000008"), 0x6D00);
    assert_eq!(sw(&mut c, "0020000100"), 0x6D00);
}

#[test]
fn t0_answers_through_61xx() {
    let mut c = card(Profile::Cps3, "dr-martin");
    // Case 4 without Le (T=0): 61xx, then GET RESPONSE in two parts.
    let r = raw(&mut c, "00A40904043F002F01");
    assert_eq!(r, [0x61, 0x17]);
    let r = raw(&mut c, "00C0000010");
    assert_eq!(r.len(), 0x10 + 2);
    assert_eq!(&r[..2], &[0x62, 0x15]);
    assert_eq!(&r[0x10..], &[0x61, 0x07]);
    let r = raw(&mut c, "00C0000007");
    assert_eq!(&r[7..], &[0x90, 0x00]);
    // Nothing left.
    assert_eq!(sw(&mut c, "00C0000010"), 0x6985);
    // Another command discards pending data.
    assert_eq!(raw(&mut c, "00A40904043F002F01"), [0x61, 0x17]);
    assert_eq!(sw(&mut c, "0084000008"), 0x9000);
    assert_eq!(sw(&mut c, "00C0000017"), 0x6985);
    // GET RESPONSE with bad P1-P2 or no Le keeps the data.
    assert_eq!(raw(&mut c, "00A40904043F002F01"), [0x61, 0x17]);
    assert_eq!(sw(&mut c, "00C0010017"), 0x6A86);
    assert_eq!(sw(&mut c, "00C00000"), 0x6700);
    assert_eq!(sw(&mut c, "00C0000017"), 0x9000);
    // Le given: the same on T=0 (the TPDU of a case-4 command carries no Le, ISO 7816-3
    // §12.2.4; a real CPS3 answers `00 A4 09 04 02 2F 01` with `61 27`, OpenSC #2223).
    assert_eq!(raw(&mut c, "00A40904043F002F0100"), [0x61, 0x17]);
    assert_eq!(raw(&mut c, "00C0000017").len(), 0x17 + 2);
    // Longer than 256 bytes: 61 00, then 256 + 61 xx.
    let r = raw(&mut c, "00CB3FFF0B4D097007BFA002037F4980");
    assert_eq!(r, [0x61, 0x00]);
    let r = raw(&mut c, "00C0000000");
    assert_eq!(r.len(), 258);
    assert_eq!(&r[256..], &[0x61, 0x18]);
    let r = raw(&mut c, "00C0000018");
    assert_eq!(r.len(), 0x18 + 2);
    assert_eq!(&r[0x18..], &[0x90, 0x00]);
    // Extended APDUs are not for CPS3.
    assert_eq!(sw(&mut c, "00B00000000100"), 0x6700);
}

#[test]
fn malformed_and_unknown_commands_are_errors() {
    {
        let p = Profile::Cps3;
        let mut c = card(p, "dr-martin");
        assert_eq!(sw(&mut c, "00"), 0x6700, "too short");
        assert_eq!(sw(&mut c, "00A4040005A000"), 0x6700, "Lc mismatch");
        assert_eq!(sw(&mut c, "00F00000"), 0x6D00);
        assert_eq!(sw(&mut c, "00E4000000"), 0x6D00, "DELETE FILE");
        assert_eq!(sw(&mut c, "80840000 08"), 0x6E00);
        // Class A0 is the CPS2ter application's: the MF answers 9F07 (src/cps2ter.rs).
        assert_eq!(sw(&mut c, "A0A40000023F00"), 0x9F07);
        assert_eq!(sw(&mut c, "FF84000008"), 0x6E00);
        assert_eq!(sw(&mut c, "0184000008"), 0x6881, "logical channel");
        assert_eq!(sw(&mut c, "0C84000008"), 0x6882, "secure messaging");
        // Chained unknown instruction: refused at once, not 9000.
        assert_eq!(sw(&mut c, "10F0000001AA"), 0x6D00);
        assert_eq!(sw(&mut c, "90840000 0100"), 0x6E00);
        // Unknown AID.
        assert_eq!(sw(&mut c, "00A4040005A000000001"), 0x6A82);
        assert_eq!(
            sw(&mut c, "00A4040007A0000006472F0001"),
            0x6A82,
            "no FIDO2 applet yet"
        );
    }
}

#[test]
fn get_challenge() {
    let mut c = card(Profile::Cps3, "dr-martin");
    let a = raw(&mut c, "0084000008");
    let b = raw(&mut c, "0084000008");
    assert_eq!(a.len(), 10);
    assert_ne!(a, b);
    assert_eq!(raw(&mut c, "0084000000").len(), 258);
    assert_eq!(sw(&mut c, "00840000"), 0x6700);
    assert_eq!(sw(&mut c, "0084010008"), 0x6A86);
    let mut c4 = card(Profile::Cps3, "dr-martin");
    assert_eq!(sw(&mut c4, "00840000000101"), 0x6700, "more than 256");
}

// ---------------------------------------------------------------- SELECT

#[test]
fn select_forms() {
    let mut c = card(Profile::Cps3, "dr-martin");
    // P1 00: MF by empty data or 3F00, then a child, then the parent's child.
    assert_eq!(sw(&mut c, "00A4000C00"), 0x9000);
    assert_eq!(sw(&mut c, "00A4000C023F00"), 0x9000);
    assert_eq!(sw(&mut c, "00A4000C020001"), 0x9000);
    assert_eq!(sw(&mut c, "00A4000C02D001"), 0x9000);
    assert_eq!(
        sw(&mut c, "00A4000C022F00"),
        0x9000,
        "sibling of the parent DF"
    );
    assert_eq!(sw(&mut c, "00A4000C020001"), 0x9000, "current DF itself");
    // P1 01: child DF only.
    assert_eq!(
        sw(&mut c, "00A4010C020001"),
        0x6A82,
        "0001 is the current DF, not a child"
    );
    assert_eq!(sw(&mut c, "00A4000C023F00"), 0x9000);
    assert_eq!(sw(&mut c, "00A4010C020001"), 0x9000);
    assert_eq!(sw(&mut c, "00A4010C02D001"), 0x6A82, "an EF");
    // P1 02: EF (or DF) under the current DF, 3F00 accepted.
    assert_eq!(sw(&mut c, "00A4020C02D002"), 0x9000);
    assert_eq!(sw(&mut c, "00A4020C022F00"), 0x6A82, "not under 0001");
    let r = fetch(&mut c, "00A40204023F0000");
    assert_eq!(r[0], 0x62);
    // P1 03: parent.
    assert_eq!(sw(&mut c, "00A4020C020001"), 0x9000);
    assert_eq!(sw(&mut c, "00A4030C"), 0x9000);
    assert_eq!(sw(&mut c, "00A4020C022F01"), 0x9000, "back in the MF");
    assert_eq!(sw(&mut c, "00A4030C023F00"), 0x6A87);
    // P1 08: path from the MF, with or without 3F00.
    assert_eq!(sw(&mut c, "00A4080C040001C001"), 0x9000);
    assert_eq!(sw(&mut c, "00A4080C063F000001C001"), 0x9000);
    // P1 09: from the current DF, 3F00 = absolute (OpenSC's CPx form).
    assert_eq!(sw(&mut c, "00A4090C02C002"), 0x9000);
    assert_eq!(sw(&mut c, "00A4090C043F002F01"), 0x9000);
    assert_eq!(sw(&mut c, "00A4090C02C002"), 0x6A82, "now in the MF");
    // Bad lengths and parameters.
    assert_eq!(sw(&mut c, "00A4080C033F0000"), 0x6A87);
    assert_eq!(sw(&mut c, "00A4000C033F0000"), 0x6A87);
    assert_eq!(sw(&mut c, "00A40A0C023F00"), 0x6A86);
    assert_eq!(sw(&mut c, "00A4001C023F00"), 0x6A86);
    assert_eq!(
        sw(&mut c, "00A4000D023F00"),
        0x6A86,
        "occurrence only for DF names"
    );
    // A failed SELECT keeps the current file.
    assert_eq!(sw(&mut c, "00A4090C043F002F01"), 0x9000);
    assert_eq!(sw(&mut c, "00A4080C02BEEF"), 0x6A82);
    let r = raw(&mut c, "00B0000004");
    assert_eq!(&r[..2], &[0x46, 0x04], "EF.ATR still current");
    // P2 00 (FCI) answers the FCP's objects in the FCI template 6F; 04 (FCP) and 08 (FMD)
    // the FCP; 0C nothing.
    for (p2, tag) in [("00", 0x6F), ("04", 0x62), ("08", 0x62)] {
        let r = fetch(&mut c, &format!("00A409{p2}043F002F0100"));
        assert_eq!(r[0], tag, "P2 {p2}");
    }
    assert_eq!(raw(&mut c, "00A4090C043F002F01"), [0x90, 0x00]);
}

#[test]
fn select_by_df_name() {
    let mut c = card(Profile::Cps3, "dr-martin");
    let r = fetch(&mut c, &format!("00A404040D{}00", hex::encode(AID)));
    let fcp = &r[..r.len() - 2];
    assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
    // FCP of DF.CPS-IAS: 82 38, 83 0001, 84 AID, 8A 05, A1 { 8C 06 FF FF }.
    assert_eq!(
        fcp,
        h(
            "62 20 82 01 38 83 02 00 01 84 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10 8A 01 05 A1 05 8C 03 06 FF FF"
        )
    );
    // Right-truncated name.
    assert_eq!(sw(&mut c, "00A4040C07E828BD080F8025"), 0x9000);
    // Next occurrence: none.
    assert_eq!(sw(&mut c, "00A4040D07E828BD080F8025"), 0x6A82);
    assert_eq!(sw(&mut c, "00A4040C00"), 0x6A82, "empty name");
    // The IAS DF is current: EF.IDENT by FID.
    assert_eq!(sw(&mut c, "00A4020C02D001"), 0x9000);
}

#[test]
fn fcps_match_the_layout() {
    let mut c = card(Profile::Cps3, "dr-martin");
    let mut e = Exchange::new(InProcessChannel::new(
        SimCard::new(Profile::Cps3, "dr-martin").unwrap(),
    ));
    // EF.SN: [real CPx] FID D003 SFI 1C.
    let r = tx(&mut e, cmd(0, 0xA4, 0x09, 0x04, &h("3F00D003"), Some(256)));
    assert_eq!(
        r.data,
        h("62 18 80 02 00 0C 82 01 01 83 02 D0 03 88 01 E0 8A 01 05 A1 05 8C 03 03 FF 00")
    );
    // EF.DAM: read needs the PIN (SC 11), SFI 02.
    let r = tx(
        &mut e,
        cmd(0, 0xA4, 0x09, 0x04, &h("3F000001D002"), Some(256)),
    );
    let fcp = tlv::find(&r.data, Tag(0x62)).unwrap().unwrap();
    assert_eq!(fcp.child(Tag(0x88)).unwrap().unwrap().value, [0x10]);
    assert_eq!(
        fcp.child(Tag(0xA1)).unwrap().unwrap().value,
        [0x8C, 0x03, 0x03, 0xFF, 0x11]
    );
    // Every EF has an exact size and a READ rule without SM (OpenSC needs both).
    for path in c.file_paths() {
        let apdu: Vec<u8> = path.iter().flat_map(|f| f.to_be_bytes()).collect();
        let mut sel = vec![0x00, 0xA4, 0x09, 0x04, apdu.len() as u8];
        sel.extend_from_slice(&apdu);
        sel.push(0);
        let r = fetch_bytes(&mut c, &sel);
        let fcp = tlv::find(&r[..r.len() - 2], Tag(0x62)).unwrap().unwrap();
        let size = fcp.child(Tag(0x80)).unwrap().unwrap().value;
        assert_eq!(
            usize::from(u16::from_be_bytes([size[0], size[1]])),
            c.file(&path).unwrap().len()
        );
        let acl = fcp
            .child(Tag(0xA1))
            .unwrap()
            .unwrap()
            .child(Tag(0x8C))
            .unwrap()
            .unwrap();
        assert_eq!(acl.value[0] & 0x01, 0x01, "READ bit");
        assert_eq!(acl.value[2] & 0x40, 0, "no SM on READ");
    }
}

// ---------------------------------------------------------------- READ / UPDATE BINARY

#[test]
fn read_binary() {
    let mut c = card(Profile::Cps3, "dr-martin");
    assert_eq!(sw(&mut c, "00B0000010"), 0x6986, "no current EF");
    assert_eq!(sw(&mut c, "00A4090C043F002F01"), 0x9000);
    let atr_file = c.file(&[0x3F00, 0x2F01]).unwrap().to_vec();
    let r = raw(&mut c, "00B0000004");
    assert_eq!(r, [&atr_file[..4], &[0x90, 0x00][..]].concat());
    let r = raw(&mut c, "00B0000410");
    assert_eq!(&r[..16], &atr_file[4..20]);
    // Up to the end: fewer than Ne → 6282.
    let r = raw(&mut c, "00B0002000");
    assert_eq!(&r[..r.len() - 2], &atr_file[0x20..]);
    assert_eq!(&r[r.len() - 2..], &[0x62, 0x82]);
    // At the end or beyond: 6B00.
    let end = atr_file.len();
    assert_eq!(sw(&mut c, &format!("00B000{end:02X}10")), 0x6B00);
    assert_eq!(sw(&mut c, &format!("00B000{:02X}10", end + 1)), 0x6B00);
    assert_eq!(sw(&mut c, "00B07FFF01"), 0x6B00);
    assert_eq!(sw(&mut c, "00B00000"), 0x6700, "no Le");
    assert_eq!(sw(&mut c, "00B0000001AA00"), 0x6700, "data");
    // SFI: EF.SN (SFI 1C, in the MF) from the IAS DF, as OpenSC reads it.
    assert_eq!(
        sw(&mut c, &format!("00A4040C0D{}", hex::encode(AID))),
        0x9000
    );
    let r = raw(&mut c, "00B09C00C0");
    assert_eq!(&r[..2], &[0x5A, 0x0A]);
    assert_eq!(&r[r.len() - 2..], &[0x62, 0x82]);
    // SFI 01 = EF.IDENT, with an offset in P2.
    let ident = c.file(&[0x3F00, 0x0001, 0xD001]).unwrap().to_vec();
    let r = raw(&mut c, "00B0810205");
    assert_eq!(&r[..5], &ident[2..7]);
    // EF.IDENT is now current: offsets in P1-P2 apply to it.
    let r = raw(&mut c, "00B0000002");
    assert_eq!(&r[..2], &ident[..2]);
    // SFI errors.
    assert_eq!(sw(&mut c, "00B0850001"), 0x6A82);
    assert_eq!(sw(&mut c, "00B0A10001"), 0x6A86, "b6-b7 must be 0");
    assert_eq!(sw(&mut c, "00B0800001"), 0x6A86, "SFI 0");
    // EF.DAM: PIN first.
    assert_eq!(sw(&mut c, "00B0820000"), 0x6982);
    assert_eq!(sw(&mut c, "002000010431323334"), 0x9000);
    let r = raw(&mut c, "00B0820000");
    assert_eq!(r[0], 0xE2);
    // A DF cannot be read.
    assert_eq!(sw(&mut c, "00A4000C020001"), 0x9000);
    assert_eq!(sw(&mut c, "00B0000001"), 0x6986);
}

#[test]
fn update_binary_follows_the_access_rules() {
    let mut c = card(Profile::Cps3, "dr-martin");
    assert_eq!(sw(&mut c, "00D6000001AA"), 0x6986);
    assert_eq!(sw(&mut c, "00A4090C063F000001D001"), 0x9000);
    assert_eq!(sw(&mut c, "00D6000001AA"), 0x6982, "update never");
    assert_eq!(sw(&mut c, "002000010431323334"), 0x9000);
    assert_eq!(
        sw(&mut c, "00D6000001AA"),
        0x6982,
        "never, even after the PIN"
    );
    assert_eq!(sw(&mut c, "00D60000"), 0x6700);

    // A profile where EF.IDENT is updatable after the PIN (SC 11).
    let mut spec = cps_sim::ProfileSpec::builtin(Profile::Cps3).unwrap();
    let df = spec
        .files
        .children
        .as_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f.fid.0 == 1)
        .unwrap();
    let ident = df
        .children
        .as_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f.fid.0 == 0xD001)
        .unwrap();
    ident.acl = cps_sim::profile::Hex(vec![0x03, 0x11, 0x00]);
    let mut c = SimCard::builder().profile_spec(spec).build().unwrap();
    c.power_on();
    let len = c.file(&[0x3F00, 0x0001, 0xD001]).unwrap().len();
    assert_eq!(sw(&mut c, "00A4090C063F000001D001"), 0x9000);
    assert_eq!(sw(&mut c, "00D6000002ABCD"), 0x6982);
    assert_eq!(sw(&mut c, "002000010431323334"), 0x9000);
    assert_eq!(sw(&mut c, "00D6000102ABCD"), 0x9000);
    assert_eq!(
        &c.file(&[0x3F00, 0x0001, 0xD001]).unwrap()[..3],
        &[0xE1, 0xAB, 0xCD]
    );
    assert_eq!(sw(&mut c, &format!("00D6{:04X}02ABCD", len - 1)), 0x6A84);
    assert_eq!(sw(&mut c, &format!("00D6{:04X}01AB", len + 1)), 0x6B00);
    assert_eq!(sw(&mut c, "00D6810001EE"), 0x9000, "by SFI");
    assert_eq!(c.file(&[0x3F00, 0x0001, 0xD001]).unwrap()[0], 0xEE);
}

// ---------------------------------------------------------------- PIN and PUK

#[test]
fn verify_pin() {
    let mut c = card(Profile::Cps3, "dr-martin");
    assert_eq!(sw(&mut c, "0020000100"), 0x63C3, "status (T=0 P3 = 00)");
    assert_eq!(sw(&mut c, "00200001"), 0x63C3, "status (case 1)");
    assert_eq!(sw(&mut c, "002000010431323335"), 0x63C2);
    assert_eq!(c.tries_left(1), Some(2));
    assert_eq!(sw(&mut c, "0020000100"), 0x63C2, "status spends nothing");
    assert_eq!(sw(&mut c, "002000010331323300"), 0x6A80, "3 digits");
    assert_eq!(
        sw(&mut c, "00200001093132333435363738390000"),
        0x6700,
        "Lc mismatch"
    );
    assert_eq!(sw(&mut c, "00200001093132333435363738"), 0x6700);
    assert_eq!(
        sw(&mut c, "0020000109313233343536373839"),
        0x6A80,
        "9 digits"
    );
    assert_eq!(sw(&mut c, "0020000104313233FF"), 0x6A80, "3 digits + pad");
    assert_eq!(sw(&mut c, "00200001043132333A"), 0x6A80, "not a digit");
    assert_eq!(c.tries_left(1), Some(2), "format errors spend nothing");
    assert_eq!(
        sw(
            &mut c,
            "00200001083132333 4FFFFFFFF".replace(' ', "").as_str()
        ),
        0x9000,
        "FF padding"
    );
    assert_eq!(c.tries_left(1), Some(3));
    assert!(c.is_verified(1));
    assert_eq!(sw(&mut c, "0020000100"), 0x9000);
    // P1 = FF resets the verification status.
    assert_eq!(sw(&mut c, "0020FF01"), 0x9000);
    assert_eq!(sw(&mut c, "0020000100"), 0x63C3);
    assert_eq!(sw(&mut c, "0020FF010131"), 0x6700);
    assert_eq!(sw(&mut c, "0020010100"), 0x6A86);
    assert_eq!(sw(&mut c, "0020000300"), 0x6A88);
    assert_eq!(sw(&mut c, "0020008100"), 0x6A88);
    // A wrong PIN withdraws the verification.
    assert_eq!(sw(&mut c, "002000010431323334"), 0x9000);
    assert_eq!(sw(&mut c, "002000010431313131"), 0x63C2);
    assert_eq!(sw(&mut c, "0020000100"), 0x63C2);
    // Blocking.
    assert_eq!(sw(&mut c, "002000010431313131"), 0x63C1);
    assert_eq!(sw(&mut c, "002000010431313131"), 0x63C0);
    assert_eq!(sw(&mut c, "0020000100"), 0x6983);
    assert_eq!(
        sw(&mut c, "002000010431323334"),
        0x6983,
        "blocked: even the right PIN"
    );
    assert_eq!(c.tries_left(1), Some(0));
    // Power-on clears the session.
    let mut c = card(Profile::Cps3, "dr-martin");
    assert_eq!(sw(&mut c, "002000010431323334"), 0x9000);
    c.reset();
    assert_eq!(sw(&mut c, "0020000100"), 0x63C3);
    assert_eq!(sw(&mut c, "002000010431323334"), 0x9000);
    c.power_off();
    c.power_on();
    assert!(!c.is_verified(1));
}

#[test]
fn change_reference_data() {
    let mut c = card(Profile::Cps3, "dr-martin");
    // old ‖ new, split by the stored PIN's length (4).
    assert_eq!(sw(&mut c, "00240001083132333435363738"), 0x9000);
    assert!(c.is_verified(1));
    assert_eq!(sw(&mut c, "0020FF01"), 0x9000);
    assert_eq!(sw(&mut c, "002000010431323334"), 0x63C2, "old PIN gone");
    assert_eq!(sw(&mut c, "002000010435363738"), 0x9000);
    // Wrong old PIN spends a try.
    assert_eq!(sw(&mut c, "00240001083132333431323334"), 0x63C2);
    assert!(!c.is_verified(1));
    // Bad new PIN: refused without spending.
    assert_eq!(sw(&mut c, "0024000106353637383132"), 0x6A80);
    assert_eq!(sw(&mut c, "002400010435363738"), 0x6A80, "no new PIN");
    assert_eq!(
        sw(&mut c, "002400010235 36".replace(' ', "").as_str()),
        0x6A80
    );
    assert_eq!(c.tries_left(1), Some(2));
    // P1 = 01: new only, after VERIFY.
    assert_eq!(sw(&mut c, "002401010439393939"), 0x6982);
    assert_eq!(sw(&mut c, "002000010435363738"), 0x9000);
    assert_eq!(sw(&mut c, "0024010103393939"), 0x6A80);
    assert_eq!(sw(&mut c, "0024010106393939393939"), 0x9000);
    assert_eq!(sw(&mut c, "0020FF01"), 0x9000);
    assert_eq!(sw(&mut c, "0020000106393939393939"), 0x9000);
    // The PUK cannot be changed; bad P1; unknown reference.
    assert_eq!(
        sw(
            &mut c,
            "00240002103132333435363738313233343536373 8"
                .replace(' ', "")
                .as_str()
        ),
        0x6982
    );
    assert_eq!(sw(&mut c, "002402010431323334"), 0x6A86);
    assert_eq!(sw(&mut c, "002400050431323334"), 0x6A88);
}

#[test]
fn reset_retry_counter_all_forms() {
    fn block(c: &mut SimCard) {
        for _ in 0..3 {
            assert_ne!(sw(c, "002000010430303030"), 0x9000);
        }
        assert_eq!(sw(c, "0020000100"), 0x6983);
    }
    let mut c = card(Profile::Cps3, "dr-martin");
    block(&mut c);
    // P1 00: PUK ‖ new PIN.
    assert_eq!(
        sw(&mut c, "002C00010A31323334353637383535"),
        0x6A80,
        "new PIN too short"
    );
    assert_eq!(
        sw(&mut c, "002C00010C313233343536373935353535"),
        0x63C2,
        "wrong PUK"
    );
    assert_eq!(c.tries_left(2), Some(2));
    assert_eq!(sw(&mut c, "002C00010C313233343536373835353535"), 0x9000);
    assert_eq!(c.tries_left(2), Some(3), "right PUK resets its own counter");
    assert_eq!(c.tries_left(1), Some(3));
    assert!(!c.is_verified(1));
    assert_eq!(sw(&mut c, "002000010435353535"), 0x9000);
    // P1 01: PUK only, counter reset, PIN unchanged.
    block(&mut c);
    assert_eq!(sw(&mut c, "002C0101083132333435363738"), 0x9000);
    assert_eq!(sw(&mut c, "002000010435353535"), 0x9000);
    assert_eq!(
        sw(&mut c, "002C010104313233 34".replace(' ', "").as_str()),
        0x6A80,
        "PUK is 8 digits"
    );
    // P1 02 / 03 need the PUK verified (SE #3 → PUK, condition 13).
    block(&mut c);
    assert_eq!(sw(&mut c, "002C02010436363636"), 0x6982);
    assert_eq!(sw(&mut c, "002C0301"), 0x6982);
    assert_eq!(sw(&mut c, "0020000200"), 0x63C3, "PUK status");
    assert_eq!(sw(&mut c, "00200002083132333435363738"), 0x9000);
    assert_eq!(sw(&mut c, "002C020103363636"), 0x6A80);
    assert_eq!(
        sw(&mut c, "002C02010436363636"),
        0x9000,
        "OpenSC's unblock form"
    );
    assert_eq!(sw(&mut c, "002000010436363636"), 0x9000);
    block(&mut c);
    assert_eq!(sw(&mut c, "002C030101AA"), 0x6700);
    assert_eq!(sw(&mut c, "002C0301"), 0x9000);
    assert_eq!(sw(&mut c, "0020000100"), 0x63C3);
    // Parameters and the PUK itself.
    assert_eq!(sw(&mut c, "002C0401"), 0x6A86);
    assert_eq!(sw(&mut c, "002C0009"), 0x6A88);
    assert_eq!(sw(&mut c, "002C0302"), 0x6982, "the PUK cannot be reset");
    // A blocked PUK blocks everything.
    for left in [2, 1, 0] {
        assert_eq!(sw(&mut c, "002C0101083030303030303030"), 0x63C0 | left);
    }
    assert_eq!(sw(&mut c, "002C0101083132333435363738"), 0x6983);
    assert_eq!(sw(&mut c, "0020000200"), 0x6983);
    assert_eq!(sw(&mut c, "00200002083132333435363738"), 0x6983);
}

#[test]
fn builder_pin_values() {
    let mut c = SimCard::builder()
        .pin("98765432")
        .puk("11112222")
        .build()
        .unwrap();
    c.power_on();
    assert_eq!(sw(&mut c, "002000010431323334"), 0x63C2);
    assert_eq!(sw(&mut c, "00200001083938373635343332"), 0x9000);
    assert_eq!(sw(&mut c, "00200002083131313132323232"), 0x9000);
    for bad in ["12", "123456789", "12a4"] {
        match SimCard::builder().pin(bad).build() {
            Err(SimError::InvalidSecret {
                object: "holder PIN",
                ..
            }) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(
        SimCard::builder().puk("1234").build(),
        Err(SimError::InvalidSecret { object: "PUK", .. })
    ));
    let err = SimCard::builder()
        .pin("12x4")
        .build()
        .unwrap_err()
        .to_string();
    assert!(!err.contains("12x4"), "secrets never in messages: {err}");
    let b = SimCard::builder().pin("24681357").puk("97531864");
    let dbg = format!("{b:?}");
    assert!(
        !dbg.contains("24681357") && !dbg.contains("97531864"),
        "{dbg}"
    );
}

// ---------------------------------------------------------------- GET DATA

#[test]
fn get_data_pin_policy() {
    let mut e = host(Profile::Cps3, "dr-martin");
    // The exact answers of docs/card-layout.md.
    let r = tx(
        &mut e,
        cmd(
            0,
            0xCB,
            0x3F,
            0xFF,
            &h("4D 09 70 07 BF 81 01 03 7F 41 80"),
            None,
        ),
    );
    assert_eq!(
        r.data,
        h(
            "70 1F BF 81 01 1B A0 10 9A 01 03 9B 01 03 A1 08 8C 06 F3 00 00 13 FF 00 7F 41 06 80 01 08 81 01 04"
        )
    );
    let r = tx(
        &mut e,
        cmd(
            0,
            0xCB,
            0x3F,
            0xFF,
            &h("4D 08 70 06 BF 81 01 02 A0 80"),
            None,
        ),
    );
    assert_eq!(
        r.data,
        h("70 16 BF 81 01 12 A0 10 9A 01 03 9B 01 03 A1 08 8C 06 F3 00 00 13 FF 00")
    );
    // The counter in 9B follows the tries.
    assert_eq!(verify(&mut e, b"0000"), StatusWord(0x63C2));
    let r = tx(
        &mut e,
        cmd(
            0,
            0xCB,
            0x3F,
            0xFF,
            &h("4D 08 70 06 BF 81 01 02 A0 80"),
            None,
        ),
    );
    assert_eq!(&r.data[11..14], &[0x9B, 0x01, 0x02]);
    // The PUK.
    let r = tx(
        &mut e,
        cmd(
            0,
            0xCB,
            0x3F,
            0xFF,
            &h("4D 09 70 07 BF 81 02 03 7F 41 80"),
            None,
        ),
    );
    assert_eq!(
        r.data,
        h(
            "70 1F BF 81 02 1B A0 10 9A 01 03 9B 01 03 A1 08 8C 06 F3 FF 00 FF FF 00 7F 41 06 80 01 08 81 01 08"
        )
    );
    // Errors.
    let g = |e: &mut Exchange<InProcessChannel<SimCard>>, d: &str| {
        tx(e, cmd(0, 0xCB, 0x3F, 0xFF, &h(d), None)).sw.0
    };
    assert_eq!(
        g(&mut e, "4D 08 70 06 BF 81 05 02 A0 80"),
        0x6A88,
        "no CHV 5"
    );
    assert_eq!(
        g(&mut e, "4D 08 70 06 BF FB 05 02 7B 80"),
        0x6A88,
        "no SE SDO"
    );
    assert_eq!(
        g(&mut e, "4D 08 70 06 BF 81 01 02 7F 80"),
        0x6A80,
        "malformed tag list"
    );
    assert_eq!(
        g(&mut e, "4D 09 70 07 BF 81 01 03 7F 49 80"),
        0x6A80,
        "public key of a PIN"
    );
    assert_eq!(g(&mut e, "4D 02 70 00"), 0x6A80);
    assert_eq!(g(&mut e, "5C 02 70 00"), 0x6A80);
    assert_eq!(g(&mut e, "4D 08 70 06 BF 81 01 02 A0 40"), 0x6A80);
    assert_eq!(
        tx(
            &mut e,
            cmd(
                0,
                0xCB,
                0x00,
                0xFF,
                &h("4D 08 70 06 BF 81 01 02 A0 80"),
                None
            )
        )
        .sw
        .0,
        0x6A86
    );
    assert_eq!(
        tx(&mut e, cmd(0, 0xCA, 0x9F, 0x7F, &[], Some(256))).sw.0,
        0x6A88
    );
}

#[test]
fn get_data_keys() {
    let mut e = host(Profile::Cps3, "dr-martin");
    // Key DOCP, both request forms: 80 = size in bytes, 8C 7B <sign> <intauth> <decipher> ...
    for req in [
        "4D 09 70 07 BF 90 02 03 7F 48 80",
        "4D 08 70 06 BF 90 02 02 A0 80",
    ] {
        let r = tx(&mut e, cmd(0, 0xCB, 0x3F, 0xFF, &h(req), None));
        assert_eq!(
            r.data,
            h("70 15 BF 90 02 11 A0 0F 80 02 01 00 A1 09 8C 07 7B FF 11 11 11 FF 00"),
            "{req}"
        );
    }
    let r = tx(
        &mut e,
        cmd(
            0,
            0xCB,
            0x3F,
            0xFF,
            &h("4D 08 70 06 BF 90 01 02 A0 80"),
            None,
        ),
    );
    assert_eq!(
        r.data,
        h("70 15 BF 90 01 11 A0 0F 80 02 01 00 A1 09 8C 07 7B 11 FF FF 11 FF 00")
    );
    // RSA public key: 7F49 { 81 n, 82 e } = the certificate's key.
    let card = e.channel().card().clone();
    let r = tx(
        &mut e,
        cmd(
            0,
            0xCB,
            0x3F,
            0xFF,
            &h("4D 09 70 07 BF A0 02 03 7F 49 80"),
            None,
        ),
    );
    assert_eq!(&r.data[..10], &h("70 82 01 14 BF A0 02 82 01 0E"));
    let pk = tlv::find_path(&r.data, &[Tag(0x70), Tag(0xBFA002), Tag(0x7F49)])
        .unwrap()
        .unwrap();
    let n = pk.child(Tag(0x81)).unwrap().unwrap().value;
    let e_ = pk.child(Tag(0x82)).unwrap().unwrap().value;
    let expected = rsa_pub(&card, 0x82);
    assert_eq!(n, expected.n().to_bytes_be());
    assert_eq!(e_, [1, 0, 1]);
    let cert = std::fs::read(pki_dir().join("rsa2048/dr-martin/auth.crt.der")).unwrap();
    assert_eq!(cert_public_key_bits(&cert), card.public_key(0x82).unwrap());
    // Unknown keys.
    let r = tx(
        &mut e,
        cmd(
            0,
            0xCB,
            0x3F,
            0xFF,
            &h("4D 08 70 06 BF 90 07 02 A0 80"),
            None,
        ),
    );
    assert_eq!(r.sw.0, 0x6A88);
    let mut e3 = host(Profile::Cps3, "dr-martin");
    let r = tx(
        &mut e3,
        cmd(
            0,
            0xCB,
            0x3F,
            0xFF,
            &h("4D 08 70 06 BF 90 03 02 A0 80"),
            None,
        ),
    );
    assert_eq!(r.sw.0, 0x6A88, "no EC keys");
}

// ---------------------------------------------------------------- signatures, decryption

fn mse(e: &mut Exchange<InProcessChannel<SimCard>>, p2: u8, data: &str) -> u16 {
    tx(e, cmd(0, 0x22, 0x41, p2, &h(data), None)).sw.0
}

#[test]
fn mse_rules() {
    let mut e = host(Profile::Cps3, "dr-martin");
    assert_eq!(mse(&mut e, 0xB6, "84 01 81 80 01 42"), 0x9000);
    assert_eq!(mse(&mut e, 0xB6, "84 01 81 80 01 12"), 0x9000, "SHA-1");
    assert_eq!(mse(&mut e, 0xB6, "84 01 81"), 0x9000, "default algorithm");
    assert_eq!(mse(&mut e, 0xA4, "84 01 82 80 01 02"), 0x9000);
    assert_eq!(mse(&mut e, 0xB8, "84 01 82 80 01 1A"), 0x9000);
    assert_eq!(mse(&mut e, 0xAA, "80 01 40"), 0x9000);
    assert_eq!(mse(&mut e, 0xAA, "80 01 10"), 0x9000);
    assert_eq!(
        mse(&mut e, 0xB6, "84 01 89 80 01 42"),
        0x6A88,
        "unknown key"
    );
    assert_eq!(
        mse(&mut e, 0xB6, "84 01 82 80 01 42"),
        0x6985,
        "AUT key cannot sign (CDS)"
    );
    assert_eq!(
        mse(&mut e, 0xA4, "84 01 81 80 01 02"),
        0x6985,
        "SIG key cannot INT AUTH"
    );
    assert_eq!(mse(&mut e, 0xB8, "84 01 81 80 01 1A"), 0x6985);
    assert_eq!(
        mse(&mut e, 0xB6, "84 01 81 80 01 44"),
        0x6985,
        "ECDSA on an RSA key"
    );
    assert_eq!(
        mse(&mut e, 0xB6, "84 01 81 80 01 77"),
        0x6A80,
        "unknown algorithm"
    );
    assert_eq!(mse(&mut e, 0xB6, "80 01 42"), 0x6A80, "no key");
    assert_eq!(mse(&mut e, 0xB6, "84 02 00 81"), 0x6A80);
    assert_eq!(mse(&mut e, 0xB6, "84 05 81"), 0x6A80, "malformed");
    assert_eq!(mse(&mut e, 0xAA, "80 01 42"), 0x6A80);
    assert_eq!(mse(&mut e, 0xB4, "84 01 81"), 0x6A86);
    assert_eq!(
        tx(&mut e, cmd(0, 0x22, 0x81, 0xB6, &h("84 01 81"), None))
            .sw
            .0,
        0x6A86
    );
    assert_eq!(
        tx(&mut e, cmd(0, 0x22, 0xF3, 0x01, &[], None)).sw.0,
        0x9000,
        "restore SE 1"
    );
    assert_eq!(tx(&mut e, cmd(0, 0x22, 0xF3, 0x09, &[], None)).sw.0, 0x6A88);
}

#[test]
fn pso_compute_digital_signature_rsa() {
    let mut e = host(Profile::Cps3, "dr-martin");
    let card = e.channel().card().clone();
    let hash = sha2::Sha256::digest(b"feuille de soins");
    let hash_cmd = |hash: &[u8]| {
        let mut d = vec![0x90, hash.len() as u8];
        d.extend_from_slice(hash);
        cmd(0, 0x2A, 0x90, 0xA0, &d, None)
    };
    let cds = cmd(0, 0x2A, 0x9E, 0x9A, &[], Some(256));
    assert_eq!(tx(&mut e, hash_cmd(&hash)).sw.0, 0x6985, "no DST");
    assert_eq!(tx(&mut e, cds.clone()).sw.0, 0x6985);
    assert_eq!(mse(&mut e, 0xB6, "84 01 81 80 01 42"), 0x9000);
    assert_eq!(tx(&mut e, cds.clone()).sw.0, 0x6982, "PIN first");
    assert_eq!(verify(&mut e, b"1234").0, 0x9000);
    assert_eq!(tx(&mut e, cds.clone()).sw.0, 0x6985, "no hash");
    assert_eq!(
        tx(&mut e, hash_cmd(&hash[..20])).sw.0,
        0x6A80,
        "wrong length"
    );
    assert_eq!(
        tx(&mut e, cmd(0, 0x2A, 0x90, 0xA0, &h("91 01 00"), None))
            .sw
            .0,
        0x6A80
    );
    assert_eq!(tx(&mut e, hash_cmd(&hash)).sw.0, 0x9000);
    assert_eq!(
        tx(&mut e, cmd(0, 0x2A, 0x9E, 0x9A, &[1], Some(256))).sw.0,
        0x6A80
    );
    assert_eq!(tx(&mut e, hash_cmd(&hash)).sw.0, 0x9000);
    let r = tx(&mut e, cds.clone());
    assert!(r.is_success(), "{}", r.sw);
    assert_eq!(r.data.len(), 256);
    let di = [&DI_SHA256[..], &hash[..]].concat();
    rsa_pub(&card, 0x81)
        .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &di, &r.data)
        .unwrap();
    assert_eq!(
        tx(&mut e, cds.clone()).sw.0,
        0x6985,
        "one signature per hash"
    );
    // The card hashes itself with tag 80; SHA-1 with algorithm 12.
    assert_eq!(
        tx(&mut e, cmd(0, 0x2A, 0x90, 0xA0, &h("80 03 61 62 63"), None))
            .sw
            .0,
        0x9000
    );
    let r = tx(&mut e, cds.clone());
    let di = [&DI_SHA256[..], &sha2::Sha256::digest(b"abc")[..]].concat();
    rsa_pub(&card, 0x81)
        .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &di, &r.data)
        .unwrap();
    assert_eq!(mse(&mut e, 0xB6, "84 01 81 80 01 12"), 0x9000);
    let h1 = sha1::Sha1::digest(b"abc");
    assert_eq!(tx(&mut e, hash_cmd(&h1)).sw.0, 0x9000);
    let r = tx(&mut e, cds.clone());
    let di = [
        &h("30 21 30 09 06 05 2B 0E 03 02 1A 05 00 04 14")[..],
        &h1[..],
    ]
    .concat();
    rsa_pub(&card, 0x81)
        .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &di, &r.data)
        .unwrap();
    // A DST for another hash length drops the hash (a DST for the same one keeps it:
    // Cryptolib sends MSE HT, PSO HASH, then MSE DST, `pkcs15-sec.c`).
    assert_eq!(tx(&mut e, hash_cmd(&h1)).sw.0, 0x9000);
    assert_eq!(mse(&mut e, 0xB6, "84 01 81 80 01 42"), 0x9000);
    assert_eq!(tx(&mut e, cds).sw.0, 0x6985);
    assert_eq!(
        tx(&mut e, cmd(0, 0x2A, 0x9E, 0x9B, &[], Some(256))).sw.0,
        0x6A86
    );
}

#[test]
fn internal_authenticate_rsa_and_ecdsa() {
    let mut e = host(Profile::Cps3, "dr-martin");
    let card = e.channel().card().clone();
    let hash = sha2::Sha256::digest(b"TLS handshake");
    let di = [&DI_SHA256[..], &hash[..]].concat();
    let ia = |d: &[u8]| cmd(0, 0x88, 0, 0, d, Some(256));
    assert_eq!(tx(&mut e, ia(&di)).sw.0, 0x6985, "no AT");
    assert_eq!(mse(&mut e, 0xA4, "84 01 82 80 01 02"), 0x9000);
    assert_eq!(tx(&mut e, ia(&di)).sw.0, 0x6982);
    assert_eq!(verify(&mut e, b"1234").0, 0x9000);
    let r = tx(&mut e, ia(&di));
    assert!(r.is_success());
    rsa_pub(&card, 0x82)
        .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &di, &r.data)
        .unwrap();
    assert_eq!(
        tx(&mut e, ia(&[0u8; 246])).sw.0,
        0x6A80,
        "too long for type-1 padding"
    );
    assert_eq!(tx(&mut e, cmd(0, 0x88, 0, 1, &di, Some(256))).sw.0, 0x6A86);
    assert_eq!(tx(&mut e, cmd(0, 0x88, 0, 0, &[], Some(256))).sw.0, 0x6700);
}

#[test]
fn pso_decipher_with_chaining_and_extended_length() {
    {
        let p = Profile::Cps3;
        let mut e = host(p, "pharmacien-durand");
        let card = e.channel().card().clone();
        let secret = b"cle de session 0123456789abcdef";
        let c = rsa_pub(&card, 0x82)
            .encrypt(&mut rand_core::OsRng, rsa::Pkcs1v15Encrypt, secret)
            .unwrap();
        let mut data = vec![0x81];
        data.extend_from_slice(&c);
        let dec = cmd(0, 0x2A, 0x80, 0x86, &data, Some(256));
        assert_eq!(tx(&mut e, dec.clone()).sw.0, 0x6985, "{p}: no CT");
        assert_eq!(mse(&mut e, 0xB8, "84 01 82 80 01 1A"), 0x9000);
        assert_eq!(tx(&mut e, dec.clone()).sw.0, 0x6982);
        assert_eq!(verify(&mut e, b"1234").0, 0x9000);
        e.reset_round_trips();
        let r = tx(&mut e, dec.clone());
        assert_eq!(r.data, secret, "{p}");
        // CPS3: a chain of two short APDUs + GET RESPONSE (T=0); CPS4: one extended APDU.
        assert_eq!(
            e.round_trips(),
            if p == Profile::Cps3 { 3 } else { 1 },
            "{p}"
        );
        let mut bad = data.clone();
        bad[0] = 0x02;
        assert_eq!(
            tx(&mut e, cmd(0, 0x2A, 0x80, 0x86, &bad, Some(256))).sw.0,
            0x6A80
        );
        assert_eq!(
            tx(&mut e, cmd(0, 0x2A, 0x80, 0x86, &data[..100], Some(256)))
                .sw
                .0,
            0x6700
        );
        let mut garbage = vec![0x81];
        garbage.extend_from_slice(&[0x11; 256]);
        assert_eq!(
            tx(&mut e, cmd(0, 0x2A, 0x80, 0x86, &garbage, Some(256)))
                .sw
                .0,
            0x6A80
        );
    }
    // Chaining by hand: parts answered 9000, then an interrupted chain gives 6883.
    let mut c = card(Profile::Cps3, "dr-martin");
    assert_eq!(sw(&mut c, "102A808603810102"), 0x9000);
    assert_eq!(sw(&mut c, "00B0000001"), 0x6883);
    assert_eq!(sw(&mut c, "102A808603810102"), 0x9000);
    assert_eq!(
        sw(&mut c, "002A80860103"),
        0x6985,
        "complete chain: no CT set"
    );
}

/// RSA-2048 generation takes seconds: run with `--ignored`.
#[test]
#[ignore = "RSA-2048 key generation is slow"]
fn generate_rsa_key_pair() {
    let mut e = host(Profile::Cps3, "dr-martin");
    assert_eq!(verify(&mut e, b"1234").0, 0x9000);
    let r = tx(&mut e, cmd(0, 0x47, 0, 0, &h("BF 90 02 00"), Some(256)));
    assert!(r.is_success());
    assert_eq!(&r.data[..7], &h("70 82 01 14 BF A0 02"));
}

// ---------------------------------------------------------------- personas and PKCS#15

#[test]
fn every_persona_on_every_profile() {
    for p in [Profile::Cps3, Profile::Cps4] {
        for persona in cps_sim::personas() {
            let c = SimCard::new(p, &persona.id).unwrap();
            let ident = c.file(&[0x3F00, 0x0001, 0xD001]).unwrap();
            let family = tlv::find_path(ident, &[Tag(0xE1), Tag(0x80)])
                .unwrap()
                .unwrap();
            assert_eq!(family.value, persona.family.as_bytes());
            let dam = c.file(&[0x3F00, 0x0001, 0xD002]).unwrap();
            let e2 = tlv::find(dam, Tag(0xE2)).unwrap().unwrap();
            assert_eq!(e2.children().unwrap().len(), persona.situations.len());
            // Each certificate carries the public key of the key the CDF pairs it with.
            let pairs: &[(u16, u8)] = match p {
                Profile::Cps3 => &[(0xC001, 0x82), (0xC002, 0x81)],
                // The real CPS4: authentication key 20 (card-cps4.c), signature 81.
                Profile::Cps4 => &[(0xC001, 0x20), (0xC002, 0x81)],
            };
            for &(fid, key) in pairs {
                let cert = c.file(&[0x3F00, 0x0001, fid]).unwrap();
                assert_eq!(
                    cert_public_key_bits(cert),
                    c.public_key(key).unwrap(),
                    "{p} {} {fid:04X}",
                    persona.id
                );
            }
        }
    }
}

#[test]
fn pkcs15_files_pair_keys_and_certificates() {
    // The real CPS4 (rewritten from the earlier modelled CPS4 with P-256 keys and SHA-1 iDs):
    // iDs are the PKCS#15 AID ‖ 01 / 02 in both the PrKDF and the CDF, no PuKDF.
    let c = card(Profile::Cps4, "dr-martin");
    let cdf = c.file(&[0x3F00, 0x0001, 0x4404]).unwrap().to_vec();
    let prkdf = c.file(&[0x3F00, 0x0001, 0x4402]).unwrap().to_vec();
    for n in [0x01u8, 0x02] {
        let needle = [
            &h("04 0E E8 28 BD 08 0F 80 25 00 00 01 FF 00 10")[..],
            &[n][..],
        ]
        .concat();
        assert!(cdf.windows(16).any(|w| w == needle), "CDF iD {n:02X}");
        assert!(prkdf.windows(16).any(|w| w == needle), "PrKDF iD {n:02X}");
    }
    // ODF: AODF, PrKDF, CDF, DODF (absolute paths), no PuKDF.
    assert_eq!(
        c.file(&[0x3F00, 0x0001, 0x5031]).unwrap(),
        h(
            "A8 0A 30 08 04 06 3F 00 00 01 44 01 A0 0A 30 08 04 06 3F 00 00 01 44 02 A4 0A 30 08 04 06 3F 00 00 01 44 04 A7 0A 30 08 04 06 3F 00 00 01 44 05"
        )
    );
}

#[test]
fn pkcs15_files_are_valid_der_for_openssl() {
    let Ok(out) = std::process::Command::new("openssl")
        .arg("version")
        .output()
    else {
        eprintln!("openssl not installed: skipped");
        return;
    };
    assert!(out.status.success());
    let c = card(Profile::Cps4, "secretaire-moreau");
    let dir = std::env::temp_dir().join(format!("cps-sim-der-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // No PuKDF (4403) on the real CPS4; the DODF (4405) instead.
    for fid in [0x5031u16, 0x5032, 0x4401, 0x4402, 0x4404, 0x4405] {
        let data = c.file(&[0x3F00, 0x0001, fid]).unwrap();
        // The ODF and the DFs are sequences of objects: walk them one by one.
        let mut rest = data;
        let mut n = 0;
        while !rest.is_empty() {
            let (obj, tail) = tlv::parse_one(rest).unwrap();
            let file = dir.join(format!("{fid:04X}-{n}.der"));
            std::fs::write(&file, obj.encode()).unwrap();
            let out = std::process::Command::new("openssl")
                .args(["asn1parse", "-inform", "DER", "-in"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{fid:04X} object {n}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            rest = tail;
            n += 1;
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn certificates_verify_against_the_test_pki_root() {
    let Ok(out) = std::process::Command::new("openssl")
        .arg("version")
        .output()
    else {
        eprintln!("openssl not installed: skipped");
        return;
    };
    assert!(out.status.success());
    let dir = std::env::temp_dir().join(format!("cps-sim-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pki = pki_dir();
    for p in [Profile::Cps3, Profile::Cps4] {
        for persona in cps_sim::personas() {
            let c = SimCard::new(p, &persona.id).unwrap();
            let fids: &[u16] = match p {
                Profile::Cps3 | Profile::Cps4 => &[0xC001, 0xC002],
            };
            for fid in fids {
                let file = dir.join(format!("{p}-{}-{fid:04X}.der", persona.id));
                std::fs::write(&file, c.file(&[0x3F00, 0x0001, *fid]).unwrap()).unwrap();
                let pem = dir.join("leaf.pem");
                let conv = std::process::Command::new("openssl")
                    .args(["x509", "-inform", "DER", "-in"])
                    .arg(&file)
                    .arg("-out")
                    .arg(&pem)
                    .output()
                    .unwrap();
                assert!(conv.status.success());
                let out = std::process::Command::new("openssl")
                    .args(["verify", "-attime", "1772323200", "-CAfile"])
                    .arg(pki.join("ca/root.crt.pem"))
                    .arg("-untrusted")
                    .arg(pki.join("ca/persons.crt.pem"))
                    .arg(&pem)
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success() && text.contains(": OK"),
                    "{p} {} {fid:04X}: {text}{}",
                    persona.id,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn profiles_are_data() {
    // The shipped file parses to the built-in profile and builds the same card.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/cps3.json");
    let spec = cps_sim::ProfileSpec::from_file(&path).unwrap();
    let a = SimCard::builder().profile_spec(spec).build().unwrap();
    let b = SimCard::new(Profile::Cps3, "dr-martin").unwrap();
    assert_eq!(a.file_paths(), b.file_paths());
    for path in a.file_paths() {
        assert_eq!(a.file(&path), b.file(&path), "{path:04X?}");
    }
    // A real card's dump can replace generated contents with literal bytes.
    let mut spec = cps_sim::ProfileSpec::builtin(Profile::Cps3).unwrap();
    let sn = spec
        .files
        .children
        .as_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f.fid.0 == 0xD003)
        .unwrap();
    sn.content = Some(cps_sim::profile::Content::Hex(cps_sim::profile::Hex(h(
        "5A 0A 80 25 00 00 01 99 21 38 45 0F",
    ))));
    let c = SimCard::builder().profile_spec(spec).build().unwrap();
    assert_eq!(
        c.file(&[0x3F00, 0xD003]).unwrap(),
        h("5A 0A 80 25 00 00 01 99 21 38 45 0F")
    );
    // Broken profiles are typed errors.
    let bad = |json: &str| cps_sim::ProfileSpec::from_json("test", json);
    assert!(matches!(bad("{"), Err(SimError::ProfileSyntax { .. })));
    let text = cps_sim::profile::builtin_json(Profile::Cps3).replace("\"2F00\"", "\"2F01\"");
    let spec = bad(&text).unwrap();
    assert!(matches!(
        SimCard::builder().profile_spec(spec).build(),
        Err(SimError::InvalidProfile { .. })
    ));
    let text =
        cps_sim::profile::builtin_json(Profile::Cps3).replace("\"ef.ident\"", "\"ef.unknown\"");
    assert!(matches!(
        SimCard::builder().profile_spec(bad(&text).unwrap()).build(),
        Err(SimError::InvalidProfile { .. })
    ));
    let text =
        cps_sim::profile::builtin_json(Profile::Cps3).replace("3F00 0001 C001", "3F00 0001 C0ZZ");
    assert!(matches!(bad(&text), Err(SimError::ProfileSyntax { .. })));
    assert!(matches!(
        SimCard::builder().persona("nobody").build(),
        Err(SimError::UnknownPersona(_))
    ));
    assert!(matches!(
        SimCard::builder().pki_dir("/nonexistent").build(),
        Err(SimError::Pki { .. })
    ));
}

// ---------------------------------------------------------------- applets, state, stats

#[derive(Clone, Default)]
struct Echo {
    selected: u32,
    resets: u32,
}

impl Applet for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn aid(&self) -> &[u8] {
        &[0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01]
    }
    fn available_on(&self, _: Interface) -> bool {
        true
    }
    fn select(&mut self, _: &AppletContext) -> Response {
        self.selected += 1;
        Response::success(b"echo".to_vec())
    }
    fn process(
        &mut self,
        c: &Command,
        _: &AppletContext,
        _: &mut cps_sim::Storage<'_>,
    ) -> Response {
        match c.ins {
            0xEE => Response::success(c.data.clone()),
            _ => Response::status(StatusWord::INS_NOT_SUPPORTED),
        }
    }
    fn reset(&mut self) {
        self.resets += 1;
    }
    fn boxed_clone(&self) -> Box<dyn Applet> {
        Box::new(self.clone())
    }
}

#[test]
fn applets_are_selected_by_aid() {
    for iface in [Interface::Contact, Interface::Contactless] {
        let c = SimCard::builder()
            .profile(Profile::Cps3)
            .interface(iface)
            .applet(Box::new(Echo::default()))
            .build()
            .unwrap();
        let mut e = Exchange::new(InProcessChannel::new(c));
        let sel = cmd(0, 0xA4, 0x04, 0x00, &h("A0000006472F0001"), Some(256));
        let r = tx(&mut e, sel);
        assert_eq!(r.data, b"echo");
        // CLA 80 reaches the applet (the native application would say 6E00), chaining too.
        let long: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let r = tx(&mut e, cmd(0x80, 0xEE, 0, 0, &long, Some(65536)));
        assert_eq!(r.data, long);
        let r = tx(&mut e, cmd(0, 0xB0, 0, 0, &[], Some(4)));
        assert_eq!(r.sw.0, 0x6D00, "the applet answers, not the file system");
        if iface == Interface::Contact {
            // Back to IAS-ECC by its AID.
            select_aid(&mut e);
            assert_eq!(
                tx(&mut e, cmd(0x80, 0xEE, 0, 0, &[1], Some(1))).sw.0,
                0x6E00
            );
            assert_eq!(verify(&mut e, b"").0, 0x63C3);
        }
    }
}

#[test]
fn reset_clears_the_session() {
    let mut c = card(Profile::Cps3, "dr-martin");
    assert_eq!(sw(&mut c, "002000010431323334"), 0x9000);
    assert_eq!(sw(&mut c, "002241A406840182800102"), 0x9000);
    assert_eq!(sw(&mut c, "00A4090C063F000001D002"), 0x9000);
    c.reset();
    assert_eq!(sw(&mut c, "00B0000001"), 0x6986, "MF current, no EF");
    let ia = format!("0088000020{}", "00".repeat(32));
    assert_eq!(sw(&mut c, &ia), 0x6985, "SE cleared");
    assert!(!c.is_verified(1));
    assert_eq!(c.stats().resets, 3, "builder power-on, power_on(), reset()");
}

#[test]
fn stats_count_apdus() {
    let mut c = card(Profile::Cps3, "dr-martin");
    c.reset_stats();
    raw(&mut c, "00A40904043F002F01");
    raw(&mut c, "00C0000017");
    raw(&mut c, "00B0000010");
    raw(&mut c, "0020000100");
    assert_eq!(c.stats().apdus, 4);
    assert_eq!(c.stats().count(0xA4), 1);
    assert_eq!(c.stats().count(0xC0), 1);
    assert!(
        c.stats().summary().starts_with("4 APDUs: "),
        "{}",
        c.stats().summary()
    );
}

/// OpenSC's OpenSSL-1.1 builds send PSO HASH as the intermediate hash state plus the last
/// partial block (card-iasecc.c `iasecc_compute_signature_dst`); the card finishes the hash.
#[test]
fn pso_hash_partial_form() {
    use sha2::digest::generic_array::GenericArray;
    // FIPS 180-4 §5.3.3 / §5.3.1 initial hash values.
    const IV256: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    const IV1: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    fn pso_data(state: &[u8], full_bits: u64, last: &[u8]) -> Vec<u8> {
        let mut d = vec![0x90];
        if full_bits == 0 {
            d.push(0);
        } else {
            d.push((state.len() + 8) as u8);
            d.extend_from_slice(state);
            d.extend_from_slice(&full_bits.to_be_bytes());
        }
        d.push(0x80);
        d.push(last.len() as u8);
        d.extend_from_slice(last);
        d
    }
    let mut e = host(Profile::Cps3, "dr-martin");
    let card = e.channel().card().clone();
    assert_eq!(verify(&mut e, b"1234").0, 0x9000);
    for len in [0usize, 10, 63, 64, 100, 128, 200, 1000] {
        let msg: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let full = len / 64 * 64;
        let blocks: Vec<GenericArray<u8, _>> = msg[..full]
            .chunks_exact(64)
            .map(|c| GenericArray::from_slice(c).to_owned())
            .collect();
        // SHA-256.
        let mut st = IV256;
        sha2::compress256(&mut st, &blocks);
        let state: Vec<u8> = st.iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(mse(&mut e, 0xB6, "84 01 81 80 01 42"), 0x9000);
        let d = pso_data(&state, full as u64 * 8, &msg[full..]);
        assert_eq!(
            tx(&mut e, cmd(0, 0x2A, 0x90, 0xA0, &d, None)).sw.0,
            0x9000,
            "{len}"
        );
        let r = tx(&mut e, cmd(0, 0x2A, 0x9E, 0x9A, &[], Some(256)));
        let di = [&DI_SHA256[..], &sha2::Sha256::digest(&msg)[..]].concat();
        rsa_pub(&card, 0x81)
            .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &di, &r.data)
            .unwrap_or_else(|err| panic!("SHA-256, {len} bytes: {err}"));
        // SHA-1.
        let mut st = IV1;
        sha1::compress(&mut st, &blocks);
        let state: Vec<u8> = st.iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(mse(&mut e, 0xB6, "84 01 81 80 01 12"), 0x9000);
        let d = pso_data(&state, full as u64 * 8, &msg[full..]);
        assert_eq!(
            tx(&mut e, cmd(0, 0x2A, 0x90, 0xA0, &d, None)).sw.0,
            0x9000,
            "{len}"
        );
        let r = tx(&mut e, cmd(0, 0x2A, 0x9E, 0x9A, &[], Some(256)));
        let di = [
            &h("30 21 30 09 06 05 2B 0E 03 02 1A 05 00 04 14")[..],
            &<sha1::Sha1 as sha1::Digest>::digest(&msg)[..],
        ]
        .concat();
        rsa_pub(&card, 0x81)
            .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &di, &r.data)
            .unwrap_or_else(|err| panic!("SHA-1, {len} bytes: {err}"));
    }
    // Inconsistent parts.
    assert_eq!(mse(&mut e, 0xB6, "84 01 81 80 01 42"), 0x9000);
    let bad = |e: &mut Exchange<InProcessChannel<SimCard>>, d: &[u8]| {
        tx(e, cmd(0, 0x2A, 0x90, 0xA0, d, None)).sw.0
    };
    assert_eq!(
        bad(&mut e, &pso_data(&[0; 32], 100, b"x")),
        0x6A80,
        "counter not whole blocks"
    );
    assert_eq!(
        bad(&mut e, &pso_data(&[0; 20], 512, b"x")),
        0x6A80,
        "SHA-1 state for SHA-256"
    );
    assert_eq!(
        bad(&mut e, &pso_data(&[0; 32], 512, &[0; 65])),
        0x6A80,
        "last block too long"
    );
    assert_eq!(bad(&mut e, &h("90 00 90 00")), 0x6A80);
}

#[test]
fn select_by_file_id_leaves_an_applet_and_a_refused_select_keeps_the_current_one() {
    // (The contact half of this test selected the FIDO2 applet and then the IAS-ECC file
    // system on the same basic channel: that was the earlier modelled CPS4. On the real CPS4
    // the IAS application is on logical channel 1, apart from the FIDO2 applet.)
    // Contactless: the FIDO2 SELECT is refused (6985) and DESFire stays the active application.
    let mut cl = SimCard::builder()
        .profile(Profile::Cps4)
        .interface(Interface::Contactless)
        .build()
        .unwrap();
    cl.power_on();
    assert_eq!(sw(&mut cl, "00A4040008A0000006472F000100"), 0x6985);
    assert_eq!(
        sw(&mut cl, "9060000000"),
        0x91AF,
        "DESFire GetVersion still answered"
    );
}

/// A simulated card is powered by contacts or contactless: the transport's `Unknown` (a
/// malformed ATR) is refused when the card is built, not mapped to a plausible interface.
#[test]
fn unknown_interface_is_refused() {
    let built = cps_sim::SimCard::builder()
        .profile(cps_sim::Profile::Cps3)
        .interface(cps_sim::Interface::Unknown)
        .build();
    assert!(built.is_err(), "an unknown interface must not build a card");
}
