//! Command chaining (ISO/IEC 7816-4:2020 §5.3.3; §5.4.1 for the CLA coding).
//!
//! A command whose data does not fit one APDU is sent as a chain: every command but the last
//! has bit 5 of CLA set (`CLA | 0x10`, "the command is not the last command of a chain") and
//! no Le; the last carries the original CLA and Le. All commands of a chain have the same
//! INS, P1 and P2, and the card answers `9000` to each but the last.
//!
//! Bit 5 means chaining in both interindustry class ranges (`0x`/`1x` and `4x`–`7x`,
//! ISO 7816-4 Tables 2 and 3), and proprietary classes reuse it: CTAP over ISO 7816 chains
//! `80` commands as `90` (FIDO CTAP 2.1 §11.3.2.1, "NFCCTAP_MSG").
//!
//! [`split`] is the host side; [`Reassembler`] is the card side (simulated cards).

use alloc::vec::Vec;

use crate::{ApduError, Command, EXTENDED_MAX_LC, StatusWord};

/// CLA bit announcing "more commands of this chain follow" (ISO 7816-4 §5.4.1, b5).
pub const CHAINING_BIT: u8 = 0x10;

/// Splits `cmd` into chained commands of at most `max_chunk` data bytes (1..=65535).
///
/// Every part but the last has `CLA | 0x10` and no Le; the last has the original CLA and
/// Ne. A command whose data fits (including no data) is returned alone, unchanged. Hosts
/// usually chain in 255-byte parts so that each fits a short APDU; larger parts are
/// encoded extended by [`Command::to_bytes`].
///
/// Fails when `max_chunk` is 0 or above 65535, when the command is invalid
/// ([`Command::validate`]) or when its CLA already has the chaining bit.
pub fn split(cmd: &Command, max_chunk: usize) -> Result<Vec<Command>, ApduError> {
    if max_chunk == 0 || max_chunk > EXTENDED_MAX_LC {
        return Err(ApduError::Chaining("chunk size must be 1..=65535"));
    }
    cmd.validate()?;
    if cmd.cla & CHAINING_BIT != 0 {
        return Err(ApduError::Chaining("CLA already has the chaining bit (10)"));
    }
    if cmd.data.len() <= max_chunk {
        return Ok(alloc::vec![cmd.clone()]);
    }
    let mut out = Vec::with_capacity(cmd.data.len().div_ceil(max_chunk));
    let mut chunks = cmd.data.chunks(max_chunk).peekable();
    while let Some(part) = chunks.next() {
        let mut c = Command::new(cmd.cla, cmd.ins, cmd.p1, cmd.p2).with_data(part);
        if chunks.peek().is_some() {
            c.cla |= CHAINING_BIT;
        } else {
            c.ne = cmd.ne;
        }
        out.push(c);
    }
    Ok(out)
}

/// What the card does with one received command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chained {
    /// Part of a chain: answer `9000` and wait for the rest.
    NeedMore,
    /// A complete command (alone, or the reassembled chain, with the CLA of its last part
    /// and its Le) to execute.
    Complete(Command),
}

/// Card-side reassembly of chained commands.
///
/// Feed every parsed command to [`Reassembler::push`]. On error, answer the returned status
/// word; the chain in progress is dropped and the next command starts afresh:
///
/// | status | when |
/// |--------|------|
/// | `6884` | chaining is disabled ([`Reassembler::unsupported`]) and a chained command arrives |
/// | `6883` | a chain is in progress and a command with another CLA, INS, P1 or P2 arrives |
/// | `6700` | the chain's data would exceed the configured limit |
///
/// Le in commands other than the last is ignored; the chain's Ne is that of the last.
#[derive(Debug, Clone)]
pub struct Reassembler {
    pending: Option<Command>,
    max_len: usize,
    supported: bool,
}

impl Default for Reassembler {
    /// Accepts chains of up to 65535 data bytes, the extended-length maximum.
    fn default() -> Self {
        Reassembler::new(EXTENDED_MAX_LC)
    }
}

impl Reassembler {
    /// A reassembler accepting chains of at most `max_len` data bytes in all.
    pub fn new(max_len: usize) -> Self {
        Reassembler {
            pending: None,
            max_len,
            supported: true,
        }
    }

    /// A card that does not support chaining: chained commands get `6884`, others pass.
    pub fn unsupported() -> Self {
        Reassembler {
            pending: None,
            max_len: 0,
            supported: false,
        }
    }

    /// Whether a chain is in progress.
    pub fn in_progress(&self) -> bool {
        self.pending.is_some()
    }

    /// Data bytes collected so far in the chain in progress.
    pub fn pending_len(&self) -> usize {
        self.pending.as_ref().map_or(0, |c| c.data.len())
    }

    /// Drops a chain in progress (card reset, application change).
    pub fn clear(&mut self) {
        self.pending = None;
    }

    /// Takes one command; see the type's documentation for the errors.
    pub fn push(&mut self, cmd: Command) -> Result<Chained, StatusWord> {
        let more = cmd.cla & CHAINING_BIT != 0;
        if more && !self.supported {
            return Err(StatusWord::CHAINING_NOT_SUPPORTED);
        }
        let base_cla = cmd.cla & !CHAINING_BIT;
        match self.pending.take() {
            None if !more => Ok(Chained::Complete(cmd)),
            None => {
                if cmd.data.len() > self.max_len {
                    return Err(StatusWord::WRONG_LENGTH);
                }
                let mut head = cmd;
                head.cla = base_cla;
                head.ne = None;
                self.pending = Some(head);
                Ok(Chained::NeedMore)
            }
            Some(mut head) => {
                if head.cla != base_cla
                    || head.ins != cmd.ins
                    || head.p1 != cmd.p1
                    || head.p2 != cmd.p2
                {
                    // ISO 7816-4 Table 6: 6883 "last command of the chain expected".
                    return Err(StatusWord::LAST_COMMAND_EXPECTED);
                }
                if head.data.len().saturating_add(cmd.data.len()) > self.max_len {
                    return Err(StatusWord::WRONG_LENGTH);
                }
                head.data.extend_from_slice(&cmd.data);
                if more {
                    self.pending = Some(head);
                    Ok(Chained::NeedMore)
                } else {
                    head.ne = cmd.ne;
                    Ok(Chained::Complete(head))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_reassemble() {
        // PSO DECIPHER (00 2A 80 86, docs/card-layout.md) with a 600-byte cryptogram.
        let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let cmd = Command::new(0x00, 0x2A, 0x80, 0x86)
            .with_data(&data)
            .with_ne(256);
        let parts = split(&cmd, 255).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].cla, 0x10);
        assert_eq!(parts[0].ne, None);
        assert_eq!(parts[1].cla, 0x10);
        assert_eq!(parts[2].cla, 0x00);
        assert_eq!(parts[2].data.len(), 90);
        assert_eq!(parts[2].ne, Some(256));
        // Every part encodes short: 10 2A 80 86 FF <255 bytes>.
        assert_eq!(&parts[0].to_bytes()[..5], &[0x10, 0x2A, 0x80, 0x86, 0xFF]);
        assert_eq!(parts[0].to_bytes().len(), 5 + 255);
        let mut r = Reassembler::default();
        assert_eq!(r.push(parts[0].clone()), Ok(Chained::NeedMore));
        assert!(r.in_progress());
        assert_eq!(r.push(parts[1].clone()), Ok(Chained::NeedMore));
        assert_eq!(r.pending_len(), 510);
        assert_eq!(r.push(parts[2].clone()), Ok(Chained::Complete(cmd)));
        assert!(!r.in_progress());

        // Exact multiple of the chunk size: no empty trailing part.
        let cmd = Command::new(0x00, 0xDB, 0x3F, 0xFF).with_data(&[9; 510]);
        let parts = split(&cmd, 255).unwrap();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.data.len() == 255));
        // Extended-size parts.
        let cmd = Command::new(0x00, 0xDB, 0x3F, 0xFF).with_data(&[9; 3000]);
        let parts = split(&cmd, 1024).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.data.len()).collect::<Vec<_>>(),
            [1024, 1024, 952]
        );
    }

    #[test]
    fn proprietary_class_chains_too() {
        // CTAP NFCCTAP_MSG: CLA 80, chained as 90.
        let cmd = Command::new(0x80, 0x10, 0x80, 0x00)
            .with_data(&[7u8; 300])
            .with_ne(256);
        let parts = split(&cmd, 255).unwrap();
        assert_eq!(parts[0].cla, 0x90);
        assert_eq!(parts[1].cla, 0x80);
        let mut r = Reassembler::default();
        r.push(parts[0].clone()).unwrap();
        assert_eq!(r.push(parts[1].clone()), Ok(Chained::Complete(cmd)));
        // CLA 45: further interindustry class, logical channel 4 + 5 = 9 (ISO 7816-4 Table 3).
        let cmd = Command::new(0x45, 0xD6, 0, 0).with_data(&[1; 300]);
        let parts = split(&cmd, 200).unwrap();
        assert_eq!(parts[0].cla, 0x55);
        let mut r = Reassembler::default();
        r.push(parts[0].clone()).unwrap();
        assert_eq!(r.push(parts[1].clone()), Ok(Chained::Complete(cmd)));
    }

    #[test]
    fn short_commands_pass_through() {
        let mut r = Reassembler::new(10);
        let cmd = Command::new(0x00, 0xA4, 0x04, 0x00).with_data(&[0xA0; 16]);
        // Unchained commands are not limited by the chain limit.
        assert_eq!(r.push(cmd.clone()), Ok(Chained::Complete(cmd.clone())));
        assert_eq!(split(&cmd, 255).unwrap(), [cmd]);
        let empty = Command::new(0x00, 0x84, 0x00, 0x00).with_ne(8);
        assert_eq!(split(&empty, 1).unwrap(), [empty]);
    }

    #[test]
    fn interrupted_or_oversized_chains_are_refused() {
        let mut r = Reassembler::new(300);
        r.push(Command::new(0x10, 0x2A, 0x80, 0x86).with_data(&[1; 200]))
            .unwrap();
        assert_eq!(
            r.push(Command::new(0x00, 0xB0, 0, 0).with_ne(10)),
            Err(StatusWord::LAST_COMMAND_EXPECTED)
        );
        assert!(!r.in_progress());
        // P2 changed mid-chain.
        r.push(Command::new(0x10, 0x2A, 0x80, 0x86).with_data(&[1; 10]))
            .unwrap();
        assert_eq!(
            r.push(Command::new(0x00, 0x2A, 0x80, 0x84).with_data(&[1; 10])),
            Err(StatusWord::LAST_COMMAND_EXPECTED)
        );
        // Logical channel changed mid-chain (CLA 10 then 01).
        r.push(Command::new(0x10, 0x2A, 0x80, 0x86).with_data(&[1; 10]))
            .unwrap();
        assert_eq!(
            r.push(Command::new(0x01, 0x2A, 0x80, 0x86).with_data(&[1; 10])),
            Err(StatusWord::LAST_COMMAND_EXPECTED)
        );
        // Too long in all, then too long in one part.
        r.push(Command::new(0x10, 0x2A, 0x80, 0x86).with_data(&[1; 200]))
            .unwrap();
        assert_eq!(
            r.push(Command::new(0x00, 0x2A, 0x80, 0x86).with_data(&[1; 200])),
            Err(StatusWord::WRONG_LENGTH)
        );
        assert_eq!(
            r.push(Command::new(0x10, 0x2A, 0x80, 0x86).with_data(&[1; 301])),
            Err(StatusWord::WRONG_LENGTH)
        );
        // After an error the next command starts afresh.
        let ok = Command::new(0x00, 0xB0, 0, 0).with_ne(4);
        assert_eq!(r.push(ok.clone()), Ok(Chained::Complete(ok)));
    }

    #[test]
    fn chaining_can_be_unsupported() {
        let mut r = Reassembler::unsupported();
        assert_eq!(
            r.push(Command::new(0x10, 0x2A, 0x80, 0x86).with_data(&[1; 10])),
            Err(StatusWord::CHAINING_NOT_SUPPORTED)
        );
        let ok = Command::new(0x00, 0x2A, 0x80, 0x86).with_data(&[1; 10]);
        assert_eq!(r.push(ok.clone()), Ok(Chained::Complete(ok)));
    }

    #[test]
    fn split_refuses_bad_input() {
        let cmd = Command::new(0, 0xD6, 0, 0).with_data(&[1; 10]);
        assert!(matches!(split(&cmd, 0), Err(ApduError::Chaining(_))));
        assert!(matches!(split(&cmd, 65_536), Err(ApduError::Chaining(_))));
        let chained = Command::new(0x10, 0xD6, 0, 0).with_data(&[1; 10]);
        assert!(matches!(split(&chained, 4), Err(ApduError::Chaining(_))));
        let bad_ne = Command::new(0, 0xD6, 0, 0).with_ne(0);
        assert!(matches!(
            split(&bad_ne, 4),
            Err(ApduError::InvalidNe { ne: 0 })
        ));
    }
}
