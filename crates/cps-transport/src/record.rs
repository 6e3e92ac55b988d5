//! APDU transcripts: a recorder that redacts secrets, and a replay channel.
//!
//! A transcript is plain text, one exchange per pair of lines, so that it can be reviewed,
//! diffed and attached to a bug report:
//!
//! ```text
//! # cps-rs APDU transcript v1
//! atr 3BAC00402A00122500648000031000900
//! > 00A4040C07E828BD080FD25047
//! < 9000
//! > 0020000104 *4
//! < 63C2
//! ```
//!
//! Each line is `>` (command) or `<` (response) followed by tokens: hex bytes, or `*N` for N
//! bytes that were redacted at recording time. Secrets never reach the transcript: the
//! [`RedactionPolicy`] hides what the command tables it knows ([`cps_apdu::table`]) mark
//! hidden: with the tables of cps-iasecc, cps-desfire and cps-fido2 registered (the facade
//! `cps` and the protocol clients register them; a [`Recorder`] learns those registered on the
//! exchange above it), the payloads of VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER
//! (ISO 7816-4 INS `20`, `21`, `24`, `2C`, for every class byte and logical channel), of CTAP
//! `authenticatorClientPIN` messages and their responses (FIDO CTAP 2.1 §6.5 over
//! NFCCTAP_MSG, INS `10`), and of DESFire ChangeKey and SetConfiguration (native commands
//! `C4`, `C6`, `5C` wrapped with CLA `90`). The data of a command no known table lists is
//! hidden too: a policy that does not know a protocol shows less, never a secret.
//!
//! Replaying matches hex tokens exactly and `*N` tokens by length only.

use std::fmt::Write as _;

use cps_apdu::table::{CommandTables, Hidden, Protocol};

use crate::{CardChannel, Reborrow, TransportError};

/// One segment of a recorded APDU.
#[derive(Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bytes kept as they were.
    Bytes(Vec<u8>),
    /// This many bytes were hidden.
    Redacted(usize),
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Bytes(b) => write!(f, "{}", hex::encode_upper(b)),
            Segment::Redacted(n) => write!(f, "*{n}"),
        }
    }
}

/// A recorded APDU (command or response), possibly with redacted parts.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Recorded(pub Vec<Segment>);

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Recorded {
    /// A fully visible APDU.
    pub fn plain(bytes: &[u8]) -> Self {
        Recorded(vec![Segment::Bytes(bytes.to_vec())])
    }

    /// An APDU whose `hide` range is redacted (the range is clamped to the APDU).
    pub fn with_hidden(bytes: &[u8], hide: std::ops::Range<usize>) -> Self {
        let end = hide.end.min(bytes.len());
        let start = hide.start.min(end);
        let mut segs = Vec::new();
        if let Some(head) = bytes.get(..start).filter(|h| !h.is_empty()) {
            segs.push(Segment::Bytes(head.to_vec()));
        }
        if end > start {
            segs.push(Segment::Redacted(end - start));
        }
        if let Some(tail) = bytes.get(end..).filter(|t| !t.is_empty()) {
            segs.push(Segment::Bytes(tail.to_vec()));
        }
        Recorded(segs)
    }

    /// Total length in bytes, redacted parts included.
    pub fn len(&self) -> usize {
        self.0
            .iter()
            .map(|s| match s {
                Segment::Bytes(b) => b.len(),
                Segment::Redacted(n) => *n,
            })
            .sum()
    }

    /// Whether the APDU is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether any part was redacted.
    pub fn is_redacted(&self) -> bool {
        self.0.iter().any(|s| matches!(s, Segment::Redacted(_)))
    }

    /// Whether `bytes` matches: visible parts exactly, redacted parts by length.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let mut rest = bytes;
        for seg in &self.0 {
            let n = match seg {
                Segment::Bytes(b) => {
                    if !rest.starts_with(b) {
                        return false;
                    }
                    b.len()
                }
                Segment::Redacted(n) => *n,
            };
            match rest.get(n..) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }

    /// The bytes, with redacted parts filled with zeros (for replaying responses).
    pub fn to_bytes_zero_filled(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for seg in &self.0 {
            match seg {
                Segment::Bytes(b) => out.extend_from_slice(b),
                Segment::Redacted(n) => out.resize(out.len() + n, 0),
            }
        }
        out
    }

    /// The transcript form: hex and `*N` tokens separated by spaces.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (i, seg) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{seg:?}");
        }
        s
    }

    /// Parses the transcript form.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let mut segs = Vec::new();
        for tok in text.split_whitespace() {
            if let Some(n) = tok.strip_prefix('*') {
                let n: usize = n
                    .parse()
                    .map_err(|_| format!("bad redaction token {tok:?}"))?;
                if n > 1 << 20 {
                    return Err(format!("redaction of {n} bytes is too large"));
                }
                segs.push(Segment::Redacted(n));
            } else {
                let b = hex::decode(tok).map_err(|e| format!("bad hex {tok:?}: {e}"))?;
                segs.push(Segment::Bytes(b));
            }
        }
        Ok(Recorded(segs))
    }
}

/// One command and its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The command as recorded.
    pub command: Recorded,
    /// The response as recorded.
    pub response: Recorded,
}

/// A recorded session with a card.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transcript {
    /// The card's ATR.
    pub atr: Vec<u8>,
    /// The exchanges, in order.
    pub exchanges: Vec<Exchange>,
}

impl Transcript {
    /// The text form (see the module documentation).
    pub fn to_text(&self) -> String {
        let mut s = String::from("# cps-rs APDU transcript v1\n");
        let _ = writeln!(s, "atr {}", hex::encode_upper(&self.atr));
        for ex in &self.exchanges {
            let _ = writeln!(s, "> {}", ex.command.to_text());
            let _ = writeln!(s, "< {}", ex.response.to_text());
        }
        s
    }

    /// Parses the text form. `#` starts a comment line; blank lines are ignored.
    pub fn from_text(text: &str) -> Result<Self, TransportError> {
        let mut t = Transcript::default();
        let mut pending: Option<Recorded> = None;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let err = |reason: String| TransportError::Transcript {
                line: line_no,
                reason,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(atr) = line
                .strip_prefix("atr")
                .filter(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
            {
                t.atr = hex::decode(atr.trim()).map_err(|e| err(format!("bad ATR hex: {e}")))?;
            } else if let Some(cmd) = line.strip_prefix('>') {
                if pending.is_some() {
                    return Err(err(
                        "two commands in a row: a response line is missing".into()
                    ));
                }
                let rec = Recorded::from_text(cmd).map_err(err)?;
                if rec.len() < 4 {
                    return Err(err("command shorter than its 4-byte header".into()));
                }
                pending = Some(rec);
            } else if let Some(resp) = line.strip_prefix('<') {
                let command = pending
                    .take()
                    .ok_or_else(|| err("response without a command".into()))?;
                let response = Recorded::from_text(resp).map_err(err)?;
                // One byte is a native DESFire status alone; nothing at all is no answer.
                if response.is_empty() {
                    return Err(err("empty response".into()));
                }
                t.exchanges.push(Exchange { command, response });
            } else {
                return Err(err(format!("unrecognised line {line:?}")));
            }
        }
        if pending.is_some() {
            return Err(TransportError::Transcript {
                line: text.lines().count(),
                reason: "transcript ends with a command and no response".into(),
            });
        }
        Ok(t)
    }
}

/// Decides which parts of each exchange are secret.
///
/// The policy keeps a little state, because a CTAP ClientPIN message may be split over a
/// command chain and its response over several GET RESPONSE rounds.
///
/// The default policy knows the ISO 7816-4 basics only ([`cps_apdu::table::ISO7816`]) and
/// hides the data of every other command; [`RedactionPolicy::new`] takes the tables of the
/// protocols spoken.
#[derive(Debug, Clone, Default)]
pub struct RedactionPolicy {
    /// Extra `(CLA mask, CLA value, INS)` rules whose data field is always redacted.
    pub extra: Vec<(u8, u8, u8)>,
    tables: CommandTables,
    ctap_secret: bool,
    /// The previous NFCCTAP_MSG was a chained part of a message without secret: its next part
    /// starts with message bytes, not a CTAP command byte.
    ctap_chain: bool,
}

impl RedactionPolicy {
    /// A policy reading these command tables.
    pub fn new(tables: CommandTables) -> Self {
        RedactionPolicy {
            tables,
            ..RedactionPolicy::default()
        }
    }

    /// Adds command tables (what [`Recorder`] does when a client registers its table).
    pub fn learn(&mut self, tables: &CommandTables) {
        self.tables.extend(tables);
    }

    /// The command tables read.
    pub fn tables(&self) -> &CommandTables {
        &self.tables
    }

    /// Returns the redacted forms of one exchange.
    pub fn redact(&mut self, command: &[u8], response: &[u8]) -> (Recorded, Recorded) {
        let (cla, ins) = match command {
            [cla, ins, ..] => (*cla, *ins),
            // Not a command: nothing to show of what it was answered.
            _ => {
                let answer = 0..response.len().saturating_sub(2);
                return (
                    Recorded::plain(command),
                    Recorded::with_hidden(response, answer),
                );
            }
        };
        let data = data_range(command);
        let plain_response = || Recorded::plain(response);
        let hide_response_data =
            || Recorded::with_hidden(response, 0..response.len().saturating_sub(2));

        // What is secret comes from the command tables (cps_apdu::table), by instruction for
        // every class byte: VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER whatever the
        // CLA (interindustry or proprietary, any logical channel), DESFire ChangeKey and
        // SetConfiguration (CLA 90), CTAP authenticatorClientPIN; and whatever no table lists.
        let info = self.tables.classify(command);
        // CTAP over ISO 7816 (NFCCTAP_MSG, CLA 80 or chained 90, INS 10): authenticatorClientPIN
        // is CTAP command byte 0x06 (CTAP 2.1 §6.5). Keep the command byte, hide the rest,
        // and hide response data until the message is complete. The later parts of a chained
        // message carry message bytes, not a command byte: they follow the first part.
        if info.protocol == Protocol::CtapNfc && ins == 0x10 {
            // Only a chained part the card accepted (90 00) is followed by the next part of
            // the same message; after a refused part the next NFCCTAP_MSG starts a new one.
            let continues = cla & 0x10 != 0 && response.ends_with(&[0x90, 0x00]);
            if self.ctap_chain && !self.ctap_secret {
                self.ctap_chain = continues;
                return (Recorded::plain(command), plain_response());
            }
            self.ctap_chain = continues;
            let continuation = self.ctap_secret;
            // A secret message (command byte visible), or one whose command byte no table
            // lists (all hidden): its later parts and its response stay hidden too.
            if continuation || info.hidden != Hidden::Nothing {
                let from = if continuation || info.hidden != Hidden::DataAfterFirstAndResponse {
                    data.start
                } else {
                    data.start + 1
                };
                self.ctap_secret = true;
                let rec = Recorded::with_hidden(command, from..data.end);
                let resp = hide_response_data();
                if cla & 0x10 == 0 && !response.ends_with(&[0x91, 0x00]) && !is_61xx(response) {
                    self.ctap_secret = false;
                }
                return (rec, resp);
            }
            self.ctap_secret = false;
        } else {
            self.ctap_chain = false;
        }
        if info.hidden == Hidden::Data {
            self.ctap_secret = false;
            return (Recorded::with_hidden(command, data), plain_response());
        }
        if info.hidden == Hidden::DataAndResponse {
            // A command no table lists: its data and its answer (also when GET RESPONSE
            // continues it) are hidden.
            self.ctap_secret = is_61xx(response);
            return (Recorded::with_hidden(command, data), hide_response_data());
        }
        // GET RESPONSE / NFCCTAP_GETRESPONSE that continue a secret response.
        if self.ctap_secret && (ins == 0xC0 || (cla & 0xEF == 0x80 && ins == 0x11)) {
            if !is_61xx(response) && !response.ends_with(&[0x91, 0x00]) {
                self.ctap_secret = false;
            }
            return (Recorded::plain(command), hide_response_data());
        }
        for &(mask, value, extra_ins) in &self.extra {
            if cla & mask == value && ins == extra_ins {
                return (Recorded::with_hidden(command, data), plain_response());
            }
        }
        (Recorded::plain(command), plain_response())
    }
}

fn is_61xx(response: &[u8]) -> bool {
    response.len() >= 2 && response.get(response.len() - 2) == Some(&0x61)
}

/// The byte range of the data field of an encoded command APDU (empty if none).
fn data_range(apdu: &[u8]) -> std::ops::Range<usize> {
    match cps_apdu::Command::parse(apdu) {
        Ok(c) if !c.data.is_empty() => {
            // Short: header + 1 length byte; extended: header + 3.
            let start = if apdu.get(4) == Some(&0) { 7 } else { 5 };
            start..start + c.data.len()
        }
        Ok(_) => apdu.len()..apdu.len(),
        // Unparseable: hide everything after the header to be safe.
        Err(_) => apdu.len().min(4)..apdu.len(),
    }
}

/// A channel wrapper that records every exchange, redacted.
pub struct Recorder<C: CardChannel> {
    inner: C,
    policy: RedactionPolicy,
    transcript: Transcript,
}

impl<C: CardChannel> Recorder<C> {
    /// Records with the default redaction policy.
    pub fn new(inner: C) -> Self {
        Self::with_policy(inner, RedactionPolicy::default())
    }

    /// Records with a custom redaction policy.
    pub fn with_policy(inner: C, policy: RedactionPolicy) -> Self {
        let transcript = Transcript {
            atr: inner.atr().to_vec(),
            exchanges: Vec::new(),
        };
        Recorder {
            inner,
            policy,
            transcript,
        }
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Stops recording and returns the channel and the transcript.
    pub fn finish(self) -> (C, Transcript) {
        (self.inner, self.transcript)
    }
}

impl<C: CardChannel> CardChannel for Recorder<C> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.inner.transmit(command)?;
        let (c, r) = self.policy.redact(command, &response);
        self.transcript.exchanges.push(Exchange {
            command: c,
            response: r,
        });
        Ok(response)
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.inner.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        // Recording goes on inside the transaction: reborrow this recorder.
        Ok(Box::new(Reborrow(self)))
    }
    fn reader_name(&self) -> Option<&str> {
        self.inner.reader_name()
    }
    /// The recorder redacts with the tables the protocol clients register, and passes them on.
    fn learn_commands(&mut self, tables: &CommandTables) {
        self.policy.learn(tables);
        self.inner.learn_commands(tables);
    }
}

/// A channel that plays a transcript back: the code under test must send the recorded
/// commands in order (redacted parts are matched by length), and gets the recorded responses.
pub struct ReplayChannel {
    transcript: Transcript,
    next: usize,
    /// Redacts a mismatching command in the error, with the tables the clients registered.
    tables: CommandTables,
}

impl ReplayChannel {
    /// Replays a transcript from its first exchange.
    pub fn new(transcript: Transcript) -> Self {
        ReplayChannel {
            transcript,
            next: 0,
            tables: CommandTables::default(),
        }
    }

    /// Exchanges played so far.
    pub fn played(&self) -> usize {
        self.next
    }

    /// Whether every recorded exchange was played.
    pub fn is_finished(&self) -> bool {
        self.next == self.transcript.exchanges.len()
    }
}

impl CardChannel for ReplayChannel {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let Some(ex) = self.transcript.exchanges.get(self.next) else {
            return Err(TransportError::ReplayExhausted {
                exchanges: self.next,
            });
        };
        if !ex.command.matches(command) {
            // Show the sent command redacted the same way as the recorded one, never raw.
            let (got, _) = RedactionPolicy::new(self.tables.clone()).redact(command, &[0x90, 0x00]);
            return Err(TransportError::ReplayMismatch {
                index: self.next,
                expected: ex.command.to_text(),
                got: got.to_text(),
            });
        }
        self.next += 1;
        Ok(ex.response.to_bytes_zero_filled())
    }
    fn atr(&self) -> &[u8] {
        &self.transcript.atr
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(Reborrow(self)))
    }
    fn reader_name(&self) -> Option<&str> {
        Some("transcript replay")
    }
    fn learn_commands(&mut self, tables: &CommandTables) {
        self.tables.extend(tables);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Exchange as Ex, InProcessChannel, VirtualCard};
    use cps_apdu::Command;

    struct PinCard {
        tries: u8,
    }
    impl VirtualCard for PinCard {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x02, 0x14, 0x50]
        }
        fn power_on(&mut self) {}
        fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
            match Command::parse(apdu) {
                Ok(c) if c.ins == 0x20 && c.data == b"1234" => vec![0x90, 0x00],
                Ok(c) if c.ins == 0x20 => {
                    self.tries = self.tries.saturating_sub(u8::from(!c.data.is_empty()));
                    vec![0x63, 0xC0 | self.tries]
                }
                Ok(c) if c.ins == 0x10 => vec![0xA1, 0x02, 0x58, 0x20, 0x90, 0x00],
                Ok(_) => vec![0x90, 0x00],
                Err(_) => vec![0x67, 0x00],
            }
        }
    }

    #[test]
    fn recorder_redacts_pins_and_replay_matches_by_length() {
        let mut ex = Ex::new(Recorder::new(InProcessChannel::new(PinCard { tries: 3 })));
        // The clients of these protocols register their tables; the recorder learns them.
        ex.register(&cps_iasecc::table::TABLE);
        ex.register(&cps_fido2::table::TABLE);
        ex.transmit(&Command::new(0, 0xA4, 4, 0x0C).with_data(&[0xE8, 0x28]))
            .unwrap();
        ex.transmit(&Command::new(0, 0x20, 0, 1).with_data(b"9999"))
            .unwrap();
        ex.transmit(&Command::new(0, 0x20, 0, 1)).unwrap();
        ex.transmit(&Command::new(0x80, 0x10, 0x80, 0).with_data(&[0x06, 0xA2, 0x01, 0x02]))
            .unwrap();
        let (_, transcript) = ex.into_inner().finish();
        let text = transcript.to_text();
        assert!(!text.contains("39393939"), "PIN leaked: {text}");
        assert!(text.contains("> 0020000104 *4\n< 63C2"), "{text}");
        assert!(
            text.contains("> 0020000100\n") || text.contains("> 00200001\n"),
            "{text}"
        );
        assert!(text.contains("> 801080000406 *3\n< *4 9000"), "{text}");
        assert!(text.contains("> 00A4040C02E828\n"), "{text}");

        // Round trip through text, then replay: a different PIN of the same length matches.
        let parsed = Transcript::from_text(&text).unwrap();
        assert_eq!(parsed, transcript);
        let mut replay = Ex::new(ReplayChannel::new(parsed));
        replay
            .transmit(&Command::new(0, 0xA4, 4, 0x0C).with_data(&[0xE8, 0x28]))
            .unwrap();
        let r = replay
            .transmit(&Command::new(0, 0x20, 0, 1).with_data(b"0000"))
            .unwrap();
        assert_eq!(r.sw.retries_left(), Some(2));
        // A different command is a mismatch, reported without the secret.
        let err = replay
            .transmit(&Command::new(0, 0x24, 0, 1).with_data(b"12345678"))
            .unwrap_err();
        match err {
            TransportError::ReplayMismatch { index: 2, got, .. } => {
                assert_eq!(got, "0024000108 *8")
            }
            e => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn without_the_protocol_tables_data_is_hidden_and_nothing_is_resent() {
        // Nothing registered: VERIFY, a CTAP ClientPIN and a DESFire ChangeKey are unknown, so
        // their data is hidden (the safe default), never shown.
        let mut policy = RedactionPolicy::default();
        for cmd in [
            &[0x00, 0x20, 0x00, 0x01, 0x04, 0x31, 0x32, 0x33, 0x34][..],
            &[0x80, 0x10, 0x80, 0x00, 0x03, 0x06, 0xA2, 0x01],
            &[0x90, 0xC4, 0x00, 0x00, 0x02, 0x01, 0xAA, 0x00],
        ] {
            let (c, _) = policy.redact(cmd, &[0x90, 0x00]);
            assert!(c.is_redacted(), "{c:?}");
            assert!(!CommandTables::default().classify(cmd).may_resend());
        }
        // ISO basics stay visible.
        let (c, _) = policy.redact(&[0x00, 0xA4, 0x04, 0x0C, 0x02, 0xE8, 0x28], &[0x90, 0x00]);
        assert!(!c.is_redacted());
    }

    #[test]
    fn a_refused_or_unknown_ctap_chain_does_not_unveil_what_follows() {
        let tables = CommandTables::default().with(&cps_fido2::table::TABLE);
        let mut policy = RedactionPolicy::new(tables);
        // A chained part of a makeCredential message, refused by the card.
        let (c, _) = policy.redact(
            &[0x90, 0x10, 0x80, 0x00, 0x03, 0x01, 0xA1, 0x01],
            &[0x6A, 0x80],
        );
        assert!(!c.is_redacted());
        // The next NFCCTAP_MSG starts a new message: authenticatorClientPIN, hidden.
        let (c, r) = policy.redact(
            &[0x80, 0x10, 0x80, 0x00, 0x03, 0x06, 0xA2, 0x01, 0x00],
            &[0x00, 0xA1, 0x90, 0x00],
        );
        assert!(c.is_redacted() && r.is_redacted(), "{c:?} {r:?}");
        // A chained message whose command byte no table lists: hidden in every part.
        let (c, _) = policy.redact(&[0x90, 0x10, 0x80, 0x00, 0x02, 0x55, 0x01], &[0x90, 0x00]);
        assert!(c.is_redacted());
        let (c, r) = policy.redact(
            &[0x80, 0x10, 0x80, 0x00, 0x02, 0x02, 0x03, 0x00],
            &[0x00, 0x90, 0x00],
        );
        assert!(c.is_redacted() && r.is_redacted(), "{c:?} {r:?}");
        // An ISO command no table lists: its answer is hidden too.
        let (_, r) = policy.redact(&[0x00, 0x99, 0x00, 0x00, 0x00], &[0x12, 0x34, 0x90, 0x00]);
        assert!(r.is_redacted());
    }

    #[test]
    fn replay_exhaustion_and_bad_transcripts() {
        let t = Transcript::from_text("atr 3B00\n> 00A40000\n< 9000\n").unwrap();
        let mut ch = ReplayChannel::new(t);
        assert_eq!(ch.transmit(&[0, 0xA4, 0, 0]).unwrap(), [0x90, 0]);
        assert!(ch.is_finished());
        assert!(matches!(
            ch.transmit(&[0, 0xA4, 0, 0]),
            Err(TransportError::ReplayExhausted { exchanges: 1 })
        ));
        // An empty ATR round-trips (found by the transcript_parse fuzz target).
        let empty = Transcript::default();
        assert_eq!(Transcript::from_text(&empty.to_text()).unwrap(), empty);
        for bad in [
            "> 00A4\n< 9000",
            "< 9000",
            "> 00A40000\n> 00A40000",
            "> 00A40000",
            "> zz\n< 9000",
            "> 00A40000 *x\n< 9000",
            "hello",
        ] {
            assert!(Transcript::from_text(bad).is_err(), "{bad:?}");
        }
    }
}
