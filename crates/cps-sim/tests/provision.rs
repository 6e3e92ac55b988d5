//! Badge provisioning on the simulated CPS4 PICC as an establishment does it, the door check
//! at 4 exchanges, tear safety at every exchange, native DESFire frames and the PC/SC
//! reader's pseudo-APDUs (issue 15).
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "tests")]

use cps_desfire::badge::{BadgeRecord, Date, DoorProfile, EstablishmentKeys};
use cps_desfire::client::{ClientConfig, Framing};
use cps_desfire::crypto::{Key, KeyType};
use cps_desfire::provision::{
    self, DoorRefusal, Outcome, PiccKey, ProvisionError, ProvisionOptions, Step,
};
use cps_desfire::{Aid, CommMode, Desfire, Refusal};
use cps_sim::desfire::DesfireApplet;
use cps_sim::{Interface, Profile, SimCard};
use cps_transport::{CardChannel, InProcessChannel, TransportError, VirtualCard};

fn contactless(profile: Profile) -> SimCard {
    SimCard::builder()
        .profile(profile)
        .persona("dr-martin")
        .interface(Interface::Contactless)
        .build()
        .unwrap()
}

fn profile(comm: CommMode) -> DoorProfile {
    DoorProfile::parse(&format!(
        "aid = F51001\nfile = 1\nkey = 1\ncomm = {}\nsystem-id = 43485520416E6E656379\n",
        match comm {
            CommMode::Plain => "plain",
            CommMode::Mac => "mac",
            CommMode::Full => "full",
        }
    ))
    .unwrap()
}

const KEYS: &str = "app-master-key = 000102030405060708090A0B0C0D0E0F\n\
                    door-master-key = 101112131415161718191A1B1C1D1E1F\n\
                    picc-master-key = 202122232425262728292A2B2C2D2E2F\n";

fn keys() -> EstablishmentKeys {
    EstablishmentKeys::parse(KEYS).unwrap()
}

fn door_keys() -> Key {
    keys().door_master.unwrap()
}

fn record() -> BadgeRecord {
    BadgeRecord::new(
        "810001234567",
        Date::parse("2026-01-01").unwrap(),
        Date::parse("2026-12-31").unwrap(),
    )
    .unwrap()
}

fn digest(card: &SimCard) -> [u8; 32] {
    card.applet::<DesfireApplet>().unwrap().state_digest()
}

fn uid(card: &SimCard) -> [u8; 7] {
    card.applet::<DesfireApplet>().unwrap().uid()
}

fn run<C: CardChannel>(
    d: &mut Desfire<C>,
    comm: CommMode,
    options: ProvisionOptions,
) -> Result<provision::ProvisionReport, ProvisionError> {
    provision::provision(
        d,
        &profile(comm),
        &keys(),
        &record(),
        options,
        &mut |_, _| {},
    )
}

#[test]
fn provision_then_door_check_at_four_exchanges() {
    for comm in [CommMode::Plain, CommMode::Mac, CommMode::Full] {
        let card = contactless(Profile::Cps4);
        let u = uid(&card);
        let mut d = Desfire::new(InProcessChannel::new(card));
        let mut seen = Vec::new();
        let report = provision::provision(
            &mut d,
            &profile(comm),
            &keys(),
            &record(),
            ProvisionOptions::default(),
            &mut |step, outcome| seen.push((step, outcome.clone())),
        )
        .unwrap();
        assert!(report.changed);
        assert_eq!(report.uid, u);
        assert_eq!(report.picc_key, PiccKey::Delivered);
        assert_eq!(seen, report.steps, "progress reports every step");
        for step in [
            Step::CreateApplication,
            Step::SetDoorKey,
            Step::SetMasterKey,
            Step::CreateBadgeFile,
            Step::WriteBadge,
        ] {
            assert!(
                report
                    .steps
                    .iter()
                    .any(|(s, o)| *s == step && matches!(o, Outcome::Done(_))),
                "{step} done"
            );
        }
        println!("provisioning ({comm:?}): {} exchanges", report.exchanges);
        // The card as an establishment leaves it: its application, keys per card.
        let picc = d.channel().card().applet::<DesfireApplet>().unwrap();
        assert!(picc.application_ids().contains(&0xF51001));
        assert_eq!(
            picc.data_file(0xF51001, 1).unwrap(),
            record().encode().to_vec()
        );

        // The door: UID from the reader, 4 exchanges.
        let mut door = Desfire::new(d.into_channel());
        let read = provision::door_check(
            &mut door,
            &profile(comm),
            &door_keys(),
            Some(&u),
            Some(Date::parse("2026-06-15").unwrap()),
        )
        .unwrap();
        assert_eq!(read.credential.exchanges, 4, "{comm:?}");
        assert_eq!(read.record, record());
        // Without the UID: GetVersion first, 7.
        let read =
            provision::door_check(&mut door, &profile(comm), &door_keys(), None, None).unwrap();
        assert_eq!(read.credential.exchanges, 7);

        // A second run changes nothing.
        let before = digest(door.channel().card());
        let mut d = Desfire::new(door.into_channel());
        let again = run(&mut d, comm, ProvisionOptions::default()).unwrap();
        assert!(!again.changed, "{:?}", again.steps);
        assert_eq!(digest(d.channel().card()), before);
        println!("second run ({comm:?}): {} exchanges", again.exchanges);
    }
}

#[test]
fn door_refusals() {
    let card = contactless(Profile::Cps4);
    let u = uid(&card);
    let mut d = Desfire::new(InProcessChannel::new(card));
    run(&mut d, CommMode::Full, ProvisionOptions::default()).unwrap();
    // Outside the validity.
    let err = provision::door_check(
        &mut d,
        &profile(CommMode::Full),
        &door_keys(),
        Some(&u),
        Some(Date::parse("2027-01-01").unwrap()),
    )
    .unwrap_err();
    assert!(matches!(err, DoorRefusal::OutsideValidity { .. }), "{err}");
    // Another establishment's door key: the authentication fails, message said once.
    let err = provision::door_check(
        &mut d,
        &profile(CommMode::Full),
        &Key::aes([0x77; 16]),
        Some(&u),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, DoorRefusal::Card(Refusal::AuthenticationFailed(_))),
        "{err}"
    );
    let text = cps_testkit::error_chain(&err);
    assert_eq!(text.matches("authentication failed").count(), 1, "{text}");
    assert!(text.contains("AUTHENTICATION_ERROR"), "{text}");
    // The wrong UID (another card's): diversified key differs.
    let err = provision::door_check(
        &mut d,
        &profile(CommMode::Full),
        &door_keys(),
        Some(&[0x04, 1, 2, 3, 4, 5, 6]),
        None,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        DoorRefusal::Card(Refusal::AuthenticationFailed(_))
    ));
    // A card without the application.
    let mut blank = Desfire::new(InProcessChannel::new(contactless(Profile::Cps4)));
    let err = provision::door_check(
        &mut blank,
        &profile(CommMode::Full),
        &door_keys(),
        None,
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, DoorRefusal::Card(Refusal::ApplicationMissing(_))),
        "{err}"
    );
}

#[test]
fn dry_run_changes_nothing_and_says_what_it_would_do() {
    let card = contactless(Profile::Cps4);
    let before = digest(&card);
    let mut d = Desfire::new(InProcessChannel::new(card));
    let options = ProvisionOptions {
        dry_run: true,
        change_picc_key: true,
    };
    let report = run(&mut d, CommMode::Mac, options).unwrap();
    assert!(!report.changed);
    assert_eq!(digest(d.channel().card()), before);
    let would: Vec<Step> = report
        .steps
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::WouldDo(_)))
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(
        would,
        [
            Step::CreateApplication,
            Step::SetDoorKey,
            Step::SetMasterKey,
            Step::CreateBadgeFile,
            Step::WriteBadge,
            Step::Verify,
            Step::ChangePiccKey
        ]
    );
    // Provisioned, then a dry run with another validity: only the record would change.
    run(&mut d, CommMode::Mac, ProvisionOptions::default()).unwrap();
    let before = digest(d.channel().card());
    let other = BadgeRecord::new(
        "810001234567",
        Date::parse("2026-01-01").unwrap(),
        Date::parse("2027-06-30").unwrap(),
    )
    .unwrap();
    let report = provision::provision(
        &mut d,
        &profile(CommMode::Mac),
        &keys(),
        &other,
        ProvisionOptions {
            dry_run: true,
            change_picc_key: false,
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(digest(d.channel().card()), before);
    let would: Vec<Step> = report
        .steps
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::WouldDo(_)))
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(would, [Step::WriteBadge]);
}

#[test]
fn picc_master_key_change_and_the_establishments_key_afterwards() {
    let card = contactless(Profile::Cps4);
    let u = uid(&card);
    let mut d = Desfire::new(InProcessChannel::new(card));
    let options = ProvisionOptions {
        change_picc_key: true,
        dry_run: false,
    };
    let report = run(&mut d, CommMode::Full, options).unwrap();
    assert_eq!(report.picc_key, PiccKey::Establishment);
    println!(
        "provisioning with the PICC key change: {} exchanges",
        report.exchanges
    );
    // The delivered key no longer opens the card; the establishment's does.
    d.select_application(Aid::PICC).unwrap();
    assert!(provision::authenticate(&mut d, 0, &Key::zero(KeyType::Des)).is_err());
    let picc_key = profile(CommMode::Full)
        .picc_key(&keys().picc_master.unwrap(), &u)
        .unwrap();
    provision::authenticate(&mut d, 0, &picc_key).unwrap();
    // A second run authenticates with the establishment's PICC key and changes nothing.
    let again = run(&mut d, CommMode::Full, options).unwrap();
    assert!(!again.changed);
    assert_eq!(again.picc_key, PiccKey::Establishment);
    // Without the PICC master key in the key file: refused, typed.
    let mut no_picc = keys();
    no_picc.picc_master = None;
    let err = provision::provision(
        &mut d,
        &profile(CommMode::Full),
        &no_picc,
        &record(),
        ProvisionOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, ProvisionError::PiccKeyUnknown), "{err}");
}

#[test]
fn foreign_application_and_file_are_not_overwritten() {
    let card = contactless(Profile::Cps4);
    let mut d = Desfire::new(InProcessChannel::new(card));
    run(&mut d, CommMode::Mac, ProvisionOptions::default()).unwrap();
    let before = digest(d.channel().card());
    // Another establishment's master keys at the same AID.
    let other = EstablishmentKeys::parse(
        "app-master-key = F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF\ndoor-master-key = E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF\n",
    )
    .unwrap();
    let err = provision::provision(
        &mut d,
        &profile(CommMode::Mac),
        &other,
        &record(),
        ProvisionOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, ProvisionError::ApplicationKeyUnknown(_)),
        "{err}"
    );
    // The same keys, another key version: refused before any authentication.
    let mut v2 = keys();
    v2.key_version = 2;
    let err = provision::provision(
        &mut d,
        &profile(CommMode::Mac),
        &v2,
        &record(),
        ProvisionOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, ProvisionError::ForeignApplication { version: 1, .. }),
        "{err}"
    );
    // The profile says Full, the file on the card is MAC: refused.
    let err = run(&mut d, CommMode::Full, ProvisionOptions::default()).unwrap_err();
    assert!(matches!(err, ProvisionError::FileMismatch { .. }), "{err}");
    assert_eq!(digest(d.channel().card()), before);
}

/// A channel whose card loses power at the `cut`-th exchange: `deliver` says whether that
/// command reached the card (its answer is lost) or not (as in cps-update's tests).
struct Tear {
    inner: InProcessChannel<SimCard>,
    cut: usize,
    count: usize,
    deliver: bool,
}

impl CardChannel for Tear {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.count += 1;
        if self.count == self.cut {
            if self.deliver {
                let _ = self.inner.transmit(command);
            }
            self.inner.card_mut().power_off();
        }
        if self.count >= self.cut {
            return Err(TransportError::CardRemoved);
        }
        self.inner.transmit(command)
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.inner.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(self))
    }
}

#[test]
fn card_pulled_at_every_exchange_keeps_the_old_state_or_a_state_the_next_run_completes() {
    for change_picc_key in [false, true] {
        let options = ProvisionOptions {
            change_picc_key,
            dry_run: false,
        };
        // The reference: an untorn run, its exchange count and final state.
        let mut d = Desfire::new(InProcessChannel::new(contactless(Profile::Cps4)));
        let n = run(&mut d, CommMode::Full, options).unwrap().exchanges as usize;
        let done = digest(d.channel().card());
        let mut old = 0;
        let mut resumed = 0;
        for deliver in [false, true] {
            for cut in 1..=n {
                let card = contactless(Profile::Cps4);
                let initial = digest(&card);
                let mut d = Desfire::new(Tear {
                    inner: InProcessChannel::new(card),
                    cut,
                    count: 0,
                    deliver,
                });
                let err = run(&mut d, CommMode::Full, options).unwrap_err();
                assert!(
                    err.to_string().contains("removed") || err.to_string().contains("card"),
                    "cut {cut}: {err}"
                );
                let mut card = d.into_channel().inner.into_card();
                card.power_on();
                if digest(&card) == initial {
                    old += 1;
                } else {
                    resumed += 1;
                }
                // Whatever the card holds now, a second run completes it, to the very state
                // an untorn run leaves.
                let mut d = Desfire::new(InProcessChannel::new(card));
                let report = run(&mut d, CommMode::Full, options)
                    .unwrap_or_else(|e| panic!("cut {cut} deliver {deliver}: {e}"));
                assert_eq!(
                    digest(d.channel().card()),
                    done,
                    "cut {cut} deliver {deliver}: {:?}",
                    report.steps
                );
                let u = uid(d.channel().card());
                let read = provision::door_check(
                    &mut d,
                    &profile(CommMode::Full),
                    &door_keys(),
                    Some(&u),
                    None,
                )
                .unwrap();
                assert_eq!(read.record, record());
            }
        }
        println!(
            "tear points (PICC key change {change_picc_key}): {n} exchanges × 2 = {} cuts, {old} left the old state, {resumed} a state the next run completed",
            2 * n
        );
        assert!(old > 0 && resumed > 0);
    }
}

#[test]
fn provisioning_and_door_check_with_native_frames() {
    let card = contactless(Profile::Cps4);
    let u = uid(&card);
    let native = ClientConfig {
        framing: Framing::Native,
        ..ClientConfig::default()
    };
    let mut d = Desfire::new(InProcessChannel::new(card)).with_config(native.clone());
    let report = run(&mut d, CommMode::Full, ProvisionOptions::default()).unwrap();
    assert!(report.changed);
    let mut door = Desfire::new(d.into_channel()).with_config(native);
    let read = provision::door_check(
        &mut door,
        &profile(CommMode::Full),
        &door_keys(),
        Some(&u),
        None,
    )
    .unwrap();
    assert_eq!(read.credential.exchanges, 4);
    assert_eq!(read.record, record());
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn native_frames_and_their_length_rules() {
    let mut card = contactless(Profile::Cps4);
    card.power_on();
    let u = uid(&card);
    // GetVersion native, 1 byte: 7 + 7 + 14 bytes with AF, AF, 00 first.
    let r = card.process(&h("60"));
    assert_eq!(r, h("AF 04 01 01 33 00 1A 05"));
    let r = card.process(&h("AF"));
    assert_eq!(r[0], 0xAF);
    assert_eq!(r.len(), 8);
    let r = card.process(&h("AF"));
    assert_eq!(r[0], 0x00);
    assert_eq!(&r[1..8], &u);
    // Fetching an answer frame is `AF` alone: `AF 00` is a length error (and ends the chain).
    assert_eq!(card.process(&h("60"))[0], 0xAF);
    assert_eq!(card.process(&h("AF 00")), [0x7E]);
    assert_eq!(card.process(&h("AF")), [0x1C]);
    // SelectApplication native: status alone.
    assert_eq!(card.process(&h("5A 43 50 53")), [0x00]);
    assert_eq!(card.process(&h("5A 00 00 00")), [0x00]);
    // Unknown application: A0.
    assert_eq!(card.process(&h("5A 01 02 03")), [0xA0]);
    // Length rules, the same natively and ISO-wrapped: 7E LENGTH_ERROR.
    for (native, wrapped) in [
        ("60 00", "90 60 00 00 01 00 00"),
        ("6A 00", "90 6A 00 00 01 00 00"),
        ("6E 00 00", "90 6E 00 00 02 00 00 00"),
        ("45 00", "90 45 00 00 01 00 00"),
        ("5A 00 00", "90 5A 00 00 02 00 00 00"),
        ("5A 00 00 00 00", "90 5A 00 00 04 00 00 00 00 00"),
        ("64", "90 64 00 00 00"),
        ("64 00 00", "90 64 00 00 02 00 00 00"),
        ("1A", "90 1A 00 00 00"),
        ("1A 00 00", "90 1A 00 00 02 00 00 00"),
        ("AA 00 00", "90 AA 00 00 02 00 00 00"),
        ("71 00", "90 71 00 00 01 00 00"),
        ("CA 01 02", "90 CA 00 00 02 01 02 00"),
    ] {
        assert_eq!(card.process(&h(native)), [0x7E], "native {native}");
        assert_eq!(card.process(&h(wrapped)), h("91 7E"), "wrapped {wrapped}");
    }
    // The same commands at their length pass.
    assert_eq!(card.process(&h("6A"))[0], 0x00);
    // (the CPS4 carries the issuer's access-control application 535043, "CPS")
    assert_eq!(card.process(&h("90 6A 00 00 00")), h("43 50 53 91 00"));
    assert_eq!(card.process(&h("64 00")), [0x00, 0x00]);
    // PICC authentication with the delivered key starts natively too (AF + 8 bytes).
    let r = card.process(&h("1A 00"));
    assert_eq!((r[0], r.len()), (0xAF, 9));
    // An unknown native code: 1C; AF with nothing under way: 1C.
    assert_eq!(card.process(&h("42")), [0x1C]);
    assert_eq!(card.process(&h("AF")), [0x1C]);
    // ISO 7816-4 class 00 still reaches the ISO side: SELECT of the PICC DF name.
    assert_eq!(
        card.process(&h("00 A4 04 00 07 D2 76 00 00 85 01 00")),
        [0x90, 0x00]
    );
}

#[test]
fn reader_pseudo_apdus_on_the_contactless_cards() {
    let mut card = contactless(Profile::Cps4);
    card.power_on();
    let u = uid(&card);
    let with = |data: &[u8], sw: &str| [data, &h(sw)].concat();
    // PC/SC Part 3 §3.2.2.1.3 GET DATA.
    assert_eq!(card.process(&h("FF CA 00 00 00")), with(&u, "90 00"));
    assert_eq!(card.process(&h("FF CA 00 00 07")), with(&u, "90 00"));
    assert_eq!(card.process(&h("FF CA 00 00 04")), h("6C 07"));
    assert_eq!(card.process(&h("FF CA 00 00 0A")), with(&u, "62 82"));
    // Historical bytes of the ATS: 80 (DESFire; ATR 3B 81 80 01 80 80).
    assert_eq!(card.process(&h("FF CA 01 00 00")), h("80 90 00"));
    for bad in ["FF CA 02 00 00", "FF CA 00 01 00", "FF CA 01 01 00"] {
        assert_eq!(card.process(&h(bad)), h("6A 81"), "{bad}");
    }
    assert_eq!(card.process(&h("FF CA 00 00 01 00 00")), h("67 00"));
    assert_eq!(card.process(&h("FF B0 00 00 10")), h("6D 00"));
    // The reader's commands never reach the card: its statistics do not count them.
    assert_eq!(card.stats().apdus, 0);

    // Random-UID PICC: 4 bytes starting with 08, new at each activation.
    let picc = DesfireApplet::cps4(&cps_sim::persona("dr-martin").unwrap()).with_random_uid(true);
    let mut random = SimCard::builder()
        .profile(Profile::Cps4)
        .persona("dr-martin")
        .interface(Interface::Contactless)
        .desfire(picc)
        .build()
        .unwrap();
    random.power_on();
    let first = random.process(&h("FF CA 00 00 00"));
    assert_eq!((first.len(), first[0]), (6, 0x08));

    // CPS3 contactless: a UID (modelled, 4 bytes) and the CPxCL historical bytes.
    let mut cps3 = contactless(Profile::Cps3);
    cps3.power_on();
    let r = cps3.process(&h("FF CA 00 00 00"));
    assert_eq!(r.len(), 6);
    assert_eq!(&r[4..], [0x90, 0x00]);
    assert_ne!(r[0], 0x08);
    let atr = cps3.atr();
    let hist = cps_transport::Atr::new(&atr).historical_bytes().to_vec();
    assert_eq!(cps3.process(&h("FF CA 01 00 00")), with(&hist, "90 00"));
    assert_eq!(cps3.process(&h("FF CA 03 00 00")), h("6A 81"));
    // The contact interface has no reader pseudo-APDU: FF is a class the card refuses.
    let mut contact = SimCard::builder()
        .profile(Profile::Cps4)
        .persona("dr-martin")
        .build()
        .unwrap();
    contact.power_on();
    assert_eq!(contact.process(&h("FF CA 00 00 00")), h("6E 00"));
}
