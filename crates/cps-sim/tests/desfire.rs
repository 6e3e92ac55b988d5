//! The cps-desfire client against the simulated DESFire PICC of the CPS4 contactless
//! interface, in process: the door flow, every command in every communication mode with
//! every key type and authentication, transactions, and the refusals (each a typed error,
//! the card state unchanged).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests: a failed expectation is a test failure"
)]

use cps_apdu::StatusWord;
use cps_desfire::auth::AuthError;
use cps_desfire::client::{DoorConfig, LegacyHint, UidSource};
use cps_desfire::commands::{AccessRights, ChangeKey, FileSpec};
use cps_desfire::crypto::{Key, KeyType};
use cps_desfire::frame;
use cps_desfire::frame::DesfireStatus as S;
use cps_desfire::session::Ev2Session;
use cps_desfire::session::{CommMode, SessionKind};
use cps_desfire::{Aid, AuthMode, Desfire, DesfireError, Refusal};
use cps_desfire::{Protection, SecureChannel};
use cps_sim::desfire::{DesfireApplet, access_control as ac};
use cps_sim::{Interface, Profile, SimCard, persona};
use cps_transport::{CardChannel, InProcessChannel, VirtualCard};

type Door = Desfire<InProcessChannel<SimCard>>;

fn contactless(profile: Profile) -> SimCard {
    SimCard::builder()
        .profile(profile)
        .persona("dr-martin")
        .interface(Interface::Contactless)
        .build()
        .unwrap()
}

fn cps4() -> Door {
    Desfire::new(InProcessChannel::new(contactless(Profile::Cps4)))
}

fn picc(door: &Door) -> &DesfireApplet {
    door.channel().card().applet::<DesfireApplet>().unwrap()
}

fn aid() -> Aid {
    Aid::new(ac::AID).unwrap()
}

#[path = "common/desfire_matrix.rs"]
mod matrix;
use matrix::{COMBOS, exercise, status};

#[test]
fn door_flow_minimum_is_four_exchanges() {
    let mut door = cps4();
    let uid = picc(&door).uid();
    let config = DoorConfig {
        uid: UidSource::Known(uid.to_vec()),
        ..ac::door_config()
    };
    let c = door
        .door_check_with(
            aid(),
            ac::DOOR_KEY_NO,
            &ac::door_master_key(),
            true,
            ac::CREDENTIAL_FILE,
            &config,
        )
        .unwrap();
    assert_eq!(c.exchanges, 4, "select, EV2First ×2, ReadData");
    assert_eq!(c.session, SessionKind::Ev2);
    let holder = persona("dr-martin").unwrap();
    let mut expected = format!("CPS4:{}", holder.national_id).into_bytes();
    expected.resize(32, 0);
    assert_eq!(&c.data[..], &expected[..]);

    // Without the UID from anticollision, GetVersion gives it (3 more frames).
    let mut door = cps4();
    let c = door
        .door_check_with(
            aid(),
            ac::DOOR_KEY_NO,
            &ac::door_master_key(),
            true,
            ac::CREDENTIAL_FILE,
            &ac::door_config(),
        )
        .unwrap();
    assert_eq!(c.exchanges, 7);
    assert_eq!(c.uid.as_deref(), Some(&uid[..]));
}

#[test]
fn door_flow_with_random_uid_reads_the_real_uid() {
    let holder = persona("infirmiere-bernard").unwrap();
    let card = SimCard::builder()
        .profile(Profile::Cps4)
        .persona("infirmiere-bernard")
        .interface(Interface::Contactless)
        .desfire(DesfireApplet::cps4(&holder).with_random_uid(true))
        .build()
        .unwrap();
    let mut door = Desfire::new(InProcessChannel::new(card));
    let uid = picc(&door).uid();
    let v = door.get_version().unwrap();
    assert_eq!(v.uid, [0; 7], "random-ID card hides its UID");
    let c = door
        .door_check_with(
            aid(),
            ac::DOOR_KEY_NO,
            &ac::door_master_key(),
            true,
            ac::CREDENTIAL_FILE,
            &ac::door_config(),
        )
        .unwrap();
    assert_eq!(c.uid.as_deref(), Some(&uid[..]));
    assert!(c.data.starts_with(b"CPS4:"));
}

#[test]
fn door_refusals_are_typed_and_change_nothing() {
    // Another door system's master key: the diversified key is wrong.
    let mut door = cps4();
    let before = picc(&door).state_digest();
    let err = door
        .door_check_with(
            aid(),
            ac::DOOR_KEY_NO,
            &Key::aes([0x42; 16]),
            true,
            ac::CREDENTIAL_FILE,
            &ac::door_config(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Refusal::AuthenticationFailed(AuthError::WrongKey(S::AuthenticationError))
        ),
        "{err:?}"
    );
    // An application the card does not have.
    let err = door
        .door_check_with(
            Aid::new(0x00_12_34).unwrap(),
            1,
            &ac::door_master_key(),
            true,
            1,
            &ac::door_config(),
        )
        .unwrap_err();
    assert!(matches!(err, Refusal::ApplicationMissing(_)), "{err:?}");
    // A file that does not exist.
    let err = door
        .door_check_with(
            aid(),
            ac::DOOR_KEY_NO,
            &ac::door_master_key(),
            true,
            17,
            &DoorConfig {
                file_comm: Some(CommMode::Full),
                ..ac::door_config()
            },
        )
        .unwrap_err();
    assert!(matches!(err, Refusal::FileMissing(17)), "{err:?}");
    assert_eq!(picc(&door).state_digest(), before);
}

#[test]
fn cps3_contactless_relies_on_mifare_classic() {
    let mut door = Desfire::new(InProcessChannel::new(contactless(Profile::Cps3)));
    let err = door
        .door_check_with(
            aid(),
            ac::DOOR_KEY_NO,
            &ac::door_master_key(),
            true,
            ac::CREDENTIAL_FILE,
            &DoorConfig {
                legacy: LegacyHint::None,
                ..ac::door_config()
            },
        )
        .unwrap_err();
    assert!(matches!(err, Refusal::ReliesOnMifareClassic), "{err:?}");
    assert!(err.to_string().contains("MIFARE Classic"), "{err}");
}

#[test]
fn contact_interface_has_no_desfire_and_contactless_no_iasecc() {
    // Contact: no DESFire.
    let mut host = Desfire::new(InProcessChannel::new(
        SimCard::new(Profile::Cps4, "dr-martin").unwrap(),
    ));
    // (On the real CPS4 no application is selected on the basic channel at power-on: the
    // DESFire class gets 6D00 there, where the earlier modelled CPS4's IAS-ECC said 6E00.)
    assert!(matches!(
        host.get_version(),
        Err(DesfireError::NotDesfire(StatusWord(0x6D00)))
    ));
    // Contactless: IAS-ECC's AID is not found, DESFire's DF name is.
    let mut ch = InProcessChannel::new(contactless(Profile::Cps4));
    let iasecc = [
        0x00, 0xA4, 0x04, 0x00, 0x0D, 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01,
        0xFF, 0x00, 0x10, 0x00,
    ];
    assert_eq!(ch.transmit(&iasecc).unwrap(), [0x6A, 0x82]);
    let mut select = vec![0x00, 0xA4, 0x04, 0x00, 0x07];
    select.extend_from_slice(&cps_sim::desfire::DF_NAME);
    select.push(0x00);
    assert_eq!(ch.transmit(&select).unwrap(), [0x90, 0x00]);
    let mut door = Desfire::new(ch);
    assert!(door.get_version().unwrap().is_desfire());
}

#[test]
fn every_command_every_mode_every_key_type() {
    let mut door = cps4();
    let uid = picc(&door).uid();
    let mut total = 0;
    let mut app = 0x10_00_00;
    for (ty, mode) in COMBOS {
        for comm in [CommMode::Plain, CommMode::Mac, CommMode::Full] {
            app += 1;
            let n = exercise(&mut door, uid, ty, mode, app, comm);
            total += n;
        }
    }
    println!(
        "{total} commands over 5 key/authentication combinations x 3 modes, {} exchanges",
        door.round_trips()
    );
    // The access-control application is untouched by all this.
    assert_eq!(picc(&door).application_ids(), vec![ac::AID]);
}

#[test]
fn every_command_every_mode_every_key_type_with_native_frames() {
    // The same matrix, the client sending native frames (`CMD data`, answered `STATUS data`)
    // as most DESFire tools do over an ISO 14443-4 reader.
    let native = cps_desfire::client::ClientConfig {
        framing: cps_desfire::client::Framing::Native,
        ..Default::default()
    };
    let mut door = cps4().with_config(native);
    let uid = picc(&door).uid();
    let mut app = 0x11_00_00;
    for (ty, mode) in COMBOS {
        for comm in [CommMode::Plain, CommMode::Mac, CommMode::Full] {
            app += 1;
            exercise(&mut door, uid, ty, mode, app, comm);
        }
    }
    assert_eq!(picc(&door).application_ids(), vec![ac::AID]);
}

#[test]
fn ev2_non_first_keeps_the_transaction_identifier() {
    let mut door = cps4();
    door.select_application(aid()).unwrap();
    door.authenticate(AuthMode::Ev2First, 0, ac::app_master_key())
        .unwrap();
    door.get_file_ids().unwrap();
    let Some(cps_desfire::SecureChannel::Ev2(s)) = door.session() else {
        panic!("EV2 session expected");
    };
    let (ti, ctr) = (s.ti(), s.cmd_ctr());
    assert_eq!(ctr, 1);
    door.authenticate(AuthMode::Ev2NonFirst, 2, Key::aes(ac::WRITE_KEY))
        .unwrap();
    let Some(cps_desfire::SecureChannel::Ev2(s)) = door.session() else {
        panic!("EV2 session expected");
    };
    assert_eq!((s.ti(), s.cmd_ctr()), (ti, ctr));
    door.write_record(ac::JOURNAL_FILE, 0, b"door 12 opened..")
        .unwrap();
    door.commit_transaction().unwrap();
    assert_eq!(
        picc(&door).records(ac::AID, ac::JOURNAL_FILE).unwrap(),
        vec![b"door 12 opened..".to_vec()]
    );
}

#[test]
fn picc_level_configuration_and_format() {
    let mut door = cps4();
    door.select_application(Aid::PICC).unwrap();
    // Legacy authentication with the all-zero DES PICC master key.
    door.authenticate(AuthMode::Legacy, 0, Key::zero(KeyType::Des))
        .unwrap();
    assert_eq!(door.get_key_version(0).unwrap(), 0);
    door.authenticate(AuthMode::Iso, 0, Key::zero(KeyType::Des))
        .unwrap();
    // Random UID on, then format disabled.
    door.set_configuration(0x00, &[0x02]).unwrap();
    assert_eq!(door.get_version().unwrap().uid, [0; 7]);
    door.set_configuration(0x00, &[0x01]).unwrap();
    let before = picc(&door).state_digest();
    let err = door.format_picc().unwrap_err();
    assert_eq!(status(&err), Some(S::PermissionDenied));
    assert_eq!(picc(&door).state_digest(), before);
    door.authenticate(AuthMode::Iso, 0, Key::zero(KeyType::Des))
        .unwrap();
    door.set_configuration(0x00, &[0x00]).unwrap();
    // The PICC master key becomes AES, then the card is formatted with it.
    let aes = Key::aes([0xA5; 16]).with_version(7);
    door.change_key(&ChangeKey::new(0, aes.clone()).unwrap().at_picc_level())
        .unwrap();
    let err = door
        .authenticate(AuthMode::Iso, 0, Key::zero(KeyType::Des))
        .unwrap_err();
    assert!(
        matches!(
            err,
            DesfireError::Auth(AuthError::Refused(S::AuthenticationError))
        ),
        "{err:?}"
    );
    door.authenticate(AuthMode::Aes, 0, aes.clone()).unwrap();
    assert_eq!(door.get_key_version(0).unwrap(), 7);
    door.format_picc().unwrap();
    assert!(door.get_application_ids().unwrap().is_empty());
    assert!(picc(&door).application_ids().is_empty());
}

#[test]
fn access_rights_and_errors_change_nothing() {
    let mut door = cps4();
    let before = picc(&door).state_digest();
    door.select_application(aid()).unwrap();
    // Not authenticated: the credential needs key 1.
    let err = door.read_data(ac::CREDENTIAL_FILE, 0, 0).unwrap_err();
    assert_eq!(status(&err), Some(S::AuthenticationError), "{err:?}");
    // Authenticated with the wrong key: permission denied.
    door.authenticate(AuthMode::Ev2First, 2, Key::aes(ac::WRITE_KEY))
        .unwrap();
    let err = door.read_data(ac::CREDENTIAL_FILE, 0, 0).unwrap_err();
    assert_eq!(status(&err), Some(S::PermissionDenied), "{err:?}");
    // Wrong key value: AE, nothing learned.
    let err = door
        .authenticate(AuthMode::Ev2First, 1, Key::aes([1; 16]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            DesfireError::Auth(AuthError::WrongKey(S::AuthenticationError))
        ),
        "{err:?}"
    );
    // A key number the application does not have.
    let err = door
        .authenticate(AuthMode::Ev2First, 9, Key::aes([1; 16]))
        .unwrap_err();
    assert!(
        matches!(err, DesfireError::Auth(AuthError::Refused(S::NoSuchKey))),
        "{err:?}"
    );
    // An AES key with a 3DES authentication.
    let err = door
        .authenticate(AuthMode::Iso, 0, Key::zero(KeyType::TwoKey3Des))
        .unwrap_err();
    assert!(
        matches!(
            err,
            DesfireError::Auth(AuthError::Refused(S::AuthenticationError))
        ),
        "{err:?}"
    );
    // Out-of-range offsets and lengths.
    door.authenticate(AuthMode::Ev2First, 2, Key::aes(ac::WRITE_KEY))
        .unwrap();
    let err = door
        .write_data(ac::LAST_PASSAGE_FILE, 10, &[1; 7])
        .unwrap_err();
    assert_eq!(status(&err), Some(S::BoundaryError), "{err:?}");
    door.authenticate(AuthMode::Ev2First, 2, Key::aes(ac::WRITE_KEY))
        .unwrap();
    let err = door
        .write_record(ac::JOURNAL_FILE, 15, &[1; 2])
        .unwrap_err();
    assert_eq!(status(&err), Some(S::BoundaryError), "{err:?}");
    let err = door.read_data(ac::INFO_FILE, 48, 1).unwrap_err();
    assert_eq!(status(&err), Some(S::BoundaryError), "{err:?}");
    // Missing file and application.
    let err = door.get_file_settings(30).unwrap_err();
    assert_eq!(status(&err), Some(S::FileNotFound), "{err:?}");
    let err = door
        .select_application(Aid::new(0x0BAD00).unwrap())
        .unwrap_err();
    assert_eq!(status(&err), Some(S::ApplicationNotFound), "{err:?}");
    // Creating a file without the application master key.
    door.select_application(aid()).unwrap();
    let err = door
        .create_data_file(
            &FileSpec {
                file_no: 9,
                iso_fid: None,
                comm: CommMode::Plain,
                access: AccessRights::from_bytes([0xEE, 0xEE]),
            },
            32,
            false,
        )
        .unwrap_err();
    assert_eq!(status(&err), Some(S::AuthenticationError), "{err:?}");
    assert_eq!(picc(&door).state_digest(), before);
    // The free public file reads without authentication.
    let info = door.read_data(ac::INFO_FILE, 0, 0).unwrap();
    assert!(info.starts_with(b"CPS4 simulated card"));
}

fn ev2_host(door: &Door) -> Ev2Session {
    match door.session() {
        Some(SecureChannel::Ev2(s)) => s.clone(),
        _ => panic!("EV2 session expected"),
    }
}

/// A MACed WriteData of the last-passage file, sealed as the client would.
fn write_apdu(host: &mut Ev2Session, data: &[u8]) -> Vec<u8> {
    let header = [ac::LAST_PASSAGE_FILE, 0, 0, 0, data.len() as u8, 0, 0];
    let payload = host
        .seal_command(0x3D, &header, data, Protection::FileWrite(CommMode::Mac))
        .unwrap();
    frame::wrap_iso(0x3D, &payload).unwrap()
}

fn write_session(door: &mut Door) {
    door.select_application(aid()).unwrap();
    door.authenticate(AuthMode::Ev2First, 2, Key::aes(ac::WRITE_KEY))
        .unwrap();
}

#[test]
fn tampered_replayed_reordered_and_truncated_frames_are_refused() {
    let mut door = cps4();
    write_session(&mut door);
    door.write_data(ac::LAST_PASSAGE_FILE, 0, b"gate A")
        .unwrap();
    door.commit_transaction().unwrap();
    assert_eq!(
        &picc(&door)
            .data_file(ac::AID, ac::LAST_PASSAGE_FILE)
            .unwrap()[..6],
        b"gate A"
    );

    // Replay: the first copy is accepted, the second refused (CmdCtr moved on).
    let mut host = ev2_host(&door);
    let apdu = write_apdu(&mut host, b"gate B");
    let ch = door.channel_mut();
    let first = ch.transmit(&apdu).unwrap();
    assert_eq!(&first[first.len() - 2..], &[0x91, 0x00]);
    assert_eq!(ch.transmit(&apdu).unwrap(), [0x91, 0x1E], "replay refused");
    // The error ended the session: the staged write is not committed by anyone.
    assert_eq!(ch.transmit(&[0x90, 0xC7, 0, 0, 0]).unwrap(), [0x91, 0x00]);
    assert_eq!(
        picc(&door)
            .data_file(ac::AID, ac::LAST_PASSAGE_FILE)
            .unwrap(),
        b"gate B\0\0\0\0\0\0\0\0\0\0".to_vec(),
        "the accepted first copy was staged and is committed by the plain commit"
    );

    // Reordering: the command sealed for CmdCtr n+1 sent first.
    let mut door = cps4();
    write_session(&mut door);
    let before_reorder = picc(&door).state_digest();
    let mut host = ev2_host(&door);
    let ctr = host.cmd_ctr();
    let _c1 = write_apdu(&mut host, b"one...");
    host.set_cmd_ctr(ctr + 1);
    let c2 = write_apdu(&mut host, b"two...");
    assert_eq!(door.channel_mut().transmit(&c2).unwrap(), [0x91, 0x1E]);

    // A changed byte in the data.
    write_session(&mut door);
    let mut host = ev2_host(&door);
    let mut changed = write_apdu(&mut host, b"gate C");
    changed[12] ^= 0x01;
    assert_eq!(door.channel_mut().transmit(&changed).unwrap(), [0x91, 0x1E]);

    // Truncated inside the header: length error. Truncated in the MAC: the card waits
    // for the rest (91 AF) and the next command abandons it.
    write_session(&mut door);
    let ch = door.channel_mut();
    assert_eq!(
        ch.transmit(&[0x90, 0x3D, 0, 0, 3, ac::LAST_PASSAGE_FILE, 0, 0, 0])
            .unwrap(),
        [0x91, 0x7E]
    );
    write_session(&mut door);
    let mut host = ev2_host(&door);
    let full = write_apdu(&mut host, b"gate D");
    let lc = usize::from(full[4]);
    let mut cut = full[..5 + lc - 1].to_vec();
    cut[4] -= 1;
    cut.push(0);
    let ch = door.channel_mut();
    assert_eq!(ch.transmit(&cut).unwrap(), [0x91, 0xAF]);
    // SelectApplication (never MACed) abandons it.
    let mut select = vec![0x90, 0x5A, 0, 0, 3];
    select.extend_from_slice(&aid().to_bytes());
    select.push(0);
    assert_eq!(ch.transmit(&select).unwrap(), [0x91, 0x00]);
    assert_eq!(picc(&door).state_digest(), before_reorder);
}

/// Flips one bit of the MAC of every successful answer that carries data.
struct TamperMac(SimCard);

impl VirtualCard for TamperMac {
    fn atr(&self) -> Vec<u8> {
        self.0.atr()
    }
    fn power_on(&mut self) {
        self.0.power_on();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut r = self.0.process(apdu);
        let n = r.len();
        if n > 10 && r[n - 2..] == [0x91, 0x00] && apdu[1] == 0xBD {
            r[n - 3] ^= 0x01;
        }
        r
    }
}

#[test]
fn a_wrong_mac_from_the_card_is_refused() {
    let mut door = Desfire::new(InProcessChannel::new(TamperMac(contactless(Profile::Cps4))));
    door.select_application(aid()).unwrap();
    door.authenticate(AuthMode::Ev2First, 2, Key::aes(ac::WRITE_KEY))
        .unwrap();
    let err = door.read_data(ac::LAST_PASSAGE_FILE, 0, 0).unwrap_err();
    assert!(
        matches!(
            err,
            DesfireError::SecureMessaging(cps_desfire::SmError::MacMismatch)
        ),
        "{err:?}"
    );
    assert!(door.session().is_none(), "the client drops the session");
}
