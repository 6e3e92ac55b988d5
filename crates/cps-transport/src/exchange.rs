//! The exchange layer: one command in, one complete response out.
//!
//! Every protocol crate sends [`Command`]s through an [`Exchange`], which hides the transport
//! details of ISO/IEC 7816-3 and 7816-4 from them:
//!
//! - `61xx` (ISO 7816-4 §5.3.4, T=0 style): more data is fetched with GET RESPONSE
//!   (`CLA C0 00 00 xx`; the CLA is configurable because CTAP-over-NFC clients use `80`);
//! - `6Cxx` (wrong Le): a *read* is sent again once with Le = `xx`; any other command gets
//!   the `6Cxx` back (see the rule below);
//! - commands longer than 255 data bytes go out extended-length when the card supports it,
//!   otherwise as a command chain (CLA bit `0x10`, ISO 7816-4 §5.4.1);
//! - responses larger than 256 bytes on a short-only card are collected through `61xx`.
//!
//! Loops are bounded: a card that keeps answering `61xx` cannot hold the host forever.
//!
//! ## The no-resend rule
//!
//! **A command carrying a secret or changing card state is never sent again automatically.**
//! Which commands these are comes from the command tables of the protocols
//! ([`cps_apdu::table`]): the exchange holds a [`CommandTables`] set, the ISO 7816-4 basics
//! by default, to which each protocol client adds its own table ([`Exchange::register`]:
//! VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, PSO, key generation, writes in
//! `cps_iasecc::table`, DESFire ChangeKey in `cps_desfire::table`, CTAP
//! authenticatorClientPIN in `cps_fido2::table`, ... for every class byte and logical
//! channel). A command no table of the set lists counts as changing state. For those
//! commands:
//!
//! - a `6Cxx` answer is returned to the caller as it is, not re-issued with the new Le (a
//!   relay or a reader may answer `6Cxx` *after* the card has spent a PIN try);
//! - a transport error (torn or dropped answer, card removed, timeout) is returned, never
//!   retried: nobody can tell whether the card executed the command;
//! - `61xx` is followed by GET RESPONSE, which fetches the answer without repeating the
//!   command.
//!
//! Only [`Effect::Read`](cps_apdu::table::Effect::Read) commands are re-sent (on `6Cxx`). No
//! layer of cps-rs retries after a transport error; the caller (ultimately the user) decides.
//!
//! A channel that gives up waiting for the card reports [`TransportError::NoAnswer`]; the
//! exchange names the command in it from the same table.

use cps_apdu::table::{CommandTable, CommandTables};
use cps_apdu::{Command, Encoding, Response, SHORT_MAX_LC, SHORT_MAX_NE, SwClass};

use crate::{Atr, CardChannel, TransportError};

/// How [`Exchange`] talks to a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeConfig {
    /// CLA of GET RESPONSE. `None` uses the command's own CLA with the chaining and
    /// secure-messaging bits cleared; ISO 7816-4 cards accept `00`, CTAP-over-ISO applets
    /// expect `80` for their own commands.
    pub get_response_cla: Option<u8>,
    /// Send commands that do not fit a short APDU with extended Lc/Le.
    pub extended_length: bool,
    /// Send long commands as a chain when extended length is off (or not supported).
    pub chaining: bool,
    /// Data bytes per chained command (at most 255).
    pub chain_chunk: usize,
    /// Upper bound on GET RESPONSE rounds for one command.
    pub max_get_response: usize,
    /// Upper bound on the bytes collected for one response.
    pub max_response_len: usize,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            get_response_cla: Some(0x00),
            extended_length: false,
            chaining: true,
            chain_chunk: SHORT_MAX_LC,
            max_get_response: 300,
            max_response_len: 1 << 20,
        }
    }
}

impl ExchangeConfig {
    /// The default configuration, with extended length on when the ATR announces it.
    pub fn for_atr(atr: &[u8]) -> Self {
        ExchangeConfig {
            extended_length: Atr::new(atr).supports_extended_length(),
            ..ExchangeConfig::default()
        }
    }
}

/// A card channel plus the APDU-level exchange rules every protocol needs.
pub struct Exchange<C: CardChannel> {
    channel: C,
    config: ExchangeConfig,
    round_trips: u64,
    tables: CommandTables,
}

impl<C: CardChannel> Exchange<C> {
    /// Wraps a channel; extended length is enabled when the ATR announces it.
    pub fn new(channel: C) -> Self {
        let config = ExchangeConfig::for_atr(channel.atr());
        Exchange::with_config(channel, config)
    }

    /// Wraps a channel with an explicit configuration.
    pub fn with_config(channel: C, config: ExchangeConfig) -> Self {
        Exchange {
            channel,
            config,
            round_trips: 0,
            tables: CommandTables::default(),
        }
    }

    /// Adds a protocol's command table to those this exchange (and its channel: the PC/SC
    /// reset-on-release rule, a transcript recorder) reads; the protocol clients call it on
    /// the exchange they are given. Registering a table twice does nothing.
    pub fn register(&mut self, table: &'static CommandTable) {
        self.tables.add(table);
        self.channel.learn_commands(&self.tables);
    }

    /// Adds every table of `tables` ([`Exchange::register`]).
    pub fn register_all(&mut self, tables: &CommandTables) {
        self.tables.extend(tables);
        self.channel.learn_commands(&self.tables);
    }

    /// The command tables this exchange reads.
    pub fn tables(&self) -> &CommandTables {
        &self.tables
    }

    /// The configuration in use.
    pub fn config(&self) -> &ExchangeConfig {
        &self.config
    }

    /// Changes the configuration (e.g. after reading the card's buffer sizes).
    pub fn config_mut(&mut self) -> &mut ExchangeConfig {
        &mut self.config
    }

    /// The underlying channel.
    pub fn channel(&self) -> &C {
        &self.channel
    }

    /// The underlying channel, mutably.
    pub fn channel_mut(&mut self) -> &mut C {
        &mut self.channel
    }

    /// Unwraps the channel.
    pub fn into_inner(self) -> C {
        self.channel
    }

    /// Number of APDUs sent to the card since creation (or the last reset of the counter):
    /// the figure that dominates real latency.
    pub fn round_trips(&self) -> u64 {
        self.round_trips
    }

    /// Resets the round-trip counter to zero.
    pub fn reset_round_trips(&mut self) {
        self.round_trips = 0;
    }

    /// The card's ATR.
    pub fn atr(&self) -> &[u8] {
        self.channel.atr()
    }

    /// Begins a transaction on the underlying channel; the returned exchange uses the same
    /// configuration and ends the transaction when dropped.
    pub fn transaction(&mut self) -> Result<Exchange<Box<dyn CardChannel + '_>>, TransportError> {
        let config = self.config.clone();
        let tables = self.tables.clone();
        let tx = self.channel.transaction()?;
        let mut ex = Exchange::with_config(tx, config);
        ex.tables = tables;
        Ok(ex)
    }

    /// Sends raw bytes and returns the raw response, counting the round trip.
    pub fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.round_trips += 1;
        self.channel.transmit(apdu)
    }

    fn send(&mut self, apdu: &[u8]) -> Result<Response, TransportError> {
        let raw = self.transmit_raw(apdu).map_err(|e| match e {
            TransportError::NoAnswer { seconds, .. } => TransportError::NoAnswer {
                command: self.tables.classify(apdu).name,
                seconds,
            },
            e => e,
        })?;
        Ok(Response::parse(&raw)?)
    }

    /// Sends a command and returns the complete response, whatever its status word.
    ///
    /// Transport-level status words (`61xx`, `6Cxx`) are handled here and never returned;
    /// application-level ones (`6982`, `63Cx`, ...) are for the caller to interpret.
    pub fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        command.validate()?;
        // Cancellation takes effect between commands only (never inside a chain or a GET
        // RESPONSE sequence): the card is always left as a complete command left it.
        if crate::cancel_requested() {
            return Err(TransportError::Cancelled {
                next: self.tables.classify_command(command).name,
            });
        }
        let mut cmd = command.clone();
        // A short-only card gets Le = 00 (256) and delivers the rest through 61xx.
        if !self.config.extended_length && cmd.ne.is_some_and(|ne| ne > SHORT_MAX_NE) {
            cmd.ne = Some(SHORT_MAX_NE);
        }
        let first = if cmd.data.len() <= SHORT_MAX_LC || self.config.extended_length {
            // The encoded bytes may hold a PIN or a key: wiped when sent.
            let bytes = zeroize::Zeroizing::new(cmd.encode(cmd.natural_encoding())?);
            self.send(&bytes)?
        } else if self.config.chaining {
            self.send_chain(&cmd)?
        } else {
            return Err(TransportError::CommandTooLong { lc: cmd.data.len() });
        };
        let response = match first.sw.class() {
            // ISO 7816-4 §5.3.4: resend the same command with the exact Le, once, but only a
            // read: a secret or state-changing command is never sent twice (module docs).
            SwClass::WrongLe(ne) if self.tables.classify_command(&cmd).may_resend() => {
                let mut again = cmd.clone();
                again.ne = Some(usize::from(ne));
                let bytes = zeroize::Zeroizing::new(
                    again
                        .encode(Encoding::Short)
                        .or_else(|_| again.encode(Encoding::Extended))?,
                );
                self.send(&bytes)?
            }
            _ => first,
        };
        self.collect(&cmd, response)
    }

    /// Sends a command expected to succeed: returns its data on `9000`, or the response
    /// for the caller to turn into a typed protocol error.
    pub fn transmit_ok(
        &mut self,
        command: &Command,
    ) -> Result<Result<Vec<u8>, Response>, TransportError> {
        let r = self.transmit(command)?;
        Ok(if r.is_success() { Ok(r.data) } else { Err(r) })
    }

    fn send_chain(&mut self, cmd: &Command) -> Result<Response, TransportError> {
        // The splitting rules (CLA bit 0x10 on all but the last, Le on the last) live in
        // cps-apdu; this layer only sends and checks each acknowledgement.
        let chunk = self.config.chain_chunk.clamp(1, SHORT_MAX_LC);
        let parts = cps_apdu::chain::split(cmd, chunk)?;
        let count = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            let r = self.send(&zeroize::Zeroizing::new(part.encode(Encoding::Short)?))?;
            if i + 1 == count {
                return Ok(r);
            }
            if !r.sw.is_success() {
                return Err(TransportError::ChainingRefused { chunk: i, sw: r.sw });
            }
        }
        Err(TransportError::Protocol {
            attempted: "sending a command chain",
            detail: "empty chain".into(),
        })
    }

    fn collect(
        &mut self,
        cmd: &Command,
        mut response: Response,
    ) -> Result<Response, TransportError> {
        let mut rounds = 0usize;
        while let SwClass::MoreData(available) = response.sw.class() {
            rounds += 1;
            if rounds > self.config.max_get_response {
                return Err(TransportError::Protocol {
                    attempted: "collecting a response with GET RESPONSE",
                    detail: format!("card still announces more data after {} rounds", rounds - 1),
                });
            }
            let cla = self.config.get_response_cla.unwrap_or(cmd.cla & !0x1C);
            let get = Command::new(cla, 0xC0, 0x00, 0x00).with_ne(usize::from(available));
            let next = self.send(&get.to_bytes())?;
            if response.data.len() + next.data.len() > self.config.max_response_len {
                return Err(TransportError::Protocol {
                    attempted: "collecting a response with GET RESPONSE",
                    detail: format!("response exceeds {} bytes", self.config.max_response_len),
                });
            }
            response.data.extend_from_slice(&next.data);
            response.sw = next.sw;
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InProcessChannel, VirtualCard};
    use cps_apdu::StatusWord;

    /// A scriptable card for exchange-layer tests.
    #[derive(Default)]
    struct Scripted {
        log: Vec<Vec<u8>>,
        pending: Vec<u8>,
        chain: Vec<u8>,
        t0: bool,
        endless: bool,
    }

    impl VirtualCard for Scripted {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x00]
        }
        fn power_on(&mut self) {
            self.pending.clear();
        }
        fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.log.push(apdu.to_vec());
            let Ok(c) = Command::parse(apdu) else {
                return StatusWord::WRONG_LENGTH.to_bytes().to_vec();
            };
            match c.ins {
                // GET RESPONSE: serve up to Ne bytes of what is pending.
                0xC0 => {
                    if self.endless {
                        return vec![0xEE, 0x61, 0x01];
                    }
                    let n = c.ne.unwrap_or(256).min(self.pending.len());
                    let mut out: Vec<u8> = self.pending.drain(..n).collect();
                    let left = self.pending.len();
                    if left == 0 {
                        out.extend_from_slice(&[0x90, 0x00]);
                    } else {
                        out.extend_from_slice(&[0x61, left.min(256) as u8]);
                    }
                    out
                }
                // "READ": 600 bytes; T=0 style through 61xx, or 6Cxx if Le is wrong.
                0xB0 => {
                    let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
                    if self.t0 {
                        self.pending = data;
                        vec![0x61, 0x00]
                    } else if c.ne != Some(32) {
                        vec![0x6C, 0x20]
                    } else {
                        Response::success(data[..32].to_vec()).to_bytes()
                    }
                }
                // "ECHO" with chaining support.
                0xEE => {
                    self.chain.extend_from_slice(&c.data);
                    if c.is_chained() {
                        return vec![0x90, 0x00];
                    }
                    let all = std::mem::take(&mut self.chain);
                    let ne = c.ne.unwrap_or(0);
                    if all.len() > ne && ne <= 256 && all.len() > 256 {
                        let first: Vec<u8> = all[..256].to_vec();
                        self.pending = all[256..].to_vec();
                        let mut out = first;
                        out.extend_from_slice(&[0x61, self.pending.len().min(256) as u8]);
                        return out;
                    }
                    Response::success(all).to_bytes()
                }
                _ => StatusWord::INS_NOT_SUPPORTED.to_bytes().to_vec(),
            }
        }
    }

    #[test]
    fn get_response_collects_everything() {
        let card = Scripted {
            t0: true,
            ..Default::default()
        };
        let mut ex = Exchange::new(InProcessChannel::new(card));
        let r = ex
            .transmit(&Command::new(0, 0xB0, 0, 0).with_ne(256))
            .unwrap();
        assert_eq!(r.sw, StatusWord::SUCCESS);
        assert_eq!(r.data.len(), 600);
        assert_eq!(r.data[599], (599u32 & 0xFF) as u8);
        // READ, then GET RESPONSE 256 + 256 + 88.
        assert_eq!(ex.round_trips(), 4);
        let log = &ex.channel().card().log;
        assert_eq!(log[1], [0x00, 0xC0, 0x00, 0x00, 0x00]);
        assert_eq!(log[3], [0x00, 0xC0, 0x00, 0x00, 88]);
    }

    #[test]
    fn get_response_cla_is_configurable() {
        let card = Scripted {
            t0: true,
            ..Default::default()
        };
        let cfg = ExchangeConfig {
            get_response_cla: Some(0x80),
            ..Default::default()
        };
        let mut ex = Exchange::with_config(InProcessChannel::new(card), cfg);
        ex.transmit(&Command::new(0, 0xB0, 0, 0).with_ne(256))
            .unwrap();
        assert_eq!(ex.channel().card().log[1][0], 0x80);
    }

    #[test]
    fn wrong_le_is_resent_once() {
        let mut ex = Exchange::new(InProcessChannel::new(Scripted::default()));
        let r = ex
            .transmit(&Command::new(0, 0xB0, 0, 0).with_ne(256))
            .unwrap();
        assert!(r.is_success());
        assert_eq!(r.data.len(), 32);
        assert_eq!(ex.round_trips(), 2);
        assert_eq!(ex.channel().card().log[1], [0x00, 0xB0, 0x00, 0x00, 0x20]);
    }

    #[test]
    fn long_command_is_chained_without_extended_length() {
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
        let mut ex = Exchange::new(InProcessChannel::new(Scripted::default()));
        assert!(!ex.config().extended_length);
        let r = ex
            .transmit(&Command::new(0, 0xEE, 0, 0).with_data(&data).with_ne(65536))
            .unwrap();
        assert!(r.is_success());
        assert_eq!(r.data, data);
        let log = &ex.channel().card().log;
        // 3 chunks (255 + 255 + 90), then GET RESPONSE for the 344 bytes past the first 256.
        assert_eq!(log[0][0], 0x10);
        assert_eq!(log[1][0], 0x10);
        assert_eq!(log[2][0], 0x00);
        assert_eq!(log[2][4], 90);
        assert_eq!(ex.round_trips(), 5);
    }

    #[test]
    fn long_command_goes_extended_when_supported() {
        let data = vec![0x42u8; 3000];
        let cfg = ExchangeConfig {
            extended_length: true,
            ..Default::default()
        };
        let mut ex = Exchange::with_config(InProcessChannel::new(Scripted::default()), cfg);
        let r = ex
            .transmit(&Command::new(0, 0xEE, 0, 0).with_data(&data).with_ne(65536))
            .unwrap();
        assert_eq!(r.data, data);
        assert_eq!(ex.round_trips(), 1);
        assert_eq!(ex.channel().card().log[0].len(), 4 + 3 + 3000 + 2);
    }

    #[test]
    fn too_long_without_chaining_or_extended_is_an_error() {
        let cfg = ExchangeConfig {
            chaining: false,
            ..Default::default()
        };
        let mut ex = Exchange::with_config(InProcessChannel::new(Scripted::default()), cfg);
        let err = ex
            .transmit(&Command::new(0, 0xEE, 0, 0).with_data(&[0; 300]))
            .unwrap_err();
        assert!(matches!(err, TransportError::CommandTooLong { lc: 300 }));
        assert_eq!(ex.round_trips(), 0);
    }

    #[test]
    fn endless_61xx_is_bounded() {
        let card = Scripted {
            t0: true,
            endless: true,
            ..Default::default()
        };
        let cfg = ExchangeConfig {
            max_get_response: 10,
            ..Default::default()
        };
        let mut ex = Exchange::with_config(InProcessChannel::new(card), cfg);
        let err = ex
            .transmit(&Command::new(0, 0xB0, 0, 0).with_ne(256))
            .unwrap_err();
        assert!(matches!(err, TransportError::Protocol { .. }), "{err}");
        assert_eq!(ex.round_trips(), 11);
    }

    #[test]
    fn errors_pass_through_and_transaction_reuses_config() {
        let mut ex = Exchange::new(InProcessChannel::new(Scripted::default()));
        let r = ex.transmit(&Command::new(0, 0x99, 0, 0)).unwrap();
        assert_eq!(r.sw, StatusWord::INS_NOT_SUPPORTED);
        assert_eq!(
            ex.transmit_ok(&Command::new(0, 0x99, 0, 0))
                .unwrap()
                .unwrap_err()
                .sw,
            StatusWord::INS_NOT_SUPPORTED
        );
        let mut tx = ex.transaction().unwrap();
        assert!(
            tx.transmit(&Command::new(0, 0xB0, 0, 0).with_ne(32))
                .unwrap()
                .is_success()
        );
    }
}
