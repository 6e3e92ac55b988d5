//! The native application's ISO/IEC 7816-4 file commands: SELECT, READ BINARY, UPDATE
//! BINARY, GET CHALLENGE, over the file tree of module `fs`.
//!
//! References: ISO/IEC 7816-4:2013 §11.1.1 (SELECT: P1 selection method, P2 answer and
//! occurrence), §11.2.3 (READ BINARY), §11.2.5 (UPDATE BINARY), §11.5.3 (GET CHALLENGE),
//! §7.2.2 (offset in P1-P2 with b8 of P1 = 0, or SFI in P1 b5-b1 with b8 = 1 and the offset in
//! P2), Table 6 (status words).

use cps_apdu::{Command, Response, StatusWord};
use rand_core::{OsRng, RngCore};

use crate::fs::{AM_READ, AM_UPDATE, FileSystem, MF_FID, NodeId, NodeKind};
use crate::iasecc::{IasEcc, status};
use crate::security::SecurityStatus;

/// `6A87`: Nc inconsistent with P1-P2 (ISO 7816-4 Table 6).
const LC_INCONSISTENT: StatusWord = StatusWord(0x6A87);
/// `6283`: selected file deactivated (ISO 7816-4 Table 6).
const SW_DEACTIVATED: StatusWord = StatusWord::FILE_DEACTIVATED;
/// `6285`: selected file in termination state.
const SW_TERMINATED: StatusWord = StatusWord::FILE_TERMINATED;

/// The native application: file system, current files, security status, IAS-ECC objects.
#[derive(Debug, Clone)]
pub(crate) struct Native {
    pub fs: FileSystem,
    pub cur_df: NodeId,
    pub cur_ef: Option<NodeId>,
    pub security: SecurityStatus,
    /// The CPS2ter application (class `A0`, CPS3 contact side), if the card has one.
    pub cps2ter: Option<crate::cps2ter::Cps2ter>,
    pub iasecc: IasEcc,
}

fn fids(data: &[u8]) -> Option<Vec<u16>> {
    if data.is_empty() || data.len() % 2 != 0 {
        return None;
    }
    Some(
        data.chunks_exact(2)
            .map(|c| match c {
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            })
            .collect(),
    )
}

impl Native {
    /// Replaces the contents of the EF at an absolute path (remote-update commit).
    pub fn replace_ef(&mut self, path: &[u16], content: Vec<u8>) {
        if let Some(id) = self.fs.at_path(path) {
            if let Some(node) = self.fs.node_mut(id) {
                if let crate::fs::NodeKind::Ef { data } = &mut node.kind {
                    *data = content;
                }
            }
        }
    }

    /// Power-on / reset: the MF is current (ISO 7816-4 §7.1.1), nothing verified, empty SE.
    pub fn reset(&mut self) {
        self.cur_df = FileSystem::MF;
        self.cur_ef = None;
        self.security.clear();
        self.iasecc.reset();
        if let Some(c) = &mut self.cps2ter {
            c.reset();
        }
    }

    /// Processes a command of the native application (CLA already checked).
    ///
    /// The command's entry in the tables the client builds from (`cps_apdu::table::ISO7816`,
    /// `cps_iasecc::table`) gives its request shape: data of a length it does not allow, or no
    /// Le where it needs one, is `67 00` before the handler runs. The PIN commands are the
    /// exception: the card checks their data as a PIN (`6A80` for 3 or 9 digits, after the
    /// reference and the access condition), which their handlers do.
    pub fn process(&mut self, cmd: &Command) -> Response {
        let spec = native_spec(cmd).filter(|s| s.effect != cps_apdu::table::Effect::Secret);
        if let Some(spec) = spec {
            let le_missing = spec.le == cps_apdu::table::Le::Expected && cmd.ne.is_none();
            if !spec.data.allows(cmd.data.len()) || le_missing {
                return status(StatusWord::WRONG_LENGTH);
            }
        }
        match cmd.ins {
            0xA4 => self.select(cmd),
            0xB0 => self.read_binary(cmd),
            0xD6 => self.update_binary(cmd),
            0x84 => get_challenge(cmd),
            _ => self
                .iasecc
                .process(cmd, &mut self.security)
                .unwrap_or_else(|| status(StatusWord::INS_NOT_SUPPORTED)),
        }
    }

    /// Whether the native application knows this instruction (chained commands with other
    /// instructions are refused at once rather than answered 9000).
    pub fn handles(ins: u8) -> bool {
        matches!(ins, 0xA4 | 0xB0 | 0xD6 | 0x84) || IasEcc::handles(ins)
    }

    /// SELECT by FID (P1 00/01/02), parent (03), path (08/09); SELECT by DF name (04) is
    /// routed here by the card when the name is a DF of the file system.
    pub fn select(&mut self, cmd: &Command) -> Response {
        let p2 = cmd.p2;
        // P2: b4-b3 answer (00 FCI, 04 FCP, 08 FMD, 0C none), b2-b1 occurrence; the rest RFU.
        if p2 & 0xF0 != 0 {
            return status(StatusWord::INCORRECT_P1P2);
        }
        let occurrence = p2 & 0x03;
        if cmd.p1 != 0x04 && occurrence != 0 {
            return status(StatusWord::INCORRECT_P1P2);
        }
        let answer = p2 & 0x0C != 0x0C;
        let target = match cmd.p1 {
            0x00 => match cmd.data.as_slice() {
                [] => Some(FileSystem::MF),
                [a, b] => self
                    .fs
                    .select_fid(self.cur_df, u16::from_be_bytes([*a, *b])),
                _ => return status(LC_INCONSISTENT),
            },
            0x01 => match cmd.data.as_slice() {
                [a, b] => self
                    .fs
                    .child(self.cur_df, u16::from_be_bytes([*a, *b]))
                    .filter(|&id| self.fs.node(id).is_some_and(|n| n.is_df())),
                _ => return status(LC_INCONSISTENT),
            },
            0x02 => match cmd.data.as_slice() {
                [0x3F, 0x00] => Some(FileSystem::MF),
                [a, b] => self.fs.child(self.cur_df, u16::from_be_bytes([*a, *b])),
                _ => return status(LC_INCONSISTENT),
            },
            0x03 => {
                if !cmd.data.is_empty() {
                    return status(LC_INCONSISTENT);
                }
                Some(self.fs.parent(self.cur_df))
            }
            0x04 => {
                // "Next" / "previous" occurrence: DF names are unique here.
                if occurrence & 0x01 != 0 {
                    return status(StatusWord::FILE_NOT_FOUND);
                }
                self.fs.find_df_name(&cmd.data)
            }
            0x08 | 0x09 => {
                let Some(path) = fids(&cmd.data) else {
                    return status(LC_INCONSISTENT);
                };
                match (cmd.p1, path.split_first()) {
                    // A path starting with 3F00 is absolute, whatever P1 says (OpenSC sends
                    // `00 A4 09 04 04 3F00 2F01` to CPx cards, research §1.2).
                    (_, Some((&MF_FID, rest))) => self.fs.walk(FileSystem::MF, rest),
                    (0x08, _) => self.fs.walk(FileSystem::MF, &path),
                    _ => self.fs.walk(self.cur_df, &path),
                }
            }
            _ => return status(StatusWord::INCORRECT_P1P2),
        };
        let Some(id) = target else {
            return status(StatusWord::FILE_NOT_FOUND);
        };
        let Some(node) = self.fs.node(id) else {
            return status(StatusWord::FILE_NOT_FOUND);
        };
        let sw = if node.is_terminated() {
            SW_TERMINATED
        } else if node.is_deactivated() {
            SW_DEACTIVATED
        } else {
            StatusWord::SUCCESS
        };
        // P2 b4-b3 = 00 asks the FCI: the same data objects in the FCI template `6F`
        // (ISO 7816-4 §7.4.1); Cryptolib's SELECT with P2 00 accepts `6F` only
        // (`iso7816.c` `iso7816_select_file`).
        let fcp = answer.then(|| {
            let mut f = node.fcp();
            if p2 & 0x0C == 0x00 {
                if let Some(tag) = f.first_mut() {
                    *tag = 0x6F;
                }
            }
            f
        });
        (self.cur_df, self.cur_ef) = self.fs.current_after_select(id);
        Response::new(fcp.unwrap_or_default(), sw)
    }

    /// The EF and offset of READ/UPDATE BINARY (ISO 7816-4 §7.2.2).
    fn binary_target(&mut self, cmd: &Command) -> Result<(NodeId, usize), StatusWord> {
        if cmd.p1 & 0x80 != 0 {
            if cmd.p1 & 0x60 != 0 {
                return Err(StatusWord::INCORRECT_P1P2);
            }
            let sfi = cmd.p1 & 0x1F;
            if sfi == 0 || sfi == 0x1F {
                return Err(StatusWord::INCORRECT_P1P2);
            }
            let ef = self
                .fs
                .find_sfi(self.cur_df, sfi)
                .ok_or(StatusWord::FILE_NOT_FOUND)?;
            // The EF referenced by SFI becomes the current EF.
            self.cur_ef = Some(ef);
            Ok((ef, usize::from(cmd.p2)))
        } else {
            let ef = self.cur_ef.ok_or(StatusWord::COMMAND_NOT_ALLOWED)?;
            Ok((ef, usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]))))
        }
    }

    fn check_access(&self, ef: NodeId, am: u8) -> Result<(), StatusWord> {
        let node = self.fs.node(ef).ok_or(StatusWord::COMMAND_NOT_ALLOWED)?;
        if node.is_df() {
            return Err(StatusWord::INCOMPATIBLE_FILE_STRUCTURE);
        }
        if node.is_deactivated() || node.is_terminated() {
            return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        match node.acl.condition(am) {
            Some(sc) if self.security.satisfies(sc) => Ok(()),
            _ => Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED),
        }
    }

    /// READ BINARY (`00 B0`): the bytes from the offset, at most Ne; fewer than Ne (end of
    /// file) gives `6282`; an offset at or beyond the end gives `6B00`.
    pub fn read_binary(&mut self, cmd: &Command) -> Response {
        if !cmd.data.is_empty() {
            return status(StatusWord::WRONG_LENGTH);
        }
        let Some(ne) = cmd.ne else {
            return status(StatusWord::WRONG_LENGTH);
        };
        let (ef, offset) = match self.binary_target(cmd) {
            Ok(t) => t,
            Err(sw) => return status(sw),
        };
        if let Err(sw) = self.check_access(ef, AM_READ) {
            return status(sw);
        }
        let Some(NodeKind::Ef { data }) = self.fs.node(ef).map(|n| &n.kind) else {
            return status(StatusWord::INCOMPATIBLE_FILE_STRUCTURE);
        };
        // An offset at or past the end: 6B00 (ISO 7816-4 Table 6, "offset outside the EF";
        // docs/card-layout.md "Client command forms").
        let Some(rest) = data.get(offset..).filter(|r| !r.is_empty()) else {
            return status(StatusWord::WRONG_P1P2);
        };
        let n = ne.min(rest.len());
        let out = rest.get(..n).unwrap_or_default().to_vec();
        let sw = if n < ne {
            StatusWord::END_OF_FILE
        } else {
            StatusWord::SUCCESS
        };
        Response::new(out, sw)
    }

    /// UPDATE BINARY (`00 D6`): writes within the file's fixed size.
    pub fn update_binary(&mut self, cmd: &Command) -> Response {
        if cmd.data.is_empty() {
            return status(StatusWord::WRONG_LENGTH);
        }
        let (ef, offset) = match self.binary_target(cmd) {
            Ok(t) => t,
            Err(sw) => return status(sw),
        };
        if let Err(sw) = self.check_access(ef, AM_UPDATE) {
            return status(sw);
        }
        let Some(NodeKind::Ef { data }) = self.fs.node_mut(ef).map(|n| &mut n.kind) else {
            return status(StatusWord::INCOMPATIBLE_FILE_STRUCTURE);
        };
        if offset > data.len() {
            return status(StatusWord::WRONG_P1P2);
        }
        let Some(target) = data.get_mut(offset..offset.saturating_add(cmd.data.len())) else {
            return status(StatusWord::NOT_ENOUGH_MEMORY);
        };
        target.copy_from_slice(&cmd.data);
        status(StatusWord::SUCCESS)
    }
}

/// The table entry of a command of the native application.
fn native_spec(cmd: &Command) -> Option<&'static cps_apdu::table::CommandSpec> {
    cps_apdu::table::ISO7816
        .find(cmd.cla, cmd.ins, None)
        .or_else(|| cps_iasecc::table::TABLE.find(cmd.cla, cmd.ins, None))
}

/// GET CHALLENGE (`00 84 00 00 Le`): Le random bytes, 1..=256.
pub(crate) fn get_challenge(cmd: &Command) -> Response {
    if (cmd.p1, cmd.p2) != (0, 0) {
        return status(StatusWord::INCORRECT_P1P2);
    }
    match cmd.ne {
        Some(n @ 1..=256) if cmd.data.is_empty() => {
            let mut out = vec![0u8; n];
            OsRng.fill_bytes(&mut out);
            Response::success(out)
        }
        _ => status(StatusWord::WRONG_LENGTH),
    }
}
