//! Command chaining (ISO/IEC 7816-4:2020 §5.4.1).
//!
//! A command whose data does not fit one APDU is sent as a chain: every command but the last
//! has bit 5 of CLA set (`CLA | 0x10`) and no Le; the last carries the original CLA and Le.
//! The bit is the same in proprietary classes: CTAP over ISO 7816 chains `80` commands as `90`
//! (FIDO CTAP 2.1 §11.3.2.1).
//!
//! [`split`] is the host side; [`Reassembler`] is the card side.

use alloc::vec::Vec;

use crate::{ApduError, Command, StatusWord};

/// CLA bit announcing "more commands of this chain follow".
pub const CHAINING_BIT: u8 = 0x10;

/// Splits `cmd` into chained commands of at most `max_chunk` data bytes (1..=255).
///
/// A command that fits is returned alone, unchanged.
pub fn split(cmd: &Command, max_chunk: usize) -> Result<Vec<Command>, ApduError> {
    if max_chunk == 0 || max_chunk > crate::SHORT_MAX_LC {
        return Err(ApduError::Chaining("chunk size must be 1..=255"));
    }
    cmd.validate()?;
    if cmd.data.len() <= max_chunk {
        return Ok(alloc::vec![cmd.clone()]);
    }
    let mut out = Vec::with_capacity(cmd.data.len().div_ceil(max_chunk));
    let mut chunks = cmd.data.chunks(max_chunk).peekable();
    while let Some(part) = chunks.next() {
        let last = chunks.peek().is_none();
        let mut c = Command::new(cmd.cla, cmd.ins, cmd.p1, cmd.p2).with_data(part);
        if last {
            c.ne = cmd.ne;
        } else {
            c.cla |= CHAINING_BIT;
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
    /// A complete command (alone, or the reassembled chain) to execute.
    Complete(Command),
}

/// Card-side reassembly of chained commands.
///
/// Feed every parsed command to [`Reassembler::push`]; on error, answer the returned status
/// word (the chain is dropped).
#[derive(Debug, Clone)]
pub struct Reassembler {
    pending: Option<Command>,
    max_len: usize,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(crate::EXTENDED_MAX_LC)
    }
}

impl Reassembler {
    /// A reassembler accepting at most `max_len` data bytes in all.
    pub fn new(max_len: usize) -> Self {
        Reassembler {
            pending: None,
            max_len,
        }
    }

    /// Whether a chain is in progress.
    pub fn in_progress(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops a chain in progress (e.g. on reset).
    pub fn clear(&mut self) {
        self.pending = None;
    }

    /// Takes one command. Errors are the status words to answer: `6883` when a chain is
    /// interrupted by a different command, `6700` when the total exceeds the limit.
    pub fn push(&mut self, cmd: Command) -> Result<Chained, StatusWord> {
        let more = cmd.cla & CHAINING_BIT != 0;
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
                    // ISO 7816-4 §5.4.1: "last command of the chain expected".
                    return Err(StatusWord::LAST_COMMAND_EXPECTED);
                }
                if head.data.len() + cmd.data.len() > self.max_len {
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
        let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let cmd = Command::new(0x00, 0x2A, 0x80, 0x86)
            .with_data(&data)
            .with_ne(256);
        let parts = split(&cmd, 255).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].cla, 0x10);
        assert_eq!(parts[0].ne, None);
        assert_eq!(parts[2].cla, 0x00);
        assert_eq!(parts[2].data.len(), 90);
        assert_eq!(parts[2].ne, Some(256));
        let mut r = Reassembler::default();
        assert_eq!(r.push(parts[0].clone()), Ok(Chained::NeedMore));
        assert!(r.in_progress());
        assert_eq!(r.push(parts[1].clone()), Ok(Chained::NeedMore));
        assert_eq!(r.push(parts[2].clone()), Ok(Chained::Complete(cmd)));
        assert!(!r.in_progress());
    }

    #[test]
    fn proprietary_class_chains_too() {
        // CTAP NFCCTAP_MSG: CLA 80, chained as 90.
        let cmd = Command::new(0x80, 0x10, 0x80, 0x00).with_data(&[7u8; 300]);
        let parts = split(&cmd, 255).unwrap();
        assert_eq!(parts[0].cla, 0x90);
        let mut r = Reassembler::default();
        r.push(parts[0].clone()).unwrap();
        assert_eq!(r.push(parts[1].clone()), Ok(Chained::Complete(cmd)));
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
        r.push(Command::new(0x10, 0x2A, 0x80, 0x86).with_data(&[1; 200]))
            .unwrap();
        assert_eq!(
            r.push(Command::new(0x00, 0x2A, 0x80, 0x86).with_data(&[1; 200])),
            Err(StatusWord::WRONG_LENGTH)
        );
        assert!(split(&Command::new(0, 0, 0, 0), 0).is_err());
        assert_eq!(
            split(&Command::new(0, 0xA4, 0, 0).with_data(&[1, 2]), 255)
                .unwrap()
                .len(),
            1
        );
    }
}
