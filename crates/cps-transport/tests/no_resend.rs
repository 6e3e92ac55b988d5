//! The transport's no-resend rule (crate docs of `exchange`): a command carrying a secret or
//! changing card state is never sent twice, whatever a relaying reader answers.
//!
//! A fake relaying reader sits between the exchange and a card that counts every command it
//! executes (the try counter of a PIN, the signature counter, key changes). The relay
//! forwards each command to the card once, then lies about the answer: `6Cxx`, `61xx`, a torn
//! answer (1 byte), a dropped answer (transport error) or no answer at all (timeout). For
//! every secret or state-changing command, one user action must move the card's counter by
//! at most one.

use std::collections::HashMap;

use cps_apdu::table::CommandTables;
use cps_apdu::{Command, Response, StatusWord};
use cps_transport::{CardChannel, Exchange, InProcessChannel, TransportError, VirtualCard};

/// A card that counts executed commands by (CLA without channel bits, INS).
#[derive(Default)]
struct CountingCard {
    executed: HashMap<(u8, u8), usize>,
}

impl VirtualCard for CountingCard {
    fn atr(&self) -> Vec<u8> {
        vec![0x3B, 0x00]
    }
    fn power_on(&mut self) {}
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let Ok(c) = Command::parse(apdu) else {
            return StatusWord::WRONG_LENGTH.to_bytes().to_vec();
        };
        *self.executed.entry((c.cla & !0x03, c.ins)).or_default() += 1;
        match c.ins {
            // A wrong PIN: one try spent per execution.
            0x20 | 0x24 | 0x2C => vec![0x63, 0xC2],
            _ => vec![0xAA, 0xBB, 0x90, 0x00],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Forward, answer `6C00`.
    WrongLe,
    /// Forward, answer `61 04`, then serve a GET RESPONSE with 4 bytes and the card's SW.
    MoreData,
    /// Forward, answer one byte.
    Torn,
    /// Forward, then fail with a transport error.
    Dropped,
    /// Forward, then give up waiting.
    NoAnswer,
}

/// A relaying reader injecting one fault on the first command with instruction `target`.
struct Relay {
    inner: InProcessChannel<CountingCard>,
    target: u8,
    fault: Fault,
    fired: bool,
    held_sw: Vec<u8>,
    sent: Vec<Vec<u8>>,
}

impl CardChannel for Relay {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.sent.push(command.to_vec());
        if self.fault == Fault::MoreData && self.fired && command.get(1) == Some(&0xC0) {
            let mut out = vec![1, 2, 3, 4];
            out.extend_from_slice(&std::mem::take(&mut self.held_sw));
            return Ok(out);
        }
        let real = self.inner.transmit(command)?;
        if self.fired || command.get(1) != Some(&self.target) {
            return Ok(real);
        }
        self.fired = true;
        match self.fault {
            Fault::WrongLe => Ok(vec![0x6C, 0x00]),
            Fault::MoreData => {
                self.held_sw = real
                    .get(real.len().saturating_sub(2)..)
                    .unwrap_or_default()
                    .to_vec();
                Ok(vec![0x61, 0x04])
            }
            Fault::Torn => Ok(real.get(..1).unwrap_or_default().to_vec()),
            Fault::Dropped => Err(TransportError::CardUnresponsive),
            Fault::NoAnswer => Err(TransportError::NoAnswer {
                command: "command",
                seconds: 0.1,
            }),
        }
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.inner.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(cps_transport::Reborrow(self)))
    }
}

/// The secret and state-changing commands of the issue, with several class bytes.
fn commands() -> Vec<(&'static str, Command)> {
    vec![
        (
            "VERIFY",
            Command::new(0x00, 0x20, 0x00, 0x01).with_data(b"1234"),
        ),
        (
            "VERIFY (CLA 80)",
            Command::new(0x80, 0x20, 0x00, 0x01).with_data(b"1234"),
        ),
        (
            "VERIFY (channel 1)",
            Command::new(0x01, 0x20, 0x00, 0x01).with_data(b"1234"),
        ),
        (
            "VERIFY (CLA 81)",
            Command::new(0x81, 0x20, 0x00, 0x01).with_data(b"1234"),
        ),
        (
            "CHANGE REFERENCE DATA",
            Command::new(0x00, 0x24, 0x00, 0x01).with_data(b"12345678"),
        ),
        (
            "RESET RETRY COUNTER",
            Command::new(0x00, 0x2C, 0x00, 0x01).with_data(b"87654321"),
        ),
        (
            "PSO COMPUTE DIGITAL SIGNATURE",
            Command::new(0x00, 0x2A, 0x9E, 0x9A).with_ne(256),
        ),
        (
            "PSO (channel 1)",
            Command::new(0x01, 0x2A, 0x9E, 0x9A).with_ne(256),
        ),
        (
            "DESFire ChangeKey",
            Command::new(0x90, 0xC4, 0x00, 0x00)
                .with_data(&[0x01; 25])
                .with_ne(256),
        ),
        (
            "CTAP authenticatorClientPIN",
            Command::new(0x80, 0x10, 0x80, 0x00)
                .with_data(&[0x06, 0xA2, 0x01, 0x02, 0x02, 0x01])
                .with_ne(256),
        ),
    ]
}

/// The tables the protocol clients register.
fn tables() -> CommandTables {
    CommandTables::of(&[
        &cps_iasecc::table::TABLE,
        &cps_desfire::table::TABLE,
        &cps_fido2::table::TABLE,
    ])
}

fn run(command: &Command, fault: Fault) -> (Result<Response, TransportError>, usize, usize) {
    let mut relay = Relay {
        inner: InProcessChannel::new(CountingCard::default()),
        target: command.ins,
        fault,
        fired: false,
        held_sw: Vec::new(),
        sent: Vec::new(),
    };
    let mut exchange = Exchange::new(&mut relay);
    exchange.register_all(&tables());
    let result = exchange.transmit(command);
    let executed = relay
        .inner
        .card()
        .executed
        .get(&(command.cla & !0x03, command.ins))
        .copied()
        .unwrap_or(0);
    let sent = relay
        .sent
        .iter()
        .filter(|c| c.get(1) == Some(&command.ins))
        .count();
    (result, executed, sent)
}

#[test]
fn secret_and_state_changing_commands_are_sent_once_whatever_the_reader_answers() {
    for (name, command) in commands() {
        assert!(!tables().classify_command(&command).may_resend(), "{name}");
        for fault in [
            Fault::WrongLe,
            Fault::MoreData,
            Fault::Torn,
            Fault::Dropped,
            Fault::NoAnswer,
        ] {
            let (result, executed, sent) = run(&command, fault);
            assert_eq!(
                executed, 1,
                "{name} under {fault:?}: card executed it {executed} times"
            );
            assert_eq!(sent, 1, "{name} under {fault:?}: sent {sent} times");
            match (fault, result) {
                // The 6Cxx goes back to the caller, not to the card.
                (Fault::WrongLe, Ok(r)) => assert_eq!(r.sw, StatusWord(0x6C00), "{name}"),
                // GET RESPONSE fetches the answer without repeating the command.
                (Fault::MoreData, Ok(r)) => {
                    assert_eq!(r.data, [1, 2, 3, 4], "{name}");
                    assert!(r.sw.0 == 0x9000 || r.sw.0 == 0x63C2, "{name}: {}", r.sw);
                }
                (Fault::Torn, Err(TransportError::Apdu(_))) => {}
                (Fault::Dropped, Err(TransportError::CardUnresponsive)) => {}
                (Fault::NoAnswer, Err(TransportError::NoAnswer { command, .. })) => {
                    // The exchange names the command from the table.
                    assert_ne!(command, "command", "{name}");
                }
                (fault, other) => panic!("{name} under {fault:?}: unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn a_read_is_still_resent_with_the_cards_le() {
    let read = Command::new(0x00, 0xB0, 0x00, 0x00).with_ne(256);
    let (result, executed, sent) = run(&read, Fault::WrongLe);
    assert!(result.unwrap().is_success());
    assert_eq!((executed, sent), (2, 2));
    // Channel 1, proprietary class: still a read.
    let read = Command::new(0x81, 0xB0, 0x00, 0x00).with_ne(256);
    let (_, executed, _) = run(&read, Fault::WrongLe);
    assert_eq!(executed, 2);
}

#[test]
fn no_answer_names_the_command() {
    let verify = Command::new(0x81, 0x20, 0x00, 0x01).with_data(b"1234");
    let (result, _, _) = run(&verify, Fault::NoAnswer);
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("VERIFY"), "{msg}");
    assert!(!msg.contains("1234") && !msg.contains("31323334"), "{msg}");
}

#[test]
fn without_the_protocol_tables_nothing_but_iso_reads_is_resent() {
    // An exchange nobody registered a table on: every command but the ISO 7816-4 basic reads
    // is treated as changing state, and sent once.
    for (name, command) in commands() {
        let mut relay = Relay {
            inner: InProcessChannel::new(CountingCard::default()),
            target: command.ins,
            fault: Fault::WrongLe,
            fired: false,
            held_sw: Vec::new(),
            sent: Vec::new(),
        };
        let result = Exchange::new(&mut relay).transmit(&command);
        assert_eq!(result.unwrap().sw, StatusWord(0x6C00), "{name}");
        let executed = relay
            .inner
            .card()
            .executed
            .get(&(command.cla & !0x03, command.ins))
            .copied()
            .unwrap_or(0);
        assert_eq!(executed, 1, "{name}");
    }
}
