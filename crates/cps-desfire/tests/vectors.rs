//! Every vector of `testvectors/desfire.json`, reproduced by our code.
//!
//! One test per category. Each vector is handled by exactly one checker, every assertion
//! names the vector (`name` and `source`), each checker must make at least one assertion,
//! and the number of vectors checked per category is compared with a fixed table: a vector
//! silently skipped (or a new category nobody checks) fails the run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed expectation is a test failure"
)]

use std::collections::BTreeMap;

use cps_desfire::auth::{
    AuthMode, HostAuth, ev1_session_key, ev2_session_keys, ev2_session_vectors,
};
use cps_desfire::commands::{self, ChangeKey, Generation, code};
use cps_desfire::crypto::{
    Key, KeyType, crc16_a, crc32_desfire, pad_iso9797_m2, pad_zero, rotate_left,
};
use cps_desfire::frame::{
    self, Assembled, DesfireStatus, ResponseAssembler, native_command, parse_iso_response,
    parse_native_response, wrap_iso,
};
use cps_desfire::kdf::{DiversificationInput, diversify};
use cps_desfire::session::{
    CommMode, Ev1Session, Ev2Session, Protection, SecureChannel, transaction_mac_keys,
    transaction_mac_sv, truncate_odd,
};
use serde_json::Value;

/// Vectors per category in testvectors/desfire.json (117 objects).
const EXPECTED: &[(&str, usize)] = &[
    ("crc", 4),
    ("des", 1),
    ("cmac", 20),
    ("an10922", 9),
    ("ev2_auth", 5),
    ("ev2_sm", 11),
    ("ev2_tmac", 2),
    ("ev1_auth", 20),
    ("ev1_sm", 42),
    ("layout", 1),
    ("d40_auth_computed", 2),
];

fn all_vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testvectors/desfire.json"
    ))
    .unwrap();
    serde_json::from_str::<Vec<Value>>(&text).unwrap()
}

/// One vector being checked: field access and assertions that name it.
struct V<'a> {
    v: &'a Value,
    checks: usize,
}

impl<'a> V<'a> {
    fn id(&self) -> String {
        format!(
            "vector {:?} (source: {})",
            self.v["name"].as_str().unwrap_or("?"),
            self.v["source"].as_str().unwrap_or("?")
        )
    }
    fn has(&self, key: &str) -> bool {
        self.v.get(key).is_some_and(|x| !x.is_null())
    }
    fn s(&self, key: &str) -> &'a str {
        self.v[key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: field {key} missing", self.id()))
    }
    fn hx(&self, key: &str) -> Vec<u8> {
        hex::decode(self.s(key)).unwrap_or_else(|e| panic!("{}: {key}: {e}", self.id()))
    }
    fn opt_hx(&self, key: &str) -> Option<Vec<u8>> {
        self.has(key).then(|| self.hx(key))
    }
    fn int(&self, key: &str) -> u64 {
        self.v[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: integer {key} missing", self.id()))
    }
    fn hex_u8(&self, key: &str) -> u8 {
        match &self.v[key] {
            Value::Number(n) => n.as_u64().unwrap() as u8,
            Value::String(s) => u8::from_str_radix(s, 16).unwrap(),
            other => panic!("{}: {key} = {other}", self.id()),
        }
    }
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, expected: T) {
        assert_eq!(got, expected, "{what} — {}", self.id());
        self.checks += 1;
    }
    fn eq_hex(&mut self, what: &str, got: &[u8], key: &str) {
        let expected = self.hx(key);
        assert_eq!(
            hex::encode_upper(got),
            hex::encode_upper(&expected),
            "{what} ({key}) — {}",
            self.id()
        );
        self.checks += 1;
    }
    fn ok<T, E: std::fmt::Debug>(&self, what: &str, r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{what}: {e:?} — {}", self.id()))
    }
}

fn key_type(name: &str) -> KeyType {
    match name {
        "DES" => KeyType::Des,
        "2K3DES" => KeyType::TwoKey3Des,
        "3K3DES" => KeyType::ThreeKey3Des,
        "AES" => KeyType::Aes128,
        other => panic!("unknown key type {other}"),
    }
}

/// Runs `check` on every vector of `category`, asserts the count, returns it.
fn run_category(category: &str, check: fn(&mut V<'_>)) -> usize {
    let vectors = all_vectors();
    let mut n = 0;
    for v in vectors.iter().filter(|v| v["category"] == category) {
        let mut c = V { v, checks: 0 };
        assert!(
            v["source"].as_str().is_some_and(|s| !s.is_empty()),
            "{}: no source",
            c.id()
        );
        check(&mut c);
        assert!(c.checks > 0, "{}: no assertion made", c.id());
        n += 1;
    }
    let expected = EXPECTED
        .iter()
        .find(|(c, _)| *c == category)
        .map(|(_, n)| *n)
        .unwrap();
    assert_eq!(n, expected, "vectors checked in category {category}");
    println!("category {category}: {n} vectors reproduced");
    n
}

#[test]
fn the_file_has_only_known_categories_and_117_vectors() {
    let vectors = all_vectors();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in &vectors {
        *counts
            .entry(v["category"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = EXPECTED
        .iter()
        .map(|(c, n)| ((*c).to_owned(), *n))
        .collect();
    assert_eq!(counts, expected);
    assert_eq!(vectors.len(), 117);
}

// ---------------------------------------------------------------------------------------

#[test]
fn crc() {
    run_category("crc", |v| {
        let input = v.hx("input");
        let got = if v.s("name").contains("CRC16") {
            crc16_a(&input).to_le_bytes().to_vec()
        } else {
            crc32_desfire(&input).to_le_bytes().to_vec()
        };
        v.eq_hex("CRC", &got, "crc_le");
    });
}

#[test]
fn des() {
    run_category("des", |v| {
        let key = v.ok("key", Key::new(KeyType::Des, &v.hx("key")));
        let c = key.cipher();
        let mut e = v.hx("plaintext");
        c.encrypt_blocks(&mut e).unwrap();
        v.eq_hex("E(K, plaintext)", &e, "ciphertext");
        let mut d = v.hx("plaintext");
        c.decrypt_blocks(&mut d).unwrap();
        v.eq_hex("D(K, plaintext) (weak key: equals E)", &d, "ciphertext");
        // The all-zero key is the same key (parity bits ignored).
        let mut z = v.hx("plaintext");
        Key::zero(KeyType::Des)
            .cipher()
            .encrypt_blocks(&mut z)
            .unwrap();
        v.eq_hex("E(00..00, plaintext)", &z, "ciphertext");
    });
}

#[test]
fn cmac() {
    run_category("cmac", |v| {
        let ty = if v.has("key_type") {
            key_type(v.s("key_type"))
        } else {
            KeyType::Aes128
        };
        let key = v.ok("key", Key::new(ty, &v.hx("key")));
        let c = key.cipher();
        if v.has("message") {
            let mac = c.cmac(&v.hx("message"));
            v.eq_hex("CMAC", mac.as_slice(), "cmac");
        }
        if v.has("subkey1") {
            let (k1, k2) = c.cmac_subkeys();
            v.eq_hex("K1", k1.as_slice(), "subkey1");
            v.eq_hex("K2", k2.as_slice(), "subkey2");
        }
        if v.has("l_block") {
            v.eq_hex("L = E(K, 0)", c.cmac_l().as_slice(), "l_block");
        }
    });
}

#[test]
fn an10922() {
    run_category("an10922", |v| {
        let ty = key_type(v.s("key_type"));
        let master = v.ok("master key", Key::new(ty, &v.hx("master_key")));
        let m = v.hx("diversification_input_m");
        if v.has("uid") {
            let built = DiversificationInput::new(
                &v.hx("uid"),
                v.hx("aid").try_into().unwrap(),
                &v.hx("system_identifier"),
            );
            v.eq_hex(
                "UID || AID || system identifier",
                built.as_bytes(),
                "diversification_input_m",
            );
        }
        if v.has("cmac_message") {
            let mut msg = vec![match ty {
                KeyType::Aes128 => 0x01,
                KeyType::TwoKey3Des => 0x21,
                _ => 0x31,
            }];
            msg.extend_from_slice(&m);
            v.eq_hex("first CMAC message", &msg, "cmac_message");
        }
        let k = v.ok("diversify", diversify(&master, &m));
        v.eq_hex("diversified key", k.expose_bytes(), "diversified_key");
        v.eq("key type", k.key_type(), ty);
        if let Some(lff) = v.opt_hx("diversified_key_libfreefare_with_key_version_bits") {
            let version = Key::new(ty, &lff).unwrap().version();
            if ty == KeyType::TwoKey3Des {
                // The notes give the master key version of this example: 0x55.
                v.eq("version in the parity bits", version, 0x55);
            }
            let with = k.clone().with_version(version);
            v.eq_hex(
                "libfreefare key with version bits",
                with.expose_bytes(),
                "diversified_key_libfreefare_with_key_version_bits",
            );
        }
        if v.has("wrong_result_if_standard_cmac_padding") {
            let mut msg = vec![0x01];
            msg.extend_from_slice(&m);
            let plain = master.cipher().cmac(&msg);
            v.eq_hex(
                "plain CMAC (not AN10922)",
                plain.as_slice(),
                "wrong_result_if_standard_cmac_padding",
            );
        }
    });
}

// ---------------------------------------------------------------------------------------
// EV2

#[test]
fn ev2_auth() {
    run_category("ev2_auth", |v| {
        let key = Key::new(KeyType::Aes128, &v.hx("key")).unwrap();
        let rnd_a: [u8; 16] = v.hx("rnd_a").try_into().unwrap();
        let rnd_b: [u8; 16] = v.hx("rnd_b").try_into().unwrap();
        let (sv1, sv2) = ev2_session_vectors(&rnd_a, &rnd_b);
        v.eq_hex("SV1", &sv1[..], "sv1");
        v.eq_hex("SV2", &sv2[..], "sv2");
        let (enc, mac) = ev2_session_keys(&key, &rnd_a, &rnd_b).unwrap();
        v.eq_hex("KSesAuthENC", enc.expose_bytes(), "ses_auth_enc_key");
        v.eq_hex("KSesAuthMAC", mac.expose_bytes(), "ses_auth_mac_key");
        if !v.has("command1") {
            return; // PM3 session-key-only vector.
        }
        // The whole exchange through the host state machine.
        let key_no = v.int("key_no") as u8;
        let non_first = v.s("name").contains("NonFirst");
        let mut auth = if non_first {
            let ti: [u8; 4] = v.hx("ti_carried_over").try_into().unwrap();
            let current = Ev2Session::new(
                Key::zero(KeyType::Aes128),
                Key::zero(KeyType::Aes128),
                ti,
                2,
            )
            .unwrap();
            HostAuth::non_first(key_no, key.clone(), &current).unwrap()
        } else {
            HostAuth::new(AuthMode::Ev2First, key_no, key.clone()).unwrap()
        };
        let (code, payload) = auth.command();
        v.eq_hex(
            "native command 1",
            &native_command(code, &payload),
            "command1_native",
        );
        v.eq_hex(
            "wrapped command 1",
            &wrap_iso(code, &payload).unwrap(),
            "command1",
        );
        // RndB as the card sent it.
        let mut rb = v.hx("picc_ek_rnd_b");
        key.cipher().cbc_decrypt(&mut [0u8; 16], &mut rb).unwrap();
        v.eq_hex("RndB = D(K, ek)", &rb, "rnd_b");
        v.eq_hex("rol(RndB)", &rotate_left(&rb), "rnd_b_rotated");
        let token = v.ok(
            "respond",
            auth.respond(
                DesfireStatus::AdditionalFrame,
                &v.hx("picc_ek_rnd_b"),
                &rnd_a,
            ),
        );
        v.eq_hex("E(K, RndA || rol(RndB))", &token, "pcd_ek_rnda_rndb_rot");
        if v.has("command2") {
            v.eq_hex(
                "wrapped command 2",
                &wrap_iso(0xAF, &token).unwrap(),
                "command2",
            );
        }
        let mut plain = v.hx("picc_response2_encrypted");
        key.cipher()
            .cbc_decrypt(&mut [0u8; 16], &mut plain)
            .unwrap();
        v.eq_hex("card answer, deciphered", &plain, "picc_response2_plain");
        let done = v.ok(
            "finish",
            auth.finish(DesfireStatus::Ok, &v.hx("picc_response2_encrypted")),
        );
        let SecureChannel::Ev2(s) = done.channel else {
            panic!("{}: not an EV2 session", v.id())
        };
        v.eq_hex(
            "session ENC key",
            s.enc_key().expose_bytes(),
            "ses_auth_enc_key",
        );
        v.eq_hex(
            "session MAC key",
            s.mac_key().expose_bytes(),
            "ses_auth_mac_key",
        );
        if non_first {
            v.eq_hex("TI kept", &s.ti(), "ti_carried_over");
            v.eq("CmdCtr kept", s.cmd_ctr(), 2);
        } else {
            v.eq_hex("TI", &s.ti(), "ti");
            v.eq("CmdCtr", s.cmd_ctr(), 0);
        }
        if v.has("picc_capabilities_pd_cap2") {
            v.eq_hex(
                "PDcap2",
                &done.pd_cap2.unwrap(),
                "picc_capabilities_pd_cap2",
            );
            v.eq_hex(
                "PCDcap2",
                &done.pcd_cap2.unwrap(),
                "pcd_capabilities_pcd_cap2",
            );
        }
    });
}

fn ev2_session(v: &V<'_>, ctr_key: &str) -> Ev2Session {
    // Vectors give only the key(s) their step uses.
    let key = |name: &str| match v.opt_hx(name) {
        Some(k) => Key::new(KeyType::Aes128, &k).unwrap(),
        None => Key::zero(KeyType::Aes128),
    };
    let (enc, mac) = (key("ses_auth_enc_key"), key("ses_auth_mac_key"));
    let ti: [u8; 4] = v.hx("ti").try_into().unwrap();
    Ev2Session::new(enc, mac, ti, v.int(ctr_key) as u16).unwrap()
}

fn ev2_iv_input(label: [u8; 2], ti: [u8; 4], ctr: u16) -> Vec<u8> {
    let mut x = label.to_vec();
    x.extend_from_slice(&ti);
    x.extend_from_slice(&ctr.to_le_bytes());
    x.extend_from_slice(&[0; 8]);
    x
}

/// Builds the command MAC input `Cmd || CmdCtr || TI || header || body`.
fn ev2_mac_input(cmd: u8, ctr: u16, ti: [u8; 4], header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut x = vec![cmd];
    x.extend_from_slice(&ctr.to_le_bytes());
    x.extend_from_slice(&ti);
    x.extend_from_slice(header);
    x.extend_from_slice(body);
    x
}

#[test]
fn ev2_sm() {
    run_category("ev2_sm", |v| {
        if v.has("write_cmd") {
            return ev2_write_then_read(v);
        }
        if !v.has("cmd") {
            // IVc vectors.
            let s = ev2_session(v, "cmd_ctr");
            v.eq_hex(
                "IVc input",
                &ev2_iv_input([0xA5, 0x5A], s.ti(), s.cmd_ctr()),
                "iv_input",
            );
            v.eq_hex("IVc", &s.iv_command(), "iv_c");
            return;
        }
        let mut s = ev2_session(v, "cmd_ctr");
        let cmd = v.hx("cmd")[0];
        let ti = s.ti();
        let ctr = s.cmd_ctr();
        if let Some(iv) = v.opt_hx("iv_c") {
            v.eq("IVc", s.iv_command().to_vec(), iv);
        }
        if v.has("iv_input") {
            v.eq_hex(
                "IVc input",
                &ev2_iv_input([0xA5, 0x5A], ti, ctr),
                "iv_input",
            );
        }
        // Header, data and protection of the command.
        let (header, data, protection) = match cmd {
            code::CHANGE_KEY => {
                let key_no = v.hex_u8("key_no");
                let new = Key::new(KeyType::Aes128, &v.hx("new_key"))
                    .unwrap()
                    .with_version(v.hex_u8("new_key_version"));
                let mut ck = ChangeKey::new(key_no, new).unwrap();
                if let Some(old) = v.opt_hx("old_key") {
                    ck = ck.old_key(Key::new(KeyType::Aes128, &old).unwrap());
                }
                // AN12196: the session was authenticated with key 0.
                let plain = ck.ev2_plaintext(0).unwrap();
                v.eq_hex("EV2 ChangeKey cryptogram", &plain, "cmd_data_plain");
                if v.has("crc32_new_key") {
                    v.eq_hex(
                        "CRC32(NewKey)",
                        &crc32_desfire(ck.new_key().expose_bytes()).to_le_bytes(),
                        "crc32_new_key",
                    );
                }
                (vec![key_no], plain.to_vec(), Protection::EncipheredCommand)
            }
            code::GET_CARD_UID => (vec![], vec![], Protection::EncipheredResponse),
            code::GET_FILE_SETTINGS => (v.hx("cmd_header"), vec![], Protection::Management),
            code::CHANGE_FILE_SETTINGS => (
                v.hx("cmd_header"),
                v.hx("cmd_data"),
                Protection::EncipheredCommand,
            ),
            code::WRITE_DATA_ISO => (
                v.hx("cmd_header"),
                v.hx("cmd_data"),
                Protection::FileWrite(CommMode::Full),
            ),
            other => panic!("{}: command {other:02X} not handled", v.id()),
        };
        if v.has("plaintext_padded") {
            let mut p = data.clone();
            pad_iso9797_m2(&mut p, 16);
            v.eq_hex("M2-padded plaintext", &p, "plaintext_padded");
        }
        let payload = v.ok("seal", s.seal_command(cmd, &header, &data, protection));
        let (body, mact) = payload[header.len()..].split_at(payload.len() - header.len() - 8);
        if v.has("encrypted_data") {
            v.eq_hex("E(KSesAuthENC, IVc, data)", body, "encrypted_data");
        }
        if v.has("mac_input") {
            v.eq_hex(
                "MAC input",
                &ev2_mac_input(cmd, ctr, ti, &header, body),
                "mac_input",
            );
        }
        if v.has("cmac_full") {
            let full = s.mac_key().cipher().cmac(&v.hx("mac_input"));
            v.eq_hex("full CMAC", full.as_slice(), "cmac_full");
        }
        v.eq_hex("MACt", mact, "mact");
        v.eq_hex("C-APDU", &wrap_iso(cmd, &payload).unwrap(), "c_apdu");
        // The response.
        let r_apdu = v.hx("r_apdu");
        let (status, rdata) = parse_iso_response(&r_apdu).unwrap();
        v.eq("status", status, DesfireStatus::Ok);
        if cmd == code::CHANGE_KEY && rdata.is_empty() {
            // Same key: 91 00 without MAC, the session ends (AN12196).
            v.eq("same-key ChangeKey answer", rdata.len(), 0);
            return;
        }
        if v.has("iv_r") {
            v.eq_hex(
                "IVr input",
                &ev2_iv_input([0x5A, 0xA5], ti, ctr + 1),
                "iv_r_input",
            );
            v.eq("IVr", s.iv_response().unwrap().to_vec(), v.hx("iv_r"));
        }
        v.eq_hex("response MACt", &rdata[rdata.len() - 8..], "response_mact");
        if v.has("response_mac_input") {
            let mut x = vec![0x00];
            x.extend_from_slice(&(ctr + 1).to_le_bytes());
            x.extend_from_slice(&ti);
            x.extend_from_slice(&rdata[..rdata.len() - 8]);
            v.eq_hex("response MAC input", &x, "response_mac_input");
        }
        if v.has("response_cmac_full") {
            let mut x = vec![0x00];
            x.extend_from_slice(&(ctr + 1).to_le_bytes());
            x.extend_from_slice(&ti);
            x.extend_from_slice(&rdata[..rdata.len() - 8]);
            let full = s.mac_key().cipher().cmac(&x);
            v.eq_hex("response full CMAC", full.as_slice(), "response_cmac_full");
            v.eq(
                "MACt = odd bytes",
                truncate_odd(&full).to_vec(),
                v.hx("response_mact"),
            );
        }
        if v.has("response_plain_padded") {
            let mut p = v.hx("response_encrypted");
            let mut iv = s.iv_response().unwrap();
            s.enc_key().cipher().cbc_decrypt(&mut iv, &mut p).unwrap();
            v.eq_hex("response deciphered", &p, "response_plain_padded");
        }
        let plain = v.ok("open response", s.open_response(status, rdata, protection));
        if v.has("response_data") {
            v.eq_hex("response data", &plain, "response_data");
        } else if v.has("uid") {
            v.eq_hex("UID", &commands::parse_uid(&plain).unwrap(), "uid");
        } else {
            v.eq("no response data", plain.len(), 0);
        }
        v.eq("CmdCtr advanced", s.cmd_ctr(), ctr + 1);
    });
}

/// AN12343 Tables 23-26: WriteData then ReadData in MAC or Full mode (CmdCtr 0 then 1).
fn ev2_write_then_read(v: &mut V<'_>) {
    let mut s = ev2_session(v, "write_cmd_ctr");
    let full = v.has("write_iv_c");
    let mode = if full { CommMode::Full } else { CommMode::Mac };
    let wcmd = v.hx("write_cmd")[0];
    let whead = v.hx("write_cmd_header");
    if full {
        v.eq_hex("write IVc", &s.iv_command(), "write_iv_c");
    }
    let payload = v.ok(
        "seal write",
        s.seal_command(
            wcmd,
            &whead,
            &v.hx("write_data"),
            Protection::FileWrite(mode),
        ),
    );
    if full {
        v.eq_hex(
            "write command data field",
            &payload,
            "write_command_data_field",
        );
    } else {
        let mut expected = whead.clone();
        expected.extend_from_slice(&v.hx("write_data"));
        v.eq(
            "plain header and data",
            payload[..payload.len() - 8].to_vec(),
            expected,
        );
        v.eq_hex("write MACt", &payload[payload.len() - 8..], "write_mact");
    }
    v.ok(
        "write response",
        s.open_response(
            DesfireStatus::Ok,
            &v.hx("write_response_mact"),
            Protection::FileWrite(mode),
        ),
    );
    v.eq(
        "CmdCtr after write",
        u64::from(s.cmd_ctr()),
        v.int("read_cmd_ctr"),
    );
    let rcmd = v.hx("read_cmd")[0];
    let (rhead, rpayload) = if full {
        let field = v.hx("read_command_data_field");
        (field[..7].to_vec(), field)
    } else {
        let h = v.hx("read_cmd_header");
        let mut p = h.clone();
        p.extend_from_slice(&v.hx("read_mact"));
        (h, p)
    };
    let sealed = v.ok(
        "seal read",
        s.seal_command(rcmd, &rhead, &[], Protection::FileRead(mode)),
    );
    v.eq("read command", sealed, rpayload);
    let mut answer = if full {
        v.eq_hex("read IVr", &s.iv_response().unwrap(), "read_iv_r");
        let mut p = v.hx("read_response_encrypted");
        let mut iv = s.iv_response().unwrap();
        s.enc_key().cipher().cbc_decrypt(&mut iv, &mut p).unwrap();
        v.eq_hex("read answer deciphered", &p, "read_response_plain_padded");
        v.hx("read_response_encrypted")
    } else {
        v.hx("read_response_data")
    };
    answer.extend_from_slice(&v.hx("read_response_mact"));
    let data = v.ok(
        "open read",
        s.open_response(DesfireStatus::Ok, &answer, Protection::FileRead(mode)),
    );
    v.eq_hex("read data", &data, "read_response_data");
    v.eq("CmdCtr after read", s.cmd_ctr(), 2);
}

#[test]
fn ev2_tmac() {
    run_category("ev2_tmac", |v| {
        let key = Key::new(KeyType::Aes128, &v.hx("app_transaction_mac_key")).unwrap();
        let uid: [u8; 7] = v.hx("uid").try_into().unwrap();
        let tmc = v.int("tmc") as u32;
        let (sv_mac, sv_enc) = transaction_mac_sv(tmc, &uid);
        v.eq_hex("SV (MAC)", &sv_mac, "sv_mac");
        v.eq_hex("SV (ENC)", &sv_enc, "sv_enc");
        let (mac, enc) = transaction_mac_keys(&key, tmc, &uid);
        v.eq_hex("SesTMMACKey", mac.expose_bytes(), "ses_tm_mac_key");
        v.eq_hex("SesTMENCKey", enc.expose_bytes(), "ses_tm_enc_key");
    });
}

// ---------------------------------------------------------------------------------------
// EV1

#[test]
fn ev1_auth() {
    run_category("ev1_auth", |v| {
        let ty = key_type(v.s("key_type"));
        let key = v.ok("key", Key::new(ty, &v.hx("key")));
        let mode = match v.s("auth_command_code") {
            "1A" => AuthMode::Iso,
            "AA" => AuthMode::Aes,
            other => panic!("{other}"),
        };
        let rnd_a = v.hx("rnd_a");
        let mut auth = HostAuth::new(mode, v.int("key_no") as u8, key.clone()).unwrap();
        let (code, payload) = auth.command();
        // Wrapped (fabaccess crate) or native (real-card trace) frames.
        let wrapped = v.has("c_apdu1");
        let (s1, ek) = if wrapped {
            v.eq_hex("C-APDU 1", &wrap_iso(code, &payload).unwrap(), "c_apdu1");
            let mut r = v.hx("picc_ek_rnd_b");
            r.extend_from_slice(&v.hx("sw1"));
            let (s, d) = parse_iso_response(&r).unwrap();
            (s, d.to_vec())
        } else {
            v.eq_hex("command 1", &native_command(code, &payload), "cmd1");
            let r = v.hx("resp1");
            let (s, d) = parse_native_response(&r).unwrap();
            (s, d.to_vec())
        };
        // RndB = CBC-D(K, IV 0, ek).
        let mut rb = ek.clone();
        let bs = key.cipher().block_size();
        key.cipher()
            .cbc_decrypt(&mut vec![0u8; bs], &mut rb)
            .unwrap();
        v.eq_hex("RndB", &rb, "rnd_b");
        if v.has("rnd_b_rotated") {
            v.eq_hex("rol(RndB)", &rotate_left(&rb), "rnd_b_rotated");
            v.eq_hex("rol(RndA)", &rotate_left(&rnd_a), "rnd_a_rotated");
        }
        let token = v.ok("respond", auth.respond(s1, &ek, &rnd_a));
        let (s2, proof) = if wrapped {
            v.eq_hex("C-APDU 2", &wrap_iso(0xAF, &token).unwrap(), "c_apdu2");
            let mut r = v.hx("picc_ek_rnd_a_rot");
            r.extend_from_slice(&v.hx("sw2"));
            let (s, d) = parse_iso_response(&r).unwrap();
            (s, d.to_vec())
        } else {
            v.eq_hex("command 2", &native_command(0xAF, &token), "cmd2");
            let r = v.hx("resp2");
            let (s, d) = parse_native_response(&r).unwrap();
            (s, d.to_vec())
        };
        let done = v.ok("finish", auth.finish(s2, &proof));
        let SecureChannel::Ev1(session) = done.channel else {
            panic!("{}: not an EV1 session", v.id())
        };
        v.eq_hex("session key", session.key().expose_bytes(), "session_key");
        v.eq(
            "session IV is zero",
            session.iv().iter().all(|&b| b == 0),
            true,
        );
        if v.has("session_key_as_16") {
            v.eq_hex(
                "session key as 16 bytes",
                &session.key().card_bytes(),
                "session_key_as_16",
            );
        }
        let pure = ev1_session_key(key.effective_type(), &rnd_a, &rb).unwrap();
        v.eq_hex("ev1_session_key()", pure.expose_bytes(), "session_key");
    });
}

fn ev1_session(v: &V<'_>) -> Ev1Session {
    let key = Key::new(key_type(v.s("session_key_type")), &v.hx("session_key")).unwrap();
    Ev1Session::with_iv(key, &v.hx("iv_in")).unwrap()
}

/// The protection a command code gets from the client (plain files in the ELM trace).
fn ev1_protection(code: u8) -> Protection {
    match code {
        code::READ_DATA => Protection::FileRead(CommMode::Plain),
        code::WRITE_DATA => Protection::FileWrite(CommMode::Plain),
        _ => Protection::Management,
    }
}

#[test]
fn ev1_sm() {
    run_category("ev1_sm", |v| match v.s("kind") {
        "ev1_cmac_command" => ev1_cmac_command(v),
        "ev1_changekey" => ev1_change_key(v),
        "ev1_enciphered_command" => ev1_enciphered_command(v),
        other => panic!("{}: kind {other} not handled", v.id()),
    });
}

fn ev1_cmac_command(v: &mut V<'_>) {
    let mut s = ev1_session(v);
    let command = v.hx("command");
    let (code, rest) = command.split_first().unwrap();
    let protection = ev1_protection(*code);
    let payload = s.seal_command(*code, rest, &[], protection).unwrap();
    v.eq("plain command sent as is", payload, rest.to_vec());
    v.eq_hex(
        "CMAC over the command (IV)",
        s.iv(),
        "cmac_over_command_full",
    );
    // Replay the card frames through the assembler.
    let frames = v.v["frames"].as_array().unwrap().clone();
    let mut asm = ResponseAssembler::new(4096);
    let mut last = DesfireStatus::Ok;
    for (i, f) in frames.iter().enumerate() {
        let pcd = hex::decode(f["pcd"].as_str().unwrap()).unwrap();
        let expected_pcd = if i == 0 { command.clone() } else { vec![0xAF] };
        v.eq("PCD frame", pcd, expected_pcd);
        let picc = hex::decode(f["picc"].as_str().unwrap()).unwrap();
        let (st, d) = parse_native_response(&picc).unwrap();
        match asm.push(st, d).unwrap() {
            Assembled::More => {}
            Assembled::Done(st) => last = st,
        }
    }
    v.eq("final status", last, DesfireStatus::Ok);
    let collected = asm.into_data();
    v.eq_hex(
        "response CMAC (8 bytes)",
        &collected[collected.len() - 8..],
        "response_cmac",
    );
    let data = v.ok(
        "open response",
        s.open_response(last, &collected, protection, None),
    );
    v.eq_hex("response data", &data, "response_data");
    v.eq_hex("IV after the response", s.iv(), "iv_out");
    v.eq_hex("full response CMAC", s.iv(), "response_cmac_full");
    if *code == code::GET_VERSION {
        let info = commands::parse_version(&data).unwrap();
        v.eq("generation", info.generation(), Generation::Ev1);
    }
}

fn ev1_enciphered_command(v: &mut V<'_>) {
    let mut s = ev1_session(v);
    let plain = v.hx("plaintext_with_crc32_and_zero_padding");
    let ks1 = plain[0];
    // KS1 || CRC32(54 || KS1) || zero padding.
    let mut expected = vec![ks1];
    expected.extend_from_slice(&crc32_desfire(&[0x54, ks1]).to_le_bytes());
    pad_zero(&mut expected, 8);
    v.eq("KS1 || CRC32 || padding", expected, plain.clone());
    let cmd = commands::change_key_settings(ks1);
    let payload = s
        .seal_command(cmd.code, &cmd.header, &cmd.data, cmd.protection)
        .unwrap();
    v.eq_hex("command", &native_command(cmd.code, &payload), "command");
    v.eq_hex("IV after the command", s.iv(), "iv_after_command");
    let resp = v.hx("response");
    let (st, d) = parse_native_response(&resp).unwrap();
    let data = v.ok(
        "open response",
        s.open_response(st, d, cmd.protection, None),
    );
    v.eq("no data", data.len(), 0);
    v.eq_hex("response CMAC", s.iv(), "response_cmac_full");
    v.eq_hex("IV out", s.iv(), "iv_out");
}

fn ev1_change_key(v: &mut V<'_>) {
    let mut s = ev1_session(v);
    let key_no = v.int("key_no") as u8;
    let new_ty = if v.has("new_key_type") {
        key_type(v.s("new_key_type"))
    } else {
        KeyType::Aes128
    };
    let mut new = v.ok("new key", Key::new(new_ty, &v.hx("new_key")));
    if v.has("new_key_version") {
        new = new.with_version(v.hex_u8("new_key_version"));
    }
    // The fabaccess vectors authenticate with key 0.
    let auth_no = if v.has("authenticated_key_no") {
        v.int("authenticated_key_no") as u8
    } else {
        0
    };
    let mut ck = ChangeKey::new(key_no, new).unwrap();
    if let Some(old) = v.opt_hx("old_key") {
        ck = ck.old_key(Key::new(new_ty, &old).unwrap());
    }
    let mut plain = ck.ev1_plaintext(auth_no).unwrap().to_vec();
    pad_zero(&mut plain, s.block_size());
    v.eq_hex("cryptogram plaintext", &plain, "cryptogram_plain");
    let mut payload = vec![ck.key_no_byte()];
    payload.extend_from_slice(&s.encipher(&ck.ev1_plaintext(auth_no).unwrap()));
    if v.has("command") {
        v.eq_hex(
            "ChangeKey frame",
            &native_command(code::CHANGE_KEY, &payload),
            "command",
        );
    } else {
        v.eq_hex(
            "ChangeKey C-APDU",
            &wrap_iso(code::CHANGE_KEY, &payload).unwrap(),
            "c_apdu",
        );
    }
    if !v.has("response") {
        return;
    }
    let resp = v.hx("response");
    let (st, d) = parse_native_response(&resp).unwrap();
    v.eq("status", st, DesfireStatus::Ok);
    if ck.is_same_key(auth_no) {
        v.eq("same key: no CMAC, the session ends", d.len(), 0);
    } else {
        let data = v.ok(
            "open response",
            s.open_response(st, d, Protection::EncipheredCommand, None),
        );
        v.eq("no data", data.len(), 0);
        v.eq_hex("response CMAC", s.iv(), "response_cmac_full");
        v.eq_hex("IV out", s.iv(), "iv_out");
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn layout() {
    run_category("layout", |v| {
        let mut all = v.hx("frame1_hw");
        all.extend_from_slice(&v.hx("frame2_sw"));
        all.extend_from_slice(&v.hx("frame3"));
        let info = commands::parse_version(&all).unwrap();
        v.eq("NXP DESFire", info.is_desfire(), true);
        v.eq("generation (HW 1.0)", info.generation(), Generation::Ev1);
        v.eq(
            "storage 2^13 = 8192 bytes",
            info.hardware.storage_bytes(),
            (8192, true),
        );
        v.eq("SW 1.4", (info.software.major, info.software.minor), (1, 4));
        v.eq("protocol", info.hardware.protocol, 0x05);
        v.eq("UID", info.uid.to_vec(), v.hx("frame3")[..7].to_vec());
        v.eq("batch", info.batch, [0xBA, 0x45, 0x19, 0xE3, 0x20]);
        v.eq(
            "production week 49 of 2013",
            info.production_date(),
            Some((49, 2013)),
        );
        v.eq("no extra bytes", info.extra.len(), 0);
    });
}

#[test]
fn d40_auth_computed() {
    run_category("d40_auth_computed", |v| {
        let key = Key::new(key_type(v.s("key_type")), &v.hx("key")).unwrap();
        let mut auth = HostAuth::new(AuthMode::Legacy, v.int("key_no") as u8, key.clone()).unwrap();
        let (code, payload) = auth.command();
        v.eq_hex("command 1", &native_command(code, &payload), "cmd1");
        let mut rb = v.hx("picc_ek_rnd_b");
        key.cipher().decrypt_blocks(&mut rb).unwrap();
        v.eq_hex("RndB = D(K, ek)", &rb, "rnd_b");
        let token = v.ok(
            "respond",
            auth.respond(
                DesfireStatus::AdditionalFrame,
                &v.hx("picc_ek_rnd_b"),
                &v.hx("rnd_a"),
            ),
        );
        v.eq_hex("send-mode token", &token, "pcd_token");
        let done = v.ok(
            "finish",
            auth.finish(DesfireStatus::Ok, &v.hx("picc_ek_rnd_a_rot")),
        );
        let SecureChannel::D40(s) = done.channel else {
            panic!("{}: not a D40 session", v.id())
        };
        v.eq_hex("session key", s.key().expose_bytes(), "session_key");
    });
}

/// Keeps `frame` in use for the wrapped/unwrapped round trip of every C-APDU in the file.
#[test]
fn every_c_apdu_unwraps_to_its_native_frame() {
    let mut n = 0;
    for v in all_vectors() {
        for key in ["c_apdu", "c_apdu1", "c_apdu2", "command1", "command2"] {
            let Some(text) = v.get(key).and_then(Value::as_str) else {
                continue;
            };
            let apdu = hex::decode(text).unwrap();
            let (code, data) = frame::unwrap_iso_command(&apdu)
                .unwrap_or_else(|e| panic!("{key} of {}: {e}", v["name"]));
            assert_eq!(
                wrap_iso(code, data).unwrap(),
                apdu,
                "{key} of {}",
                v["name"]
            );
            n += 1;
        }
    }
    assert_eq!(n, 19, "wrapped C-APDUs in the file");
}
