//! The client (`Desfire` over a `CardChannel`) replaying published exchanges byte for byte:
//! the real EV1 card trace of Elmue (native frames turned into their ISO-wrapped form, the
//! card's CMACs all verified by the client) and the AN12196 EV2 examples. Every APDU the
//! client sends must equal the recorded one; RndA is injected from the vectors.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed expectation is a test failure"
)]

use cps_desfire::client::ClientConfig;
use cps_desfire::commands::{
    self, AccessRights, Aid, ApplicationSpec, ChangeKey, FileSpec, NativeCommand,
};
use cps_desfire::frame::{iso_response, parse_native_response, wrap_iso};
use cps_desfire::{AuthMode, CommMode, Desfire, Key, KeyType, Protection};
use cps_transport::record::{Exchange, Recorded, ReplayChannel, Transcript};
use serde_json::Value;

const DESFIRE_ATR: [u8; 6] = [0x3B, 0x81, 0x80, 0x01, 0x80, 0x80];

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testvectors/desfire.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hx(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {}", v["name"])),
    )
    .unwrap()
}

/// The Elmue vector of a trace step (and sub-step for 57.1 etc.).
fn elm(all: &[Value], step: u64, kind: &str, nth: usize) -> Value {
    all.iter()
        .filter(|v| v["trace_step"].as_u64() == Some(step) && v["kind"] == kind)
        .nth(nth)
        .unwrap_or_else(|| panic!("step {step} {kind}"))
        .clone()
}

/// Native PCD frame → wrapped C-APDU; native PICC frame (status first) → wrapped R-APDU.
fn wrapped(pcd: &[u8], picc: &[u8]) -> Exchange {
    let (code, data) = pcd.split_first().unwrap();
    let (status, rdata) = parse_native_response(picc).unwrap();
    Exchange {
        command: Recorded::plain(&wrap_iso(*code, data).unwrap()),
        response: Recorded::plain(&iso_response(status, rdata)),
    }
}

fn auth_exchanges(v: &Value) -> Vec<Exchange> {
    vec![
        wrapped(&hx(v, "cmd1"), &hx(v, "resp1")),
        wrapped(&hx(v, "cmd2"), &hx(v, "resp2")),
    ]
}

fn frame_exchanges(v: &Value) -> Vec<Exchange> {
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| wrapped(&hx(f, "pcd"), &hx(f, "picc")))
        .collect()
}

fn single(v: &Value) -> Vec<Exchange> {
    vec![wrapped(&hx(v, "command"), &hx(v, "response"))]
}

fn client(exchanges: Vec<Exchange>, rnd_a: Vec<Vec<u8>>) -> Desfire<ReplayChannel> {
    let transcript = Transcript {
        atr: DESFIRE_ATR.to_vec(),
        exchanges,
    };
    let mut queue = rnd_a.into_iter();
    Desfire::new(ReplayChannel::new(transcript)).with_random(move |buf: &mut [u8]| {
        let r = queue.next().expect("no RndA left");
        buf.copy_from_slice(&r);
    })
}

#[test]
fn elmue_ev1_des_session_picc_management() {
    let all = vectors();
    let auth = elm(&all, 3, "ev1_auth", 0);
    let mut ex = auth_exchanges(&auth);
    for step in 4..=12 {
        ex.extend(frame_exchanges(&elm(&all, step, "ev1_cmac_command", 0)));
    }
    let mut card = client(ex, vec![hx(&auth, "rnd_a")]);
    card.authenticate(AuthMode::Iso, 0, Key::zero(KeyType::Des))
        .unwrap();
    let version = card.get_version().unwrap();
    assert_eq!(version.uid, [0x04, 0x06, 0x3F, 0x72, 0x63, 0x34, 0x80]);
    card.format_picc().unwrap();
    for (aid, count, ty) in [
        (0x00DE16, 2, KeyType::Des),
        (0x00DE24, 2, KeyType::ThreeKey3Des),
        (0x00AE16, 2, KeyType::Aes128),
        (0xAABBCC, 1, KeyType::Des),
    ] {
        card.create_application(&ApplicationSpec {
            aid: Aid::new(aid).unwrap(),
            key_settings: 0x0F,
            key_count: count,
            key_type: ty,
            iso: None,
        })
        .unwrap();
    }
    let aids: Vec<u32> = card
        .get_application_ids()
        .unwrap()
        .into_iter()
        .map(Aid::value)
        .collect();
    assert_eq!(aids, [0x00DE16, 0x00DE24, 0x00AE16, 0xAABBCC]);
    card.delete_application(Aid::new(0xAABBCC).unwrap())
        .unwrap();
    assert_eq!(card.get_application_ids().unwrap().len(), 3);
    assert!(
        card.session().is_some(),
        "every CMAC verified, session alive"
    );
    // 2 (auth) + 3 (GetVersion) + 8 single-frame commands.
    assert_eq!(card.round_trips(), 13);
    assert!(card.into_channel().is_finished());
}

#[test]
fn elmue_ev1_des_session_change_key_settings() {
    let all = vectors();
    let auth = elm(&all, 14, "ev1_auth", 0);
    let mut ex = auth_exchanges(&auth);
    ex.extend(frame_exchanges(&elm(&all, 15, "ev1_cmac_command", 0)));
    ex.extend(single(&elm(&all, 16, "ev1_enciphered_command", 0)));
    ex.extend(frame_exchanges(&elm(&all, 17, "ev1_cmac_command", 0)));
    let mut card = client(ex, vec![hx(&auth, "rnd_a")]);
    card.authenticate(AuthMode::Iso, 0, Key::zero(KeyType::Des))
        .unwrap();
    assert_eq!(card.get_key_settings().unwrap().ks1, 0x0F);
    card.change_key_settings(0x0D).unwrap();
    let ks = card.get_key_settings().unwrap();
    assert_eq!((ks.ks1, ks.key_count()), (0x0D, 2));
    assert!(card.into_channel().is_finished());
}

#[test]
fn elmue_ev1_change_other_key_then_authenticate_with_it() {
    let all = vectors();
    let auth0 = elm(&all, 26, "ev1_auth", 0);
    let auth1 = elm(&all, 29, "ev1_auth", 0);
    let mut ex = auth_exchanges(&auth0);
    ex.extend(single(&elm(&all, 27, "ev1_changekey", 0)));
    ex.extend(single(&elm(&all, 28, "ev1_changekey", 0)));
    ex.extend(auth_exchanges(&auth1));
    let mut card = client(ex, vec![hx(&auth0, "rnd_a"), hx(&auth1, "rnd_a")]);
    card.authenticate(AuthMode::Iso, 0, Key::zero(KeyType::Des))
        .unwrap();
    let k1 = Key::new(
        KeyType::TwoKey3Des,
        &hex::decode("00102031405060708090A0B0B0A09080").unwrap(),
    )
    .unwrap();
    let k2 = Key::new(
        KeyType::TwoKey3Des,
        &hex::decode("10182029303840485058606870788088").unwrap(),
    )
    .unwrap();
    card.change_key(
        &ChangeKey::new(1, k1.clone())
            .unwrap()
            .old_key(Key::zero(KeyType::TwoKey3Des)),
    )
    .unwrap();
    card.change_key(&ChangeKey::new(1, k2.clone()).unwrap().old_key(k1))
        .unwrap();
    assert!(card.session().is_some(), "other key: the session goes on");
    card.authenticate(AuthMode::Iso, 1, k2).unwrap();
    assert!(card.into_channel().is_finished());
}

#[test]
fn elmue_ev1_same_key_change_ends_the_session() {
    let all = vectors();
    let auth = elm(&all, 43, "ev1_auth", 0);
    let mut ex = auth_exchanges(&auth);
    ex.extend(single(&elm(&all, 44, "ev1_changekey", 0)));
    let mut card = client(ex, vec![hx(&auth, "rnd_a")]);
    card.authenticate(AuthMode::Aes, 0, Key::zero(KeyType::Aes128))
        .unwrap();
    let new = Key::new(
        KeyType::Aes128,
        &hex::decode("00102030405060708090A0B0B0A09080").unwrap(),
    )
    .unwrap()
    .with_version(0x10);
    card.change_key(&ChangeKey::new(0, new).unwrap()).unwrap();
    assert!(card.session().is_none());
    assert!(card.into_channel().is_finished());
}

#[test]
fn elmue_ev1_aes_session_file_lifecycle() {
    let all = vectors();
    let auth = elm(&all, 53, "ev1_auth", 0);
    let mut ex = auth_exchanges(&auth);
    for (step, nth) in [
        (54, 0),
        (55, 0),
        (56, 0),
        (57, 0),
        (57, 1),
        (58, 0),
        (58, 1),
        (59, 0),
        (60, 0),
    ] {
        ex.extend(frame_exchanges(&elm(&all, step, "ev1_cmac_command", nth)));
    }
    let mut card = client(ex, vec![hx(&auth, "rnd_a")]);
    let key = Key::new(
        KeyType::Aes128,
        &hex::decode("10182028303840485058606870788088").unwrap(),
    )
    .unwrap();
    card.authenticate(AuthMode::Aes, 1, key).unwrap();
    let spec = FileSpec {
        file_no: 5,
        iso_fid: None,
        comm: CommMode::Plain,
        access: AccessRights::from_bytes([0x11, 0x00]),
    };
    card.create_data_file(&spec, 80, false).unwrap();
    assert_eq!(card.get_file_ids().unwrap(), [5]);
    let settings = card.get_file_settings(5).unwrap();
    assert_eq!(settings.kind, commands::FileKind::Data { size: 80 });
    let data: Vec<u8> = (0u8..80).collect();
    card.write_data(5, 0, &data[..52]).unwrap();
    card.write_data(5, 52, &data[52..]).unwrap();
    let mut read = card.read_data(5, 0, 0x30).unwrap().to_vec();
    read.extend_from_slice(&card.read_data(5, 0x30, 0x20).unwrap());
    assert_eq!(read, data);
    card.delete_file(5).unwrap();
    assert!(card.get_file_ids().unwrap().is_empty());
    assert_eq!(card.round_trips(), 11);
    assert!(card.into_channel().is_finished());
}

fn by_name<'a>(all: &'a [Value], needle: &str) -> &'a Value {
    all.iter()
        .find(|v| v["name"].as_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("{needle}"))
}

fn apdu_exchange(v: &Value, c: &str, r: &str) -> Exchange {
    Exchange {
        command: Recorded::plain(&hx(v, c)),
        response: Recorded::plain(&hx(v, r)),
    }
}

#[test]
fn an12196_ev2_first_then_full_write_and_change_file_settings() {
    let all = vectors();
    let auth = by_name(&all, "AuthenticateEV2First key 0x00 (AN12196 Table 14)");
    let write = by_name(&all, "EV2 CommMode.Full WriteData 128 bytes");
    let cfs = by_name(&all, "EV2 CommMode.Full ChangeFileSettings");
    let mut resp1 = hx(auth, "picc_ek_rnd_b");
    resp1.extend_from_slice(&[0x91, 0xAF]);
    let mut resp2 = hx(auth, "picc_response2_encrypted");
    resp2.extend_from_slice(&[0x91, 0x00]);
    let ex = vec![
        Exchange {
            command: Recorded::plain(&hx(auth, "command1")),
            response: Recorded::plain(&resp1),
        },
        Exchange {
            command: Recorded::plain(&hx(auth, "command2")),
            response: Recorded::plain(&resp2),
        },
        apdu_exchange(write, "c_apdu", "r_apdu"),
        apdu_exchange(cfs, "c_apdu", "r_apdu"),
    ];
    // The AN sends 159-byte ISO-chained WriteData (8D) in one APDU.
    let mut card = client(ex, vec![hx(auth, "rnd_a")]).with_config(ClientConfig {
        max_frame_payload: 255,
        ..ClientConfig::default()
    });
    card.authenticate(AuthMode::Ev2First, 0, Key::zero(KeyType::Aes128))
        .unwrap();
    let cmd = commands::with_iso_chaining(
        commands::write_data(2, 0, &hx(write, "cmd_data"), CommMode::Full).unwrap(),
    );
    assert!(card.execute(&cmd).unwrap().is_empty());
    let change = NativeCommand::new(
        0x5F,
        &[0x02],
        &hx(cfs, "cmd_data"),
        Protection::EncipheredCommand,
    );
    assert!(card.execute(&change).unwrap().is_empty());
    assert!(card.session().is_some());
    assert!(card.into_channel().is_finished());
}

#[test]
fn an12196_ev2_first_key3_then_write_10_bytes() {
    let all = vectors();
    let auth = by_name(&all, "AuthenticateEV2First key 0x03");
    let write = by_name(&all, "EV2 CommMode.Full WriteData 10 bytes");
    let mut resp1 = hx(auth, "picc_ek_rnd_b");
    resp1.extend_from_slice(&[0x91, 0xAF]);
    let mut resp2 = hx(auth, "picc_response2_encrypted");
    resp2.extend_from_slice(&[0x91, 0x00]);
    let mut cmd2 = vec![0x90, 0xAF, 0, 0, 0x20];
    cmd2.extend_from_slice(&hx(auth, "pcd_ek_rnda_rndb_rot"));
    cmd2.push(0);
    let ex = vec![
        Exchange {
            command: Recorded::plain(&hx(auth, "command1")),
            response: Recorded::plain(&resp1),
        },
        Exchange {
            command: Recorded::plain(&cmd2),
            response: Recorded::plain(&resp2),
        },
        apdu_exchange(write, "c_apdu", "r_apdu"),
    ];
    let mut card = client(ex, vec![hx(auth, "rnd_a")]);
    card.authenticate(AuthMode::Ev2First, 3, Key::zero(KeyType::Aes128))
        .unwrap();
    let cmd = commands::with_iso_chaining(
        commands::write_data(3, 0, &hx(write, "cmd_data"), CommMode::Full).unwrap(),
    );
    card.execute(&cmd).unwrap();
    assert!(card.into_channel().is_finished());
}
