//! The DESFire command matrix shared by the in-process and the pcscd tests: every command of
//! cps-desfire against the simulated PICC, for one key type, authentication and
//! communication mode.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

use cps_desfire::auth::AuthError;
use cps_desfire::commands::{
    Access, AccessRights, ApplicationSpec, ChangeKey, FileKind, FileSpec, FileType, ValueFileSpec,
};
use cps_desfire::crypto::{Key, KeyType};
use cps_desfire::frame::DesfireStatus as S;
use cps_desfire::session::CommMode;
use cps_desfire::{Aid, AuthMode, Desfire, DesfireError};
use cps_transport::CardChannel;

/// The DESFire status of a refusal.
pub fn status(e: &DesfireError) -> Option<S> {
    match e {
        DesfireError::Status { status, .. } => Some(*status),
        DesfireError::Auth(AuthError::Refused(s) | AuthError::WrongKey(s)) => Some(*s),
        _ => None,
    }
}

/// The five key type / authentication combinations.
pub const COMBOS: [(KeyType, AuthMode); 5] = [
    (KeyType::TwoKey3Des, AuthMode::Legacy),
    (KeyType::TwoKey3Des, AuthMode::Iso),
    (KeyType::ThreeKey3Des, AuthMode::Iso),
    (KeyType::Aes128, AuthMode::Aes),
    (KeyType::Aes128, AuthMode::Ev2First),
];

/// Every command of the issue, in every communication mode, for one key type and one
/// authentication mode; returns the number of commands run.
pub fn exercise<C: CardChannel>(
    door: &mut Desfire<C>,
    uid: [u8; 7],
    key_type: KeyType,
    mode: AuthMode,
    app: u32,
    comm: CommMode,
) -> u32 {
    let mut n = 0u32;
    let a = Aid::new(app).unwrap();
    // PICC level: the all-zero DES master key of the CPS4.
    door.select_application(Aid::PICC).unwrap();
    door.authenticate(AuthMode::Iso, 0, Key::zero(KeyType::Des))
        .unwrap();
    let free_before = door.get_free_memory().unwrap();
    door.create_application(&ApplicationSpec {
        aid: a,
        key_settings: 0x0B, // change key 0; configuration changeable; listing needs key 0
        key_count: 4,
        key_type,
        iso: None,
    })
    .unwrap();
    assert!(door.get_application_ids().unwrap().contains(&a));
    assert!(door.get_free_memory().unwrap() < free_before);
    n += 5;

    door.select_application(a).unwrap();
    let zero = Key::zero(key_type);
    door.authenticate(mode, 0, zero.clone()).unwrap();
    let ks = door.get_key_settings().unwrap();
    assert_eq!(ks.key_count(), 4);
    assert_eq!(
        ks.key_type().map(|t| t.crypto_bits()),
        Some(key_type.crypto_bits())
    );
    n += 3;

    // New keys: key 1 (another key: XOR with the old one) then key 0 (the session's).
    let fresh = |seed: u8| {
        let bytes: Vec<u8> = (0..key_type.key_len() as u8)
            .map(|i| i.wrapping_mul(29) ^ seed)
            .collect();
        Key::new(key_type, &bytes).unwrap().with_version(seed)
    };
    let k1 = fresh(0x11);
    let k0 = fresh(0x5A);
    door.change_key(&ChangeKey::new(1, k1.clone()).unwrap().old_key(zero.clone()))
        .unwrap();
    assert_eq!(door.get_key_version(1).unwrap(), k1.version());
    door.change_key(&ChangeKey::new(0, k0.clone()).unwrap())
        .unwrap();
    assert!(
        door.session().is_none(),
        "changing the session key ends the session"
    );
    door.authenticate(mode, 0, k0.clone()).unwrap();
    n += 5;

    // Files of every type in the communication mode under test; key 1 reads, key 0 writes.
    let rights = AccessRights {
        read: Access::Key(1),
        write: Access::Key(0),
        read_write: Access::Key(0),
        change: Access::Key(0),
    };
    let spec = |file_no| FileSpec {
        file_no,
        iso_fid: None,
        comm,
        access: rights,
    };
    door.create_data_file(&spec(1), 200, false).unwrap();
    door.create_data_file(&spec(2), 64, true).unwrap();
    door.create_value_file(
        &spec(3),
        &ValueFileSpec {
            lower: -100,
            upper: 1000,
            value: 10,
            limited_credit: 1,
        },
    )
    .unwrap();
    door.create_record_file(&spec(4), 12, 5, false).unwrap();
    door.create_record_file(&spec(5), 12, 3, true).unwrap();
    assert_eq!(door.get_file_ids().unwrap(), vec![1, 2, 3, 4, 5]);
    let fs = door.get_file_settings(3).unwrap();
    assert_eq!(fs.file_type, FileType::Value);
    assert_eq!(fs.comm_mode(), comm);
    n += 7;

    // Standard file: written in several frames, read back in several frames.
    let long: Vec<u8> = (0..150u8).collect();
    door.write_data(1, 20, &long).unwrap();
    door.authenticate(mode, 1, k1.clone()).unwrap();
    let read = door.read_data(1, 20, 150).unwrap();
    assert_eq!(&read[..], &long[..]);
    let whole = door.read_data(1, 0, 0).unwrap();
    assert_eq!(whole.len(), 200);
    assert_eq!(&whole[20..170], &long[..]);
    n += 4;

    // Backup file: invisible until committed; aborted writes are lost.
    door.authenticate(mode, 0, k0.clone()).unwrap();
    door.write_data(2, 0, b"first").unwrap();
    door.abort_transaction().unwrap();
    door.write_data(2, 0, b"second").unwrap();
    door.authenticate(mode, 1, k1.clone()).unwrap();
    assert_eq!(&door.read_data(2, 0, 6).unwrap()[..], &[0; 6]);
    door.authenticate(mode, 0, k0.clone()).unwrap();
    door.write_data(2, 0, b"second").unwrap();
    door.commit_transaction().unwrap();
    door.authenticate(mode, 1, k1.clone()).unwrap();
    assert_eq!(&door.read_data(2, 0, 6).unwrap()[..], b"second");
    n += 10;

    // Value file: credit needs read-write (key 0), debit any right, limited credit only up
    // to the last transaction's debits.
    assert_eq!(door.get_value(3).unwrap(), 10);
    door.authenticate(mode, 0, k0.clone()).unwrap();
    door.credit(3, 90).unwrap();
    door.debit(3, 30).unwrap();
    assert_eq!(door.get_value(3).unwrap(), 10, "not committed yet");
    door.commit_transaction().unwrap();
    assert_eq!(door.get_value(3).unwrap(), 70);
    let err = door.limited_credit(3, 31).unwrap_err();
    assert_eq!(status(&err), Some(S::BoundaryError));
    door.authenticate(mode, 0, k0.clone()).unwrap();
    door.limited_credit(3, 30).unwrap();
    door.commit_transaction().unwrap();
    assert_eq!(door.get_value(3).unwrap(), 100);
    let err = door.debit(3, 201).unwrap_err();
    assert_eq!(
        status(&err),
        Some(S::BoundaryError),
        "below the lower limit"
    );
    door.authenticate(mode, 0, k0.clone()).unwrap();
    let err = door.credit(3, 901).unwrap_err();
    assert_eq!(
        status(&err),
        Some(S::BoundaryError),
        "above the upper limit"
    );
    n += 15;

    // Linear and cyclic record files.
    door.authenticate(mode, 0, k0.clone()).unwrap();
    for i in 0..3u8 {
        door.write_record(4, 0, &[i; 12]).unwrap();
        door.commit_transaction().unwrap();
        door.write_record(5, 2, &[i; 4]).unwrap();
        door.write_record(5, 6, &[0xEE; 2]).unwrap();
        door.commit_transaction().unwrap();
    }
    let recs = door.read_records(4, 0, 0).unwrap();
    assert_eq!(recs.len(), 36);
    assert_eq!(&recs[..12], &[0; 12], "oldest first");
    assert_eq!(
        &door.read_records(4, 0, 1).unwrap()[..],
        &[2; 12],
        "newest is record 0"
    );
    let cyc = door.read_records(5, 0, 0).unwrap();
    assert_eq!(cyc.len(), 24, "a cyclic file of 3 keeps 2 records");
    assert_eq!(&cyc[12..], &[0, 0, 2, 2, 2, 2, 0xEE, 0xEE, 0, 0, 0, 0]);
    if let FileKind::Record {
        current_records, ..
    } = door.get_file_settings(4).unwrap().kind
    {
        assert_eq!(current_records, 3);
    } else {
        panic!("record settings");
    }
    door.clear_record_file(4).unwrap();
    door.abort_transaction().unwrap();
    assert_eq!(
        door.read_records(4, 0, 0).unwrap().len(),
        36,
        "clear aborted"
    );
    door.clear_record_file(4).unwrap();
    door.commit_transaction().unwrap();
    let err = door.read_records(4, 0, 0).unwrap_err();
    assert_eq!(status(&err), Some(S::BoundaryError), "no record left");
    n += 25;

    // Settings changes, the file's new mode, deletion.
    door.authenticate(mode, 0, k0.clone()).unwrap();
    door.change_file_settings(
        1,
        CommMode::Full,
        AccessRights {
            read: Access::Free,
            ..rights
        },
        true,
    )
    .unwrap();
    door.set_file_comm_mode(1, CommMode::Full);
    assert_eq!(door.get_file_settings(1).unwrap().access.read, Access::Free);
    door.change_key_settings(0x0F).unwrap();
    assert_eq!(door.get_key_settings().unwrap().ks1, 0x0F);
    door.delete_file(5).unwrap();
    assert_eq!(door.get_file_ids().unwrap(), vec![1, 2, 3, 4]);
    let got_uid = door.get_card_uid().unwrap();
    assert_eq!(got_uid, uid);
    n += 8;

    // Back at PICC level: delete the application.
    door.select_application(Aid::PICC).unwrap();
    door.authenticate(AuthMode::Iso, 0, Key::zero(KeyType::Des))
        .unwrap();
    door.delete_application(a).unwrap();
    assert!(!door.get_application_ids().unwrap().contains(&a));
    n += 4;
    n
}
