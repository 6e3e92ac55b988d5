//! CTAP over ISO 7816-4 APDUs (FIDO CTAP 2.1 §11.3): applet selection, NFCCTAP_MSG,
//! status updates polled with NFCCTAP_GETRESPONSE, cancellation.
//!
//! Framing is the one real clients use with a contact card: short APDUs, long requests as a
//! command chain (CLA `80` → `90`), long responses through `61xx` + GET RESPONSE, and extended
//! APDUs only when the card's ATR announces them (all handled by [`cps_transport::Exchange`]).

use std::time::{Duration, Instant};

use cps_apdu::{Command, StatusWord};
use cps_transport::{CardChannel, Exchange};

use crate::cbor::Value;
use crate::ctap::{self, CtapStatus};
pub use crate::error::Fido2Error;

/// The FIDO applet AID: RID `A0 00 00 06 47`, PIX `2F 00 01` (CTAP 2.1 §11.3.3).
pub const FIDO_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01];

use crate::table::{CLA, INS_MSG};
/// P1 bit: the client accepts status updates (`9100`) and will poll.
const P1_GETRESPONSE_SUPPORTED: u8 = 0x80;
/// P1 of NFCCTAP_GETRESPONSE that cancels the pending command (as python-fido2 sends it).
const P1_CANCEL: u8 = 0x11;

/// How the client waits for an authenticator that asks for user presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// Pause between two NFCCTAP_GETRESPONSE polls (python-fido2 uses 100 ms).
    pub interval: Duration,
    /// Give up (and cancel) after this long.
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A selected FIDO2 applet.
pub struct CtapCard<C: CardChannel> {
    exchange: Exchange<C>,
    selected_as: Vec<u8>,
    poll: PollPolicy,
    status_updates: u64,
}

impl<C: CardChannel> CtapCard<C> {
    /// Selects the FIDO applet on `channel`.
    pub fn select(channel: C) -> Result<Self, Fido2Error> {
        Self::select_on(Exchange::new(channel))
    }

    /// Selects the FIDO applet through an existing exchange (keeps its configuration).
    pub fn select_on(mut exchange: Exchange<C>) -> Result<Self, Fido2Error> {
        // The transport learns what each CTAP command does (no re-send, redaction).
        exchange.register(&crate::table::TABLE);
        let select = cps_apdu::table::iso::SELECT.command(0x04, 0x00, &FIDO_AID, Some(256))?;
        let r = exchange.transmit(&select)?;
        if r.sw == StatusWord::CONDITIONS_NOT_SATISFIED {
            return Err(Fido2Error::AppletRefused { sw: r.sw });
        }
        if !r.sw.is_success() {
            return Err(Fido2Error::NoApplet { sw: r.sw });
        }
        Ok(CtapCard {
            exchange,
            selected_as: r.data,
            poll: PollPolicy::default(),
            status_updates: 0,
        })
    }

    /// What SELECT answered (`"FIDO_2_0"` or `"U2F_V2"`).
    pub fn select_answer(&self) -> &[u8] {
        &self.selected_as
    }

    /// Sets how status updates are polled.
    pub fn set_poll_policy(&mut self, poll: PollPolicy) {
        self.poll = poll;
    }

    /// How status updates (CTAP2) and `6985` answers (U2F) are waited for.
    pub fn poll_policy(&self) -> PollPolicy {
        self.poll
    }

    /// APDUs exchanged so far (including GET RESPONSE, chaining and polls).
    pub fn round_trips(&self) -> u64 {
        self.exchange.round_trips()
    }

    /// Status updates (`9100`) received so far.
    pub fn status_updates(&self) -> u64 {
        self.status_updates
    }

    /// The exchange layer.
    pub fn exchange_mut(&mut self) -> &mut Exchange<C> {
        &mut self.exchange
    }

    /// Sends one CTAP command and returns its CBOR response (an empty map when there is none).
    pub fn call(&mut self, command: u8, params: Option<&Value>) -> Result<Value, Fido2Error> {
        let name = command_name(command);
        let data = ctap::request(command, params);
        let ne = if self.exchange.config().extended_length {
            65_536
        } else {
            256
        };
        // The shape comes from the table entry of the command; a command byte the table does
        // not list goes out as it is (the transport treats it as changing state, and hides it).
        let msg = match crate::table::message(command) {
            Some(spec) => spec.command(P1_GETRESPONSE_SUPPORTED, 0x00, &data, Some(ne))?,
            None => Command::new(CLA, INS_MSG, P1_GETRESPONSE_SUPPORTED, 0x00)
                .with_data(&data)
                .with_ne(ne),
        };
        let mut r = self.exchange.transmit(&msg)?;
        let started = Instant::now();
        while r.sw == StatusWord::DESFIRE_OK {
            // 9100: a status update (01 PROCESSING, 02 UP_NEEDED); poll again.
            self.status_updates += 1;
            if started.elapsed() >= self.poll.timeout {
                let _ = self.cancel();
                return Err(Fido2Error::Timeout(self.poll.timeout));
            }
            std::thread::sleep(self.poll.interval);
            let poll = crate::table::GET_RESPONSE.command(0x00, 0x00, &[], Some(ne))?;
            r = self.exchange.transmit(&poll)?;
        }
        if !r.sw.is_success() {
            return Err(Fido2Error::Status {
                attempted: name,
                sw: r.sw,
            });
        }
        let (status, value) =
            ctap::split_response(&r.data).map_err(|source| Fido2Error::Message {
                command: name,
                source,
            })?;
        if status != CtapStatus::CTAP2_OK {
            return Err(Fido2Error::Ctap {
                command: name,
                status,
            });
        }
        Ok(value)
    }

    /// Cancels a command waiting for user presence (NFCCTAP_GETRESPONSE with P1 = 11).
    pub fn cancel(&mut self) -> Result<(), Fido2Error> {
        let c = crate::table::GET_RESPONSE.command(P1_CANCEL, 0x00, &[], Some(256))?;
        self.exchange.transmit(&c)?;
        Ok(())
    }

    /// authenticatorGetInfo.
    pub fn get_info(&mut self) -> Result<ctap::Info, Fido2Error> {
        let v = self.call(ctap::cmd::GET_INFO, None)?;
        ctap::Info::from_cbor(&v).map_err(|source| Fido2Error::Message {
            command: "authenticatorGetInfo",
            source,
        })
    }
}

/// The CTAP name of a command byte.
pub fn command_name(command: u8) -> &'static str {
    match command {
        ctap::cmd::MAKE_CREDENTIAL => "authenticatorMakeCredential",
        ctap::cmd::GET_ASSERTION => "authenticatorGetAssertion",
        ctap::cmd::GET_INFO => "authenticatorGetInfo",
        ctap::cmd::CLIENT_PIN => "authenticatorClientPIN",
        ctap::cmd::RESET => "authenticatorReset",
        ctap::cmd::GET_NEXT_ASSERTION => "authenticatorGetNextAssertion",
        ctap::cmd::CREDENTIAL_MANAGEMENT => "authenticatorCredentialManagement",
        ctap::cmd::SELECTION => "authenticatorSelection",
        ctap::cmd::CONFIG => "authenticatorConfig",
        _ => "CTAP command",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cps_transport::{InProcessChannel, VirtualCard};

    /// A scripted applet: checks the framing real cards see and answers from a script.
    struct Scripted {
        log: Vec<Vec<u8>>,
        updates_before_answer: usize,
        pending: Vec<u8>,
        chain: Vec<u8>,
        answer: Vec<u8>,
    }

    impl VirtualCard for Scripted {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x00]
        }
        fn power_on(&mut self) {}
        fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.log.push(apdu.to_vec());
            let Ok(c) = Command::parse(apdu) else {
                return vec![0x67, 0x00];
            };
            match (c.cla, c.ins) {
                (0x00, 0xA4) if c.data == FIDO_AID => b"FIDO_2_0\x90\x00".to_vec(),
                (0x00, 0xA4) => vec![0x6A, 0x82],
                (0x90, 0x10) => {
                    self.chain.extend(&c.data);
                    vec![0x90, 0x00]
                }
                (0x80, 0x10) | (0x80, 0x11) => {
                    if c.ins == 0x10 {
                        self.chain.extend(&c.data);
                    }
                    if self.updates_before_answer > 0 {
                        self.updates_before_answer -= 1;
                        return vec![0x02, 0x91, 0x00];
                    }
                    self.pending = self.answer.clone();
                    self.serve(256)
                }
                (0x00, 0xC0) => self.serve(c.ne.unwrap_or(256)),
                _ => vec![0x6D, 0x00],
            }
        }
    }

    impl Scripted {
        fn serve(&mut self, n: usize) -> Vec<u8> {
            let n = n.min(self.pending.len());
            let mut out: Vec<u8> = self.pending.drain(..n).collect();
            if self.pending.is_empty() {
                out.extend([0x90, 0x00]);
            } else {
                out.extend([0x61, self.pending.len().min(256) as u8]);
            }
            out
        }
    }

    fn card(answer: Vec<u8>, updates: usize) -> CtapCard<InProcessChannel<Scripted>> {
        let s = Scripted {
            log: vec![],
            updates_before_answer: updates,
            pending: vec![],
            chain: vec![],
            answer,
        };
        let mut c = CtapCard::select(InProcessChannel::new(s)).unwrap();
        c.set_poll_policy(PollPolicy {
            interval: Duration::from_millis(1),
            timeout: Duration::from_secs(2),
        });
        c
    }

    #[test]
    fn get_info_framing_matches_python_fido2() {
        let info = hex::decode("00a60182665532465f5632684649444f5f325f3002826375766d6b686d61632d7365637265740350f8a011f38c0a4d15800617111f9edc7d04a462726bf5627570f564706c6174f469636c69656e7450696ef4051904b0068101").unwrap();
        let mut c = card(info, 0);
        assert_eq!(c.select_answer(), b"FIDO_2_0");
        let i = c.get_info().unwrap();
        assert_eq!(i.max_msg_size, Some(1200));
        let log = &c.exchange.channel().card().log;
        // Shared notes §6.5: SELECT with Le 00, getInfo `80 10 80 00 01 04 00`.
        assert_eq!(log[0], hex::decode("00a4040008a0000006472f000100").unwrap());
        assert_eq!(log[1], hex::decode("80108000010400").unwrap());
        assert_eq!(c.round_trips(), 2);
    }

    #[test]
    fn long_request_is_chained_and_long_response_collected() {
        let mut answer = vec![0x00];
        answer.extend(crate::cbor::encode(&Value::map([(
            Value::int(1),
            Value::bytes(&[0xAB; 600]),
        )])));
        let mut c = card(answer, 0);
        let params = Value::map([(Value::int(1), Value::bytes(&[0x55; 500]))]);
        let v = c.call(ctap::cmd::MAKE_CREDENTIAL, Some(&params)).unwrap();
        assert_eq!(v.get_int(1).and_then(Value::as_bytes).unwrap().len(), 600);
        let card = c.exchange.channel().card();
        assert_eq!(
            card.chain,
            ctap::request(ctap::cmd::MAKE_CREDENTIAL, Some(&params))
        );
        // 506 bytes: one chained block of 255 (CLA 90), the last 251 (CLA 80) with Le 00,
        // then GET RESPONSE rounds (CLA 00, as python-fido2 sends them).
        assert_eq!(card.log[1][..5], [0x90, 0x10, 0x80, 0x00, 0xFF]);
        assert_eq!(card.log[2][..5], [0x80, 0x10, 0x80, 0x00, 251]);
        assert_eq!(card.log.len(), 5);
        assert!(card.log[3..].iter().all(|a| a[..2] == [0x00, 0xC0]));
    }

    #[test]
    fn status_updates_are_polled_then_answered() {
        let mut c = card(vec![0x00, 0xA0], 3);
        c.call(ctap::cmd::SELECTION, None).unwrap();
        assert_eq!(c.status_updates(), 3);
        let log = &c.exchange.channel().card().log;
        assert_eq!(log[2], hex::decode("8011000000").unwrap());
    }

    #[test]
    fn ctap_errors_and_missing_applet() {
        let mut c = card(vec![0x31], 0);
        match c.call(ctap::cmd::CLIENT_PIN, None) {
            Err(Fido2Error::Ctap { status, command }) => {
                assert_eq!(status, CtapStatus::CTAP2_ERR_PIN_INVALID);
                assert_eq!(command, "authenticatorClientPIN");
            }
            other => panic!("{other:?}"),
        }
        struct NoFido;
        impl VirtualCard for NoFido {
            fn atr(&self) -> Vec<u8> {
                vec![0x3B, 0x00]
            }
            fn power_on(&mut self) {}
            fn process(&mut self, _: &[u8]) -> Vec<u8> {
                vec![0x6A, 0x82]
            }
        }
        let err = CtapCard::select(InProcessChannel::new(NoFido))
            .err()
            .unwrap();
        assert!(err.to_string().contains("no FIDO2 applet"), "{err}");
    }

    #[test]
    fn endless_status_updates_time_out_and_cancel() {
        let mut c = card(vec![0x00, 0xA0], usize::MAX);
        c.set_poll_policy(PollPolicy {
            interval: Duration::from_millis(1),
            timeout: Duration::from_millis(30),
        });
        assert!(matches!(
            c.call(ctap::cmd::SELECTION, None),
            Err(Fido2Error::Timeout(_))
        ));
        let last = c.exchange.channel().card().log.last().unwrap().clone();
        assert_eq!(last, hex::decode("8011110000").unwrap());
    }
}
