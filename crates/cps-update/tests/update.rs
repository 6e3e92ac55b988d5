//! Remote update end to end, in process: the reference issuer, the relay and the simulated
//! card. Data update and certificate renewal on CPS4 and CPS3 (RSA-2048 keys generated on the card); a power
//! cut at every APDU of a full update (before and after the card processed it), then resume;
//! every byte of every relayed command and answer changed in turn; replay; reordering;
//! cancellation.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests: a failed expectation is a test failure"
)]

use std::sync::atomic::{AtomicBool, Ordering};

use cps_iasecc::PracticeSituation;
use cps_sim::{Profile, SimCard};
use cps_transport::{CardChannel, InProcessChannel, TransportError, VirtualCard};
use cps_update::issuer::{DAM_PATH, Issuer, test_record};
use cps_update::relay::{Outcome, UpdateError, update};
use cps_update::scp::TEST_MASTER_KEY;
use cps_x509::test_pki;

static NO: AtomicBool = AtomicBool::new(false);

fn refs(p: Profile) -> [(u8, u16); 2] {
    match p {
        Profile::Cps3 => [(0x82, 0xC001), (0x81, 0xC002)],
        _ => [(0x20, 0xC001), (0x81, 0xC002)],
    }
}

/// What the test compares: sequence, EF.DAM, the renewable keys and their certificate files.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    sequence: u32,
    staged: bool,
    dam: Vec<u8>,
    keys: Vec<Vec<u8>>,
    certs: Vec<Vec<u8>>,
}

fn state(card: &SimCard, p: Profile) -> State {
    State {
        sequence: card.update_sequence(),
        staged: card.update_staged(),
        dam: card.file(&DAM_PATH).unwrap().to_vec(),
        keys: refs(p)
            .iter()
            .map(|(r, _)| card.public_key(*r).unwrap())
            .collect(),
        certs: refs(p)
            .iter()
            .map(|(_, f)| card.file(&[0x3F00, 0x0001, *f]).unwrap().to_vec())
            .collect(),
    }
}

/// A card, an issuer that knows it, and a pending update: a new practice city, and (when
/// `renew`) both certificates renewed.
fn setup(p: Profile, renew: bool) -> (SimCard, Issuer, Vec<u8>) {
    let card = SimCard::new(p, "dr-martin").unwrap();
    let serial = card.serial();
    let situations = PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap()).unwrap();
    let mut issuer = Issuer::new(TEST_MASTER_KEY).unwrap();
    issuer.register(test_record(p, "dr-martin", serial.clone(), situations.clone()).unwrap());
    let mut moved = situations;
    moved[0].city = Some("LYON 3E ARRONDISSEMENT".into());
    moved[0].structure_name = Some("CABINET DES BROTTEAUX".into());
    issuer.update_situations(&serial, moved).unwrap();
    if renew {
        issuer
            .schedule_renewal(&serial, cps_x509::UnixTime::from_secs(1_861_920_000))
            .unwrap();
    }
    (card, issuer, serial)
}

/// Checks the new state: the new EF.DAM, new keys, certificates for them chaining to the
/// test root, and the card signs with the new key through cps-iasecc.
fn check_updated(before: &State, card: SimCard, p: Profile) {
    let after = state(&card, p);
    assert_eq!(after.sequence, before.sequence + 1);
    assert!(!after.staged);
    let situations = PracticeSituation::parse_all(&after.dam).unwrap();
    assert_eq!(
        situations[0].city.as_deref(),
        Some("LYON 3E ARRONDISSEMENT")
    );
    if after.keys != before.keys {
        let root = test_pki::root_certificate().unwrap();
        let ca = test_pki::intermediate_certificate().unwrap();
        for (i, cert) in after.certs.iter().enumerate() {
            assert_ne!(after.keys[i], before.keys[i], "old key retired");
            let c = cps_x509::CpsCertificate::from_der(cert).unwrap();
            // Both generations renew RSA-2048 keys (the CPS4 has no other kind).
            assert_eq!(
                c.public_key().algorithm(),
                cps_x509::KeyAlgorithm::Rsa { bits: 2048 },
                "{p:?}"
            );
            assert!(
                c.public_key().spki_der().ends_with(&after.keys[i]),
                "certificate {i} is for the new key"
            );
            cps_x509::verify_chain(
                &c,
                std::slice::from_ref(&ca),
                std::slice::from_ref(&root),
                cps_x509::UnixTime::from_secs(1_862_000_000),
            )
            .unwrap();
        }
        // The IAS-ECC application signs with the new key, verified with the new certificate.
        let mut cps = cps_iasecc::CpsCard::open(InProcessChannel::new(card)).unwrap();
        cps.verify_pin(&cps_iasecc::Pin::new("1234").unwrap())
            .unwrap();
        let digest = cps_iasecc::Digest::sha256_of(b"feuille de soins apres renouvellement");
        let sig = cps.sign(cps_iasecc::KeyRole::Signature, &digest).unwrap();
        let key = cps.resolve_key(cps_iasecc::KeyRole::Signature).unwrap();
        let cert = cps.certificate_for(&key).unwrap().unwrap();
        sig.verify(cert.parsed.as_ref().unwrap(), &digest).unwrap();
    } else {
        assert_eq!(after.certs, before.certs);
    }
}

#[test]
fn data_update_and_renewal_cps4() {
    let (card, mut issuer, serial) = setup(Profile::Cps4, true);
    let before = state(&card, Profile::Cps4);
    let mut ch = InProcessChannel::new(card);
    let mut steps = Vec::new();
    let outcome = update(&mut ch, &mut issuer, &mut |p| steps.push(p.clone()), &NO).unwrap();
    assert_eq!(
        outcome,
        Outcome::Updated {
            sequence: 1,
            steps: 5
        }
    );
    println!("CPS4 data + renewal: {} APDUs relayed", steps.len() + 1);
    assert!(steps.windows(2).all(|w| w[0].done <= w[1].done));
    assert_eq!(issuer.record(&serial).unwrap().sequence, 1);
    check_updated(&before, ch.into_card(), Profile::Cps4);
}

#[test]
fn nothing_pending_is_up_to_date_and_a_second_update_follows() {
    let (card, mut issuer, serial) = setup(Profile::Cps4, false);
    let mut ch = InProcessChannel::new(card);
    assert!(matches!(
        update(&mut ch, &mut issuer, &mut |_| {}, &NO).unwrap(),
        Outcome::Updated {
            sequence: 1,
            steps: 1
        }
    ));
    assert_eq!(
        update(&mut ch, &mut issuer, &mut |_| {}, &NO).unwrap(),
        Outcome::UpToDate { sequence: 1 }
    );
    let mut again = issuer.record(&serial).unwrap().situations.clone();
    again[0].city = Some("VILLEURBANNE".into());
    issuer.update_situations(&serial, again).unwrap();
    assert!(matches!(
        update(&mut ch, &mut issuer, &mut |_| {}, &NO).unwrap(),
        Outcome::Updated { sequence: 2, .. }
    ));
    let dam = ch.card().file(&DAM_PATH).unwrap().to_vec();
    assert_eq!(
        PracticeSituation::parse_all(&dam).unwrap()[0]
            .city
            .as_deref(),
        Some("VILLEURBANNE")
    );
}

#[test]
fn data_update_and_renewal_cps3_rsa() {
    let (card, mut issuer, _) = setup(Profile::Cps3, true);
    let before = state(&card, Profile::Cps3);
    let mut ch = InProcessChannel::new(card);
    let outcome = update(&mut ch, &mut issuer, &mut |_| {}, &NO).unwrap();
    assert_eq!(
        outcome,
        Outcome::Updated {
            sequence: 1,
            steps: 5
        }
    );
    check_updated(&before, ch.into_card(), Profile::Cps3);
}

/// What a meddling relay does with each command on its way to the card.
trait Meddle {
    fn exchange(
        &mut self,
        card: &mut InProcessChannel<SimCard>,
        command: &[u8],
    ) -> Result<Vec<u8>, TransportError>;
}

/// A channel to the simulated card through a meddler `m`.
struct Relay<M> {
    card: InProcessChannel<SimCard>,
    m: M,
}

impl<M> Relay<M> {
    fn new(card: SimCard, m: M) -> Self {
        Relay {
            card: InProcessChannel::new(card),
            m,
        }
    }
}

impl<M: Meddle> CardChannel for Relay<M> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.m.exchange(&mut self.card, command)
    }
    fn atr(&self) -> &[u8] {
        self.card.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.card.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(self))
    }
}

/// The card loses power at the `cut`-th APDU: `deliver` says whether that APDU reached the
/// card (the answer is lost) or not.
struct Tear {
    cut: usize,
    count: usize,
    deliver: bool,
}

impl Meddle for Tear {
    fn exchange(
        &mut self,
        card: &mut InProcessChannel<SimCard>,
        command: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        self.count += 1;
        if self.count == self.cut {
            if self.deliver {
                let _ = card.transmit(command);
            }
            card.card_mut().power_off();
        }
        if self.count >= self.cut {
            return Err(TransportError::CardRemoved);
        }
        card.transmit(command)
    }
}

#[test]
fn power_cut_at_every_apdu_then_resume() {
    // How many APDUs a whole update takes (each GET RESPONSE of the T=0 card included), and
    // which one is the COMMIT.
    let (card, mut issuer, _) = setup(Profile::Cps4, true);
    let (log, _) = record_update(card, &mut issuer);
    let n = log.len();
    let commit = 1 + log
        .iter()
        .position(|(c, _)| c.get(1) == Some(&cps_update::script::ins::COMMIT))
        .unwrap();
    let mut tried = 0;
    for deliver in [false, true] {
        for cut in 1..=n {
            let (card, mut issuer, _) = setup(Profile::Cps4, true);
            let before = state(&card, Profile::Cps4);
            let mut tear = Relay::new(
                card,
                Tear {
                    cut,
                    count: 0,
                    deliver,
                },
            );
            let err = update(&mut tear, &mut issuer, &mut |_| {}, &NO).unwrap_err();
            assert!(matches!(err, UpdateError::Transport(_)), "{err}");
            let mut card = tear.card.into_card();
            card.power_on();
            let now = state(&card, Profile::Cps4);
            // Old or new, never mixed.
            if now.sequence == 0 {
                assert_eq!(
                    (&now.dam, &now.keys, &now.certs),
                    (&before.dam, &before.keys, &before.certs),
                    "cut {cut} deliver {deliver}"
                );
            } else {
                // The delivered COMMIT, or the GET RESPONSE fetching its answer.
                assert!(
                    (deliver && cut == commit) || cut > commit,
                    "only the delivered COMMIT commits (cut {cut} of {n})"
                );
            }
            // Resume: a new session completes the update without redoing what is staged.
            let mut ch = InProcessChannel::new(card);
            let outcome = update(&mut ch, &mut issuer, &mut |_| {}, &NO).unwrap();
            assert!(
                matches!(outcome, Outcome::Updated { sequence: 1, .. }),
                "{outcome:?}"
            );
            let after = state(ch.card(), Profile::Cps4);
            assert_eq!(after.sequence, 1);
            assert!(!after.staged);
            assert_ne!(after.keys, before.keys);
            for (i, cert) in after.certs.iter().enumerate() {
                let c = cps_x509::CpsCertificate::from_der(cert).unwrap();
                assert!(
                    c.public_key().spki_der().ends_with(&after.keys[i]),
                    "cut {cut}: certificate matches the key"
                );
            }
            tried += 1;
        }
    }
    println!(
        "power cut tried at {tried} points ({n} APDUs x delivered/not delivered): old or new state each time, resumed to the new state"
    );
    assert_eq!(tried, 2 * n);
}

/// Changes one byte of one command, or of one answer.
struct Flip {
    apdu: usize,
    byte: usize,
    in_answer: bool,
    count: usize,
    applied: bool,
    /// The changed byte was a command's Le (its last byte, when it has one).
    le: bool,
    /// The changed APDU was a GET RESPONSE.
    get_response: bool,
    /// The changed byte was the length a T=0 card announces in a `61xx` ending an answer
    /// (bare, or after a part of a long one): the exchange then asks for another length and
    /// gets the same bytes (in more parts, or after `6Cxx`).
    announced_length: bool,
}

impl Flip {
    /// A relay to `card` changing byte `byte` of the `apdu`-th command or answer.
    fn relay(card: SimCard, apdu: usize, byte: usize, in_answer: bool) -> Relay<Self> {
        let flip = Flip {
            apdu,
            byte,
            in_answer,
            count: 0,
            applied: false,
            le: false,
            get_response: false,
            announced_length: false,
        };
        Relay::new(card, flip)
    }

    /// Only bytes outside the protection were changed: a command's Le or an announced length.
    fn harmless(&self) -> bool {
        self.le || self.announced_length
    }
}

/// The answer's status word is `61xx`: more bytes to fetch by GET RESPONSE.
fn ends_with_61xx(r: &[u8]) -> bool {
    r.len() >= 2 && r[r.len() - 2] == 0x61
}

impl Meddle for Flip {
    fn exchange(
        &mut self,
        card: &mut InProcessChannel<SimCard>,
        command: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        self.count += 1;
        let hit = self.count == self.apdu;
        let mut c = command.to_vec();
        if hit {
            self.get_response = c.get(1) == Some(&0xC0);
        }
        if hit && !self.in_answer && self.byte < c.len() {
            c[self.byte] ^= 0x01;
            self.applied = true;
            // The last byte is Le only in a command that has one (not in EXTERNAL
            // AUTHENTICATE, whose last byte is its MAC's).
            self.le = self.byte == c.len() - 1
                && cps_apdu::Command::parse(command).is_ok_and(|p| p.ne.is_some());
        }
        let mut r = card.transmit(&c)?;
        if hit && self.in_answer && self.byte < r.len() {
            self.announced_length = ends_with_61xx(&r) && self.byte == r.len() - 1;
            r[self.byte] ^= 0x01;
            self.applied = true;
        }
        Ok(r)
    }
}

/// Each command of an exchange with its answer.
type Log = Vec<(Vec<u8>, Vec<u8>)>;

/// Runs an honest update through a recorder: each command with its answer, and the card.
fn record_update(card: SimCard, issuer: &mut Issuer) -> (Log, SimCard) {
    struct Rec(Log);
    impl Meddle for Rec {
        fn exchange(
            &mut self,
            card: &mut InProcessChannel<SimCard>,
            c: &[u8],
        ) -> Result<Vec<u8>, TransportError> {
            let r = card.transmit(c)?;
            self.0.push((c.to_vec(), r.clone()));
            Ok(r)
        }
    }
    let mut rec = Relay::new(card, Rec(Vec::new()));
    update(&mut rec, issuer, &mut |_| {}, &NO).unwrap();
    (rec.m.0, rec.card.into_card())
}

/// For each APDU of an honest update: the command's length, the answer's length and whether
/// the answer ends in `61xx` (the T=0 card announcing more of it).
fn exchange_sizes(card: SimCard, issuer: &mut Issuer) -> Vec<(usize, usize, bool)> {
    record_update(card, issuer)
        .0
        .iter()
        .map(|(c, r)| (c.len(), r.len(), ends_with_61xx(r)))
        .collect()
}

#[test]
fn a_changed_announced_length_is_harmless_in_a_renewal() {
    // The renewal's long answers (public keys) come in parts, each but the last ending in
    // `61xx`: changing that length only changes how the rest is fetched.
    let (card, mut issuer, _) = setup(Profile::Cps4, true);
    let sizes = exchange_sizes(card, &mut issuer);
    let mut tried = 0;
    for (i, &(_, rlen, announce)) in sizes.iter().enumerate() {
        if !announce {
            continue;
        }
        let (card, mut issuer, _) = setup(Profile::Cps4, true);
        let mut f = Flip::relay(card, i + 1, rlen - 1, true);
        let o = update(&mut f, &mut issuer, &mut |_| {}, &NO);
        assert!(f.m.applied && f.m.harmless(), "apdu {i}");
        assert!(
            matches!(o, Ok(Outcome::Updated { sequence: 1, .. })),
            "apdu {i}: {o:?}"
        );
        tried += 1;
    }
    println!(
        "announced length changed in {tried} of the {} answers: each update completed",
        sizes.len()
    );
    // Bare `61xx` after each command with an answer, and inside the long ones.
    assert!(
        tried > sizes.len() / 3 && sizes.iter().any(|s| s.2 && s.1 > 2),
        "{sizes:?}"
    );
}

#[test]
fn every_changed_byte_is_refused_or_harmless() {
    // A data update (4 APDUs after SELECT: INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, BEGIN,
    // STAGE FILE x k, COMMIT), each byte of each command and answer changed in turn.
    let (card, mut issuer, _) = setup(Profile::Cps4, false);
    let sizes = exchange_sizes(card, &mut issuer);
    let (mut refused, mut le, mut announced) = (0, 0, 0);
    for (i, &(clen, rlen, announce)) in sizes.iter().enumerate().skip(1) {
        for in_answer in [false, true] {
            let len = if in_answer { rlen } else { clen };
            for byte in 0..len {
                let (card, mut issuer, _) = setup(Profile::Cps4, false);
                let before = state(&card, Profile::Cps4);
                let mut f = Flip::relay(card, i + 1, byte, in_answer);
                let r = update(&mut f, &mut issuer, &mut |_| {}, &NO);
                assert!(f.m.applied);
                let flip_says_harmless = f.m.harmless();
                let mut card = f.card.into_card();
                let now = state(&card, Profile::Cps4);
                match r {
                    Err(_) => {
                        // Refused: the card shows the old state (a change in the COMMIT's
                        // answer may come after the card committed: then it shows the new).
                        if now.sequence == 0 {
                            assert_eq!((&now.dam, &now.keys), (&before.dam, &before.keys));
                        } else {
                            // The COMMIT's answer (its `61xx` or, T=0, the GET RESPONSE
                            // fetching it, command or answer): the card had committed.
                            assert!(
                                (in_answer && i + 2 >= sizes.len()) || i + 1 == sizes.len(),
                                "apdu {i} byte {byte}"
                            );
                        }
                        refused += 1;
                        // A later honest session completes it.
                        card.power_off();
                        card.power_on();
                        let mut ch = InProcessChannel::new(card);
                        let o = update(&mut ch, &mut issuer, &mut |_| {}, &NO).unwrap();
                        assert!(matches!(o, Outcome::Updated { sequence: 1, .. }));
                    }
                    Ok(o) => {
                        // Only bytes outside the protection may change without effect:
                        // the Le byte of a command, or the length a T=0 card announces in
                        // `61xx` (the exchange then fetches the answer in other parts).
                        assert!(
                            (!in_answer && byte == clen - 1)
                                || (in_answer && announce && byte == rlen - 1),
                            "apdu {i} byte {byte} accepted: {o:?}"
                        );
                        // The random test's own account of harmless changes agrees.
                        assert!(flip_says_harmless, "apdu {i} byte {byte}");
                        assert_eq!(now.sequence, 1);
                        if in_answer {
                            announced += 1;
                        } else {
                            le += 1;
                        }
                    }
                }
            }
        }
    }
    println!(
        "changed bytes: {refused} refused, harmless {le} Le and {announced} announced lengths, over the {} APDUs after SELECT",
        sizes.len() - 1
    );
    assert!(refused > 100);
}

#[test]
fn replayed_and_reordered_commands_are_refused() {
    // Record the commands of an honest update of one card.
    let (card, mut issuer, _) = setup(Profile::Cps4, false);
    let (log, card) = record_update(card, &mut issuer);
    let script: Vec<Vec<u8>> = log.into_iter().map(|(c, _)| c).collect();
    assert_eq!(card.update_sequence(), 1);

    // Replayed to the same card, now at sequence 1 (and to a fresh card): nothing passes
    // EXTERNAL AUTHENTICATE, since the card's challenge is new.
    for fresh in [false, true] {
        let mut ch = if fresh {
            InProcessChannel::new(SimCard::new(Profile::Cps4, "dr-martin").unwrap())
        } else {
            InProcessChannel::new(card.clone())
        };
        let before = state(ch.card(), Profile::Cps4);
        let answers: Vec<Vec<u8>> = script.iter().map(|c| ch.transmit(c).unwrap()).collect();
        // EXTERNAL AUTHENTICATE (INS 82) and every command after it refused; the GET
        // RESPONSEs of the T=0 card find nothing to give.
        let ea = script.iter().position(|c| c[1] == 0x82).unwrap();
        assert_eq!(
            &answers[ea][answers[ea].len() - 2..],
            &[0x69, 0x82],
            "EXTERNAL AUTHENTICATE"
        );
        for (c, a) in script.iter().zip(&answers).skip(ea + 1) {
            let expected: &[u8] = if c[1] == 0xC0 {
                &[0x69, 0x85]
            } else {
                &[0x69, 0x82]
            };
            assert_eq!(&a[a.len() - 2..], expected, "{}", hex::encode(c));
        }
        assert_eq!(state(ch.card(), Profile::Cps4), before);
    }

    // Reordered: a pending update whose STAGE FILE and COMMIT are swapped by the relay.
    let (card, mut issuer, _) = setup(Profile::Cps4, false);
    struct Swap(Vec<Vec<u8>>, usize);
    impl Meddle for Swap {
        fn exchange(
            &mut self,
            card: &mut InProcessChannel<SimCard>,
            c: &[u8],
        ) -> Result<Vec<u8>, TransportError> {
            // Hold BEGIN (INS E0) back and send the next command first.
            if c.get(1) == Some(&0xE0) && self.1 == 0 {
                self.1 = 1;
                self.0.push(c.to_vec());
                return Ok(vec![0x90, 0x00]);
            }
            if self.1 == 1 {
                self.1 = 2;
                let r = card.transmit(c)?;
                let held = self.0.pop().unwrap();
                let _ = card.transmit(&held)?;
                return Ok(r);
            }
            card.transmit(c)
        }
    }
    let before = state(&card, Profile::Cps4);
    let mut s = Relay::new(card, Swap(Vec::new(), 0));
    assert!(update(&mut s, &mut issuer, &mut |_| {}, &NO).is_err());
    assert_eq!(state(s.card.card(), Profile::Cps4), before);
}

#[test]
fn cancellation_leaves_the_card_unchanged_and_resumes() {
    let (card, mut issuer, _) = setup(Profile::Cps4, true);
    let before = state(&card, Profile::Cps4);
    let cancel = AtomicBool::new(false);
    let mut ch = InProcessChannel::new(card);
    let mut seen = 0;
    let err = update(
        &mut ch,
        &mut issuer,
        &mut |p| {
            seen += 1;
            if p.what.contains("generating") {
                cancel.store(true, Ordering::SeqCst);
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, UpdateError::Cancelled));
    let now = state(ch.card(), Profile::Cps4);
    assert_eq!(
        (now.sequence, &now.dam, &now.keys),
        (0, &before.dam, &before.keys)
    );
    assert!(now.staged, "the generated key is staged, not installed");
    let o = update(&mut ch, &mut issuer, &mut |_| {}, &NO).unwrap();
    assert!(matches!(
        o,
        Outcome::Updated {
            sequence: 1,
            steps: 5
        }
    ));
    assert!(seen > 3);
}

#[test]
fn a_card_without_update_application_or_unknown_to_the_issuer() {
    // Contactless: no update application.
    let card = SimCard::builder()
        .profile(Profile::Cps4)
        .interface(cps_sim::Interface::Contactless)
        .build()
        .unwrap();
    let mut issuer = Issuer::new(TEST_MASTER_KEY).unwrap();
    let err = update(InProcessChannel::new(card), &mut issuer, &mut |_| {}, &NO).unwrap_err();
    assert!(matches!(err, UpdateError::NotUpdatable(_)), "{err}");
    // Not registered.
    let card = SimCard::new(Profile::Cps4, "pharmacien-durand").unwrap();
    let err = update(InProcessChannel::new(card), &mut issuer, &mut |_| {}, &NO).unwrap_err();
    assert!(
        cps_testkit::error_chain(&err).contains("not registered"),
        "{err}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// A full update with certificate renewal (49 APDUs on the simulated CPS4: two RSA-2048
    /// keys, their public keys fetched in parts, two certificates staged in chunks, the
    /// COMMIT; a draw beyond the end changes nothing), one random byte of one random command
    /// or answer changed: refused with the card unchanged (or, for the COMMIT's answer,
    /// already committed), and a later honest session completes; only a command's Le byte or
    /// an announced length may change without effect.
    #[test]
    fn tampering_a_renewal_update(apdu in 2usize..=52, byte in 0usize..400, in_answer: bool) {
        let (card, mut issuer, _) = setup(Profile::Cps4, true);
        let before = state(&card, Profile::Cps4);
        let mut f = Flip::relay(card, apdu, byte, in_answer);
        let r = update(&mut f, &mut issuer, &mut |_| {}, &NO);
        let (applied, harmless) = (f.m.applied, f.m.harmless());
        let f_last = f.m.count == f.m.apdu && f.m.get_response;
        let mut card = f.card.into_card();
        let now = state(&card, Profile::Cps4);
        match r {
            Err(_) => {
                proptest::prop_assert!(applied, "refused without a change");
                if now.sequence == 0 {
                    proptest::prop_assert_eq!((&now.dam, &now.keys, &now.certs), (&before.dam, &before.keys, &before.certs));
                } else {
                    // Or the GET RESPONSE fetching the COMMIT's answer (T=0), sent after
                    // the card committed.
                    proptest::prop_assert!(in_answer || f_last, "committed after a changed command");
                }
                card.power_off();
                card.power_on();
                let mut ch = InProcessChannel::new(card);
                let o = update(&mut ch, &mut issuer, &mut |_| {}, &NO);
                proptest::prop_assert!(matches!(o, Ok(Outcome::Updated { sequence: 1, .. })), "{:?}", o);
            }
            Ok(_) => {
                // Untouched (byte beyond this APDU), the Le byte of a command or the length
                // announced in a bare `61xx`.
                proptest::prop_assert_eq!(now.sequence, 1);
                proptest::prop_assert!(
                    !applied || harmless,
                    "a changed byte other than Le or an announced length was accepted"
                );
            }
        }
    }
}
