#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a failed expectation should abort the test"
)]
//! The facade on the built-in simulator: opening, `info` on both generations and interfaces,
//! the doctor's statuses, errors of opening.

use cps::doctor::{self, Status};
use cps::iasecc::{Generation, PinStatus};
use cps::x509::{RenewalStatus, UnixTime};
use cps::{Card, CardSource, Presence, SimSpec};

fn at(y: u16, m: u8, d: u8) -> UnixTime {
    UnixTime::from_ymd(y, m, d).unwrap()
}

fn sim(profile: cps::sim::Profile, persona: &str, contactless: bool) -> CardSource {
    CardSource::Simulator(SimSpec {
        profile,
        persona: persona.into(),
        contactless,
    })
}

#[test]
fn info_on_both_generations() {
    for (profile, generation, certs) in [
        (cps::sim::Profile::Cps3, Generation::Cps3, 2),
        (cps::sim::Profile::Cps4, Generation::Cps4, 2),
    ] {
        let mut card = Card::open(&sim(profile, "pharmacien-durand", false)).unwrap();
        let info = card.info(at(2026, 3, 1)).unwrap();
        let ias = info.ias.present().unwrap();
        assert_eq!(ias.generation, generation);
        assert_eq!(info.generation(), Some(generation));
        assert!(ias.holder.ends_with("DURAND"), "{}", ias.holder);
        assert_eq!(ias.pin, PinStatus::RetriesLeft(3));
        assert_eq!(ias.certificates.len(), certs);
        assert!(ias.certificates.iter().all(|c| c.test_pki));
        assert!(matches!(info.desfire, Presence::NotChecked(_)));
    }
}

#[test]
fn renewal_follows_the_date() {
    let mut card = Card::open(&CardSource::default()).unwrap();
    let states = |card: &mut Card, when| {
        card.info(when)
            .unwrap()
            .ias
            .present()
            .unwrap()
            .certificates
            .iter()
            .map(|c| c.renewal)
            .collect::<Vec<_>>()
    };
    assert!(
        states(&mut card, at(2026, 3, 1))
            .iter()
            .all(|r| matches!(r, RenewalStatus::Valid { .. }))
    );
    assert!(
        states(&mut card, at(2028, 5, 1))
            .iter()
            .all(|r| matches!(r, RenewalStatus::RenewalDue { .. }))
    );
    assert!(
        states(&mut card, at(2028, 7, 1))
            .iter()
            .all(|r| matches!(r, RenewalStatus::Expired { .. }))
    );
}

#[test]
fn contactless_interface_hides_the_contact_applications() {
    let mut card = Card::open(&sim(cps::sim::Profile::Cps4, "dr-martin", true)).unwrap();
    assert_eq!(card.interface(), cps::transport::Interface::Contactless);
    let info = card.info(at(2026, 3, 1)).unwrap();
    assert!(matches!(info.ias, Presence::NotChecked(_)));
    assert!(matches!(info.fido2, Presence::NotChecked(_)));
    assert_eq!(info.generation(), None);
}

#[test]
fn doctor_statuses() {
    let checks = doctor::run(&CardSource::default(), at(2026, 3, 1), &mut |_| {});
    let status = |name: &str| {
        checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} missing: {checks:?}"))
            .status
    };
    // The simulator does not use PC/SC: those lines are honestly "not checked".
    assert_eq!(status("PC/SC service"), Status::NotChecked);
    assert_eq!(status("readers"), Status::NotChecked);
    assert_eq!(status("card generation"), Status::Ok);
    assert_eq!(status("holder PIN"), Status::Ok);
    assert_eq!(status("DESFire"), Status::NotChecked);
    assert!(
        checks.iter().all(|c| c.status == Status::Ok
            || c.action.is_some()
            || c.status == Status::NotChecked)
    );

    let expired = doctor::run(&CardSource::default(), at(2030, 1, 1), &mut |_| {});
    assert!(doctor::has_failure(&expired));
    let cps3 = doctor::run(
        &sim(cps::sim::Profile::Cps3, "dr-martin", false),
        at(2026, 3, 1),
        &mut |_| {},
    );
    let generation = cps3.iter().find(|c| c.name == "card generation").unwrap();
    assert_eq!(generation.status, Status::Warning);
    assert!(generation.action.is_some());

    let unknown = doctor::run(
        &sim(cps::sim::Profile::Cps4, "nobody", false),
        at(2026, 3, 1),
        &mut |_| {},
    );
    assert!(doctor::has_failure(&unknown));
}

#[test]
fn opening_errors() {
    let e = Card::open(&sim(cps::sim::Profile::Cps4, "nobody", false)).unwrap_err();
    assert!(matches!(e, cps::Error::Simulator(_)), "{e}");
    assert!(e.transport().is_none());
}

/// Counts the APDUs a channel carries.
struct Counting<C> {
    inner: C,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<C: cps::transport::CardChannel> cps::transport::CardChannel for Counting<C> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, cps::transport::TransportError> {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.transmit(command)
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), cps::transport::TransportError> {
        self.inner.reset()
    }
    fn transaction(
        &mut self,
    ) -> Result<Box<dyn cps::transport::CardChannel + '_>, cps::transport::TransportError> {
        Ok(Box::new(cps::transport::Reborrow(self)))
    }
}

/// The APDUs `cps info` costs, counted at the channel. CPS4 (T=0, short APDUs): SELECT of
/// ChipDoc on channel 1 and of the IAS DF 2, EF.IDENT 1, EF.SN 1, PIN status 1, ODF 3 + CDF
/// 3, its 2 RSA certificates (1038 and 1015 bytes) with SELECT + GET RESPONSE + ⌈size / 256⌉
/// READ BINARY 7 + 6, then the FIDO2 SELECT 2 and getInfo 2 on the basic channel (each a
/// case-4 command: `61xx` + GET RESPONSE on T=0; the applet is blank: no PIN retries asked)
/// = 28. CPS3 (no FIDO2 applet: its SELECT answers 6A82): 24, as measured on the test PKI's
/// certificates.
#[test]
fn apdus_of_info() {
    for (profile, expected) in [(cps::sim::Profile::Cps4, 28), (cps::sim::Profile::Cps3, 24)] {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let channel = Counting {
            inner: cps::transport::InProcessChannel::new(
                cps::sim::SimCard::new(profile, "dr-martin").unwrap(),
            ),
            count: count.clone(),
        };
        let spec = SimSpec {
            profile,
            ..SimSpec::default()
        };
        let mut card = Card::from_channel(Box::new(channel), cps::Origin::Simulator(spec));
        let info = card.info(at(2026, 3, 1)).unwrap();
        let apdus = count.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "{profile:?}: cps info = {apdus} APDUs (FIDO2 {})",
            info.fido2.state()
        );
        assert_eq!(apdus, expected, "{profile:?}");
    }
}

/// `Card: Send`: opened on this thread, shared behind a `Mutex`, used on a worker thread.
#[test]
fn card_is_used_from_a_worker_thread() {
    let card = Card::open(&CardSource::default()).unwrap();
    let atr = card.atr().to_vec();
    let shared = std::sync::Arc::new(std::sync::Mutex::new(card));
    let worker = {
        let shared = std::sync::Arc::clone(&shared);
        std::thread::spawn(move || {
            let mut card = shared.lock().unwrap();
            card.info(at(2026, 3, 1)).unwrap()
        })
    };
    let info = worker.join().unwrap();
    assert_eq!(info.atr, atr);
    assert_eq!(info.generation(), Some(Generation::Cps4));
}
