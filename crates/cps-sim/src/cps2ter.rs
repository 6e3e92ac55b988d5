//! The CPS2ter application of the CPS3, reached with class `A0` on the contact interface.
//!
//! What the official middleware shows, and so what the simulator answers (Cryptolib CPS 5.2):
//!
//! - SELECT `A0 A4 00 00 02 <FID>`, one FID at a time, the MF never selected (the path
//!   `3F00/7F01/4000` is `A0 A4 00 00 02 7F01` then `A0 A4 00 00 02 4000`); answered `9F xx`,
//!   `xx` bytes waiting for GET RESPONSE `A0 C0 00 00 xx` (`card-cps.c`
//!   `cps2ter_internal_select_file`; `apdu.c`: on `sw1_cps2ter_bytes_available` = `9F`
//!   (`card-cps.h`), GET RESPONSE with class `A0`);
//! - the response: `85 L` then the file's size (2 bytes), its FID (2) and its type (`01` MF,
//!   `02` DF, `04` EF) (`card-cps.c` `cps2ter_select_file`, `cps2ter_process_fci`);
//! - READ BINARY `A0 B0 <offset> <size>` (`iso7816.c` `iso7816_read_binary` with
//!   `CPS2TER_FLAG`);
//! - the status words of `card-cps.c` `cps2ter_errors`, which are those of GSM 11.11 §9.4:
//!   `9404` file not found, `9402` out of range, `9408` file of the wrong type, `9804` access
//!   condition not fulfilled, `6B00` wrong P1-P2, `6D00` unknown instruction, `6700` wrong
//!   length, `6F00` no response possible.
//!
//! **Modelled** (nothing published): which FIDs a SELECT reaches (a child of the current DF,
//! the current DF's parent or one of its children, or the MF, as ISO 7816-4 §7.1.1 and GSM
//! 11.11 §6.5 allow); that the IAS holder PIN verified on the IAS application opens the
//! protected files (Cryptolib's login is the IAS VERIFY and it reads these files after it);
//! `9400` (GSM: no EF selected) for READ BINARY without a current EF; the FCI holds nothing
//! beyond the five bytes Cryptolib reads, and a DF's size is `0000`.

use cps_apdu::{Command, Response, StatusWord};

use crate::fs::{AM_READ, FileSystem, NodeId, NodeKind};
use crate::security::SecurityStatus;

/// `9Fxx`: `xx` bytes of response waiting for GET RESPONSE (`card-cps.h`
/// `CPS2TER_SW1_BYTES_AVAILABLE`).
pub(crate) const SW1_BYTES_AVAILABLE: u8 = 0x9F;

/// The class byte of every CPS2ter command.
pub(crate) const CLA: u8 = 0xA0;

const FILE_NOT_FOUND: StatusWord = StatusWord(0x9404);
const OUT_OF_RANGE: StatusWord = StatusWord(0x9402);
const WRONG_FILE_TYPE: StatusWord = StatusWord(0x9408);
const NO_EF_SELECTED: StatusWord = StatusWord(0x9400);
const ACCESS_NOT_FULFILLED: StatusWord = StatusWord(0x9804);
const NO_RESPONSE: StatusWord = StatusWord(0x6F00);
const WRONG_P1P2: StatusWord = StatusWord(0x6B00);
const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
const UNKNOWN_INS: StatusWord = StatusWord(0x6D00);

/// The CPS2ter application: its file tree, its current files and the SELECT answer waiting
/// for GET RESPONSE.
#[derive(Debug, Clone)]
pub(crate) struct Cps2ter {
    fs: FileSystem,
    cur_df: NodeId,
    cur_ef: Option<NodeId>,
    response: Vec<u8>,
}

impl Cps2ter {
    pub fn new(fs: FileSystem) -> Self {
        Cps2ter {
            fs,
            cur_df: FileSystem::MF,
            cur_ef: None,
            response: Vec::new(),
        }
    }

    /// The contents of the EF at an absolute path.
    pub fn file(&self, path: &[u16]) -> Option<&[u8]> {
        match &self.fs.node(self.fs.at_path(path)?)?.kind {
            NodeKind::Ef { data } => Some(data),
            NodeKind::Df { .. } => None,
        }
    }

    /// Power-on / reset: the MF is current, nothing waits.
    pub fn reset(&mut self) {
        self.cur_df = FileSystem::MF;
        self.cur_ef = None;
        self.response.clear();
    }

    /// One command of class `A0`; the answer's bytes (data ‖ SW, or `9Fxx`).
    pub fn process(&mut self, cmd: &Command, security: &SecurityStatus) -> Vec<u8> {
        // Whatever the command, a waiting SELECT answer is served once at most.
        let waiting = std::mem::take(&mut self.response);
        let r = match cmd.ins {
            0xA4 => return self.select(cmd),
            0xC0 => get_response(cmd, waiting),
            0xB0 => self.read_binary(cmd, security),
            _ => Response::status(UNKNOWN_INS),
        };
        let mut out = r.data;
        out.extend_from_slice(&r.sw.to_bytes());
        out
    }

    fn select(&mut self, cmd: &Command) -> Vec<u8> {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return WRONG_P1P2.to_bytes().to_vec();
        }
        let [hi, lo] = cmd.data.as_slice() else {
            return WRONG_LENGTH.to_bytes().to_vec();
        };
        let fid = u16::from_be_bytes([*hi, *lo]);
        // The files a SELECT by FID reaches [model]: those of ISO 7816-4 P1 = 00.
        let Some(id) = self.fs.select_fid(self.cur_df, fid) else {
            return FILE_NOT_FOUND.to_bytes().to_vec();
        };
        let Some(node) = self.fs.node(id) else {
            return FILE_NOT_FOUND.to_bytes().to_vec();
        };
        let (kind, size) = match &node.kind {
            NodeKind::Ef { data } => (0x04, data.len()),
            NodeKind::Df { .. } if id == FileSystem::MF => (0x01, 0),
            NodeKind::Df { .. } => (0x02, 0),
        };
        let size = u16::try_from(size).unwrap_or(u16::MAX).to_be_bytes();
        let fid = node.fid.to_be_bytes();
        self.response = vec![0x85, 0x05, size[0], size[1], fid[0], fid[1], kind];
        (self.cur_df, self.cur_ef) = self.fs.current_after_select(id);
        vec![SW1_BYTES_AVAILABLE, self.response.len() as u8]
    }

    fn read_binary(&mut self, cmd: &Command, security: &SecurityStatus) -> Response {
        if !cmd.data.is_empty() {
            return Response::status(WRONG_LENGTH);
        }
        let Some(ef) = self.cur_ef else {
            return Response::status(NO_EF_SELECTED);
        };
        let Some(node) = self.fs.node(ef) else {
            return Response::status(NO_EF_SELECTED);
        };
        let NodeKind::Ef { data } = &node.kind else {
            return Response::status(WRONG_FILE_TYPE);
        };
        match node.acl.condition(AM_READ) {
            Some(sc) if security.satisfies(sc) => {}
            _ => return Response::status(ACCESS_NOT_FULFILLED),
        }
        let offset = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        if offset > data.len() {
            return Response::status(OUT_OF_RANGE);
        }
        // P3 is the exact length (GSM 11.11 §9.2.3); `00` would be 256 bytes.
        let want = cmd.ne.unwrap_or(256);
        match data.get(offset..offset.saturating_add(want)) {
            Some(bytes) => Response::new(bytes.to_vec(), StatusWord::SUCCESS),
            None => Response::status(WRONG_LENGTH),
        }
    }
}

/// GET RESPONSE `A0 C0 00 00 xx`: the waiting SELECT answer, `xx` at most its length.
fn get_response(cmd: &Command, waiting: Vec<u8>) -> Response {
    if waiting.is_empty() {
        return Response::status(NO_RESPONSE);
    }
    if (cmd.p1, cmd.p2) != (0, 0) {
        return Response::status(WRONG_P1P2);
    }
    let want = cmd.ne.unwrap_or(256);
    if !cmd.data.is_empty() || want > waiting.len() {
        return Response::status(WRONG_LENGTH);
    }
    Response::new(
        waiting.get(..want).unwrap_or_default().to_vec(),
        StatusWord::SUCCESS,
    )
}

#[cfg(test)]
mod tests {
    use crate::{Profile, SimCard};
    use cps_transport::VirtualCard;

    fn send(card: &mut SimCard, apdu: &[u8]) -> Vec<u8> {
        card.process(apdu)
    }

    #[test]
    fn cryptolib_reads_the_billing_situation_after_the_pin() {
        let mut card = SimCard::new(Profile::Cps3, "dr-martin").unwrap();
        // Before the PIN: the file is found, its content refused.
        assert_eq!(
            send(&mut card, &[0xA0, 0xA4, 0, 0, 2, 0x7F, 0x01]),
            [0x9F, 7]
        );
        assert_eq!(
            send(&mut card, &[0xA0, 0xA4, 0, 0, 2, 0x40, 0x00, 0x00]),
            [0x9F, 7]
        );
        let fci = send(&mut card, &[0xA0, 0xC0, 0, 0, 7]);
        assert_eq!(fci.get(..2), Some([0x85, 0x05].as_slice()));
        assert_eq!(fci.get(4..7), Some([0x40, 0x00, 0x04].as_slice()));
        assert_eq!(fci.get(7..), Some([0x90, 0x00].as_slice()));
        let size = fci
            .get(2..4)
            .map(|s| s[0] as usize * 256 + s[1] as usize)
            .unwrap();
        assert_eq!(
            send(&mut card, &[0xA0, 0xB0, 0, 0, size as u8]),
            [0x98, 0x04]
        );
        // The IAS holder PIN opens it.
        let mut verify = vec![0x00, 0x20, 0x00, 0x01, 0x04];
        verify.extend_from_slice(b"1234");
        assert_eq!(send(&mut card, &verify), [0x90, 0x00]);
        let sit = send(&mut card, &[0xA0, 0xB0, 0, 0, size as u8]);
        assert_eq!(sit.len(), size + 2);
        assert_eq!(sit.get(size..), Some([0x90, 0x00].as_slice()));
        assert_eq!(sit.first(), Some(&0xE5), "the CPS4 CPS_SIT_FACT encoding");
        // A situation file from the DF 7F01: reached through the parent (the MF).
        assert_eq!(
            send(&mut card, &[0xA0, 0xA4, 0, 0, 2, 0x40, 0x10, 0x00]),
            [0x9F, 7]
        );
        // Not there: a second situation exists, a 17th never.
        assert_eq!(
            send(&mut card, &[0xA0, 0xA4, 0, 0, 2, 0x40, 0x20]),
            [0x94, 0x04]
        );
    }

    #[test]
    fn refusals() {
        let mut card = SimCard::new(Profile::Cps3, "dr-martin").unwrap();
        assert_eq!(send(&mut card, &[0xA0, 0xC0, 0, 0, 7]), [0x6F, 0x00]);
        assert_eq!(send(&mut card, &[0xA0, 0xB0, 0, 0, 1]), [0x94, 0x00]);
        assert_eq!(
            send(&mut card, &[0xA0, 0xA4, 1, 0, 2, 0x7F, 0x01]),
            [0x6B, 0x00]
        );
        assert_eq!(send(&mut card, &[0xA0, 0xA4, 0, 0, 1, 0x7F]), [0x67, 0x00]);
        assert_eq!(
            send(&mut card, &[0xA0, 0x20, 0, 1, 4, 1, 2, 3, 4]),
            [0x6D, 0x00]
        );
        // A DF selected: READ BINARY has no EF.
        assert_eq!(
            send(&mut card, &[0xA0, 0xA4, 0, 0, 2, 0x7F, 0x01]),
            [0x9F, 7]
        );
        assert_eq!(send(&mut card, &[0xA0, 0xC0, 0, 0, 8]), [0x67, 0x00]);
        assert_eq!(send(&mut card, &[0xA0, 0xB0, 0, 0, 1]), [0x94, 0x00]);
        // The answer waits for the next command only.
        assert_eq!(send(&mut card, &[0xA0, 0xC0, 0, 0, 7]), [0x6F, 0x00]);
        // The IAS application is untouched: its SELECT still answers.
        let r = send(&mut card, &[0x00, 0xA4, 0x08, 0x0C, 0x02, 0xD0, 0x03]);
        assert_eq!(r, [0x90, 0x00]);
    }

    #[test]
    fn only_the_cps3_contact_side_has_it() {
        // The CPS4's CPS2ter objects are in ChipDoc's DODF; class A0 reaches no file there
        // (nothing selected after reset on the basic channel).
        let mut cps4 = SimCard::new(Profile::Cps4, "dr-martin").unwrap();
        assert_eq!(
            send(&mut cps4, &[0xA0, 0xA4, 0, 0, 2, 0x7F, 0x01]),
            [0x6A, 0x82]
        );
        let mut cl = SimCard::builder()
            .profile(Profile::Cps3)
            .persona("dr-martin")
            .interface(crate::Interface::Contactless)
            .build()
            .unwrap();
        assert_eq!(
            send(&mut cl, &[0xA0, 0xA4, 0, 0, 2, 0x7F, 0x01]),
            [0x6E, 0x00]
        );
    }
}
