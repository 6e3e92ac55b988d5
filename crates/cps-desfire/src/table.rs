//! The DESFire command table: every native command this crate knows, wrapped in ISO 7816-4
//! (CLA `90`, INS = the native code, P1 P2 `00 00`, Le `00`; MF3D(H)x3 datasheet §10, NXP
//! AN12752), with its header length, data length, communication mode, effect and what is
//! hidden.
//!
//! Read by the client (every [`NativeCommand`] is checked against its entry before a byte is
//! sent: [`check`]), by the simulated PICC (`cps_sim::desfire`, whose request lengths and
//! protection come from here, answering `LengthError` to a request of the wrong shape) and by
//! the transport (`cps_transport::Exchange` and its transcript redactor), to which the client
//! registers [`TABLE`]. The table claims every CLA `90` command: one it does not list changes
//! state and has its data hidden.
//!
//! Lengths: "header" is the plain command header after the code (key number, AID, file
//! number, offset and length); "data" the plain data after it, before any secure messaging.
//! [`DataLen::Variable`] is checked by the command itself (a length in the header, a file
//! layout, the session's cipher).

use cps_apdu::table::{
    Claim, Class, CommandSpec, CommandTable, DataLen, DesfireComm, Effect, Hidden, Le,
    Protection as P, Protocol, ShapeError,
};

use crate::commands::NativeCommand;
use crate::session::{CommMode, Protection};

const fn native(name: &'static str, code: u8, effect: Effect) -> CommandSpec {
    CommandSpec::new(name, code, effect)
        .class(Class::Exactly(0x90), 0x90)
        .le(Le::Expected)
        .protection(P::Desfire(DesfireComm::Management))
}

const fn header(spec: CommandSpec, len: u8) -> CommandSpec {
    spec.header(len)
}

const fn comm(spec: CommandSpec, comm: DesfireComm) -> CommandSpec {
    spec.protection(P::Desfire(comm))
}

const fn secret(spec: CommandSpec) -> CommandSpec {
    spec.hidden(Hidden::Data)
}

use DesfireComm as C;
use Effect::{Changes, Read, Secret};

/// The entries, by native code.
pub static COMMANDS: &[CommandSpec] = &[
    // Authentication (§10.2): key number, then the challenge exchange (AF frames).
    comm(native("DESFire Authenticate", 0x0A, Changes), C::Plain).data(DataLen::Variable),
    comm(native("DESFire AuthenticateISO", 0x1A, Changes), C::Plain).data(DataLen::Variable),
    comm(native("DESFire AuthenticateAES", 0xAA, Changes), C::Plain).data(DataLen::Variable),
    comm(
        native("DESFire AuthenticateEV2First", 0x71, Changes),
        C::Plain,
    )
    .data(DataLen::Variable),
    comm(
        native("DESFire AuthenticateEV2NonFirst", 0x77, Changes),
        C::Plain,
    )
    .data(DataLen::Variable),
    comm(native("DESFire additional frame", 0xAF, Changes), C::Plain).data(DataLen::Variable),
    // PICC and application level (§10.3, §10.4).
    header(
        comm(native("DESFire SelectApplication", 0x5A, Read), C::Plain),
        3,
    ),
    native("DESFire CreateApplication", 0xCA, Changes).data(DataLen::Variable),
    header(native("DESFire DeleteApplication", 0xDA, Changes), 3),
    native("DESFire GetApplicationIDs", 0x6A, Read),
    native("DESFire GetDFNames", 0x6D, Read),
    native("DESFire GetFreeMemory", 0x6E, Read),
    native("DESFire GetVersion", 0x60, Read),
    comm(
        native("DESFire GetCardUID", 0x51, Read),
        C::EncipheredResponse,
    ),
    native("DESFire FormatPICC", 0xFC, Changes),
    secret(comm(
        native("DESFire SetConfiguration", 0x5C, Secret),
        C::EncipheredCommand,
    ))
    .header(1)
    .data(DataLen::Variable),
    // Keys (§10.5).
    native("DESFire GetKeySettings", 0x45, Read),
    comm(
        native("DESFire ChangeKeySettings", 0x54, Changes),
        C::EncipheredCommand,
    )
    .data(DataLen::Fixed(1)),
    header(native("DESFire GetKeyVersion", 0x64, Read), 1),
    secret(comm(
        native("DESFire ChangeKey", 0xC4, Secret),
        C::EncipheredCommand,
    ))
    .header(1)
    .data(DataLen::Variable),
    secret(comm(
        native("DESFire ChangeKeyEV2", 0xC6, Secret),
        C::EncipheredCommand,
    ))
    .header(2)
    .data(DataLen::Variable),
    secret(comm(
        native("DESFire InitializeKeySet", 0x55, Secret),
        C::EncipheredCommand,
    ))
    .header(2)
    .data(DataLen::Variable),
    // Files (§10.6).
    native("DESFire GetFileIDs", 0x6F, Read),
    native("DESFire GetISOFileIDs", 0x61, Read),
    header(native("DESFire GetFileSettings", 0xF5, Read), 1),
    // Settings and access rights (3 bytes), more with EV2 options (AN12196 §6).
    comm(
        native("DESFire ChangeFileSettings", 0x5F, Changes),
        C::EncipheredCommand,
    )
    .header(1)
    .data(DataLen::Variable),
    native("DESFire CreateStdDataFile", 0xCD, Changes).data(DataLen::Variable),
    native("DESFire CreateBackupDataFile", 0xCB, Changes).data(DataLen::Variable),
    native("DESFire CreateValueFile", 0xCC, Changes).data(DataLen::Variable),
    native("DESFire CreateLinearRecordFile", 0xC1, Changes).data(DataLen::Variable),
    native("DESFire CreateCyclicRecordFile", 0xC0, Changes).data(DataLen::Variable),
    header(native("DESFire DeleteFile", 0xDF, Changes), 1),
    // Data (§10.7): file number, offset and length (3 + 3 bytes).
    header(comm(native("DESFire ReadData", 0xBD, Read), C::FileRead), 7),
    header(comm(native("DESFire ReadData", 0xAD, Read), C::FileRead), 7),
    header(
        comm(native("DESFire WriteData", 0x3D, Changes), C::FileWrite),
        7,
    )
    .data(DataLen::Variable),
    header(
        comm(native("DESFire WriteData", 0x8D, Changes), C::FileWrite),
        7,
    )
    .data(DataLen::Variable),
    header(comm(native("DESFire GetValue", 0x6C, Read), C::FileRead), 1),
    header(
        comm(native("DESFire Credit", 0x0C, Changes), C::FileWrite),
        1,
    )
    .data(DataLen::Fixed(4)),
    header(
        comm(native("DESFire Debit", 0xDC, Changes), C::FileWrite),
        1,
    )
    .data(DataLen::Fixed(4)),
    header(
        comm(native("DESFire LimitedCredit", 0x1C, Changes), C::FileWrite),
        1,
    )
    .data(DataLen::Fixed(4)),
    header(
        comm(native("DESFire WriteRecord", 0x3B, Changes), C::FileWrite),
        7,
    )
    .data(DataLen::Variable),
    header(
        comm(native("DESFire ReadRecords", 0xBB, Read), C::FileRead),
        7,
    ),
    header(
        comm(native("DESFire ReadRecords", 0xAB, Read), C::FileRead),
        7,
    ),
    header(native("DESFire ClearRecordFile", 0xEB, Changes), 1),
    // CommitTransaction: EV2 adds an optional option byte (TMC/TMV return).
    native("DESFire CommitTransaction", 0xC7, Changes).data(DataLen::Range(0, 1)),
    native("DESFire AbortTransaction", 0xA7, Changes),
];

/// The DESFire table: claims every CLA `90` command.
pub static TABLE: CommandTable = CommandTable::new("DESFire", Protocol::Desfire, COMMANDS)
    .claiming(Claim::Class(0x90), "DESFire command");

/// The entry of a native code.
pub fn spec(code: u8) -> Option<&'static CommandSpec> {
    TABLE.by_ins(code)
}

/// The session protection of an entry, the file's communication mode filled in for the file
/// commands.
pub fn protection(comm: DesfireComm, file: CommMode) -> Protection {
    match comm {
        DesfireComm::Plain => Protection::None,
        DesfireComm::Management => Protection::Management,
        DesfireComm::EncipheredCommand => Protection::EncipheredCommand,
        DesfireComm::EncipheredResponse => Protection::EncipheredResponse,
        DesfireComm::FileRead => Protection::FileRead(file),
        DesfireComm::FileWrite => Protection::FileWrite(file),
    }
}

/// The communication mode an entry says, `None` if it is not a DESFire entry.
pub fn comm_of(spec: &CommandSpec) -> Option<DesfireComm> {
    match spec.protection {
        P::Desfire(c) => Some(c),
        _ => None,
    }
}

/// Checks a native command against its entry: a listed code, the header length, the data
/// length. Called by the client before anything is sent.
pub fn check(cmd: &NativeCommand) -> Result<&'static CommandSpec, ShapeError> {
    let spec = spec(cmd.code).ok_or(ShapeError::Class {
        command: "DESFire command",
        cla: 0x90,
    })?;
    let header = usize::from(spec.header);
    // Where the data travels as the header does (plain or MACed), where the header ends does
    // not matter on the wire: the client may pass fixed parameters as header.
    let split_matters = matches!(
        comm_of(spec),
        Some(DesfireComm::EncipheredCommand | DesfireComm::FileWrite)
    );
    let data_len = if cmd.header.len() == header {
        cmd.data.len()
    } else if !split_matters && cmd.header.len() + cmd.data.len() >= header {
        cmd.header.len() + cmd.data.len() - header
    } else {
        return Err(ShapeError::DataLength {
            command: spec.name,
            len: cmd.header.len(),
            expected: DataLen::Fixed(u16::from(spec.header)),
        });
    };
    spec.check(data_len, Some(0))?;
    let same_mode = matches!(
        (comm_of(spec), cmd.protection),
        (Some(DesfireComm::Plain), Protection::None)
            | (Some(DesfireComm::Management), Protection::Management)
            | (
                Some(DesfireComm::EncipheredCommand),
                Protection::EncipheredCommand
            )
            | (
                Some(DesfireComm::EncipheredResponse),
                Protection::EncipheredResponse
            )
            | (Some(DesfireComm::FileRead), Protection::FileRead(_))
            | (Some(DesfireComm::FileWrite), Protection::FileWrite(_))
    );
    if !same_mode {
        return Err(ShapeError::Class {
            command: spec.name,
            cla: 0x90,
        });
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use cps_apdu::table::{CommandTables, Effect, Hidden, Protocol};

    use super::*;
    use crate::commands;

    #[test]
    fn every_code_the_client_sends_is_listed_once() {
        let codes = [
            commands::code::AUTHENTICATE_LEGACY,
            commands::code::AUTHENTICATE_ISO,
            commands::code::AUTHENTICATE_AES,
            commands::code::AUTHENTICATE_EV2_FIRST,
            commands::code::AUTHENTICATE_EV2_NON_FIRST,
            commands::code::ADDITIONAL_FRAME,
            commands::code::SELECT_APPLICATION,
            commands::code::CREATE_APPLICATION,
            commands::code::DELETE_APPLICATION,
            commands::code::GET_APPLICATION_IDS,
            commands::code::GET_FREE_MEMORY,
            commands::code::GET_VERSION,
            commands::code::GET_CARD_UID,
            commands::code::GET_KEY_SETTINGS,
            commands::code::CHANGE_KEY_SETTINGS,
            commands::code::GET_KEY_VERSION,
            commands::code::CHANGE_KEY,
            commands::code::SET_CONFIGURATION,
            commands::code::FORMAT_PICC,
            commands::code::GET_FILE_IDS,
            commands::code::GET_FILE_SETTINGS,
            commands::code::CHANGE_FILE_SETTINGS,
            commands::code::CREATE_STD_DATA_FILE,
            commands::code::CREATE_BACKUP_DATA_FILE,
            commands::code::CREATE_VALUE_FILE,
            commands::code::CREATE_LINEAR_RECORD_FILE,
            commands::code::CREATE_CYCLIC_RECORD_FILE,
            commands::code::DELETE_FILE,
            commands::code::READ_DATA,
            commands::code::READ_DATA_ISO,
            commands::code::WRITE_DATA,
            commands::code::WRITE_DATA_ISO,
            commands::code::GET_VALUE,
            commands::code::CREDIT,
            commands::code::DEBIT,
            commands::code::LIMITED_CREDIT,
            commands::code::WRITE_RECORD,
            commands::code::READ_RECORDS,
            commands::code::CLEAR_RECORD_FILE,
            commands::code::COMMIT_TRANSACTION,
            commands::code::ABORT_TRANSACTION,
        ];
        for code in codes {
            let n = COMMANDS.iter().filter(|c| c.ins == code).count();
            assert_eq!(n, 1, "code {code:02X}");
        }
    }

    #[test]
    fn classification() {
        let t = CommandTables::default().with(&TABLE);
        let create = t.classify(&[0x90, 0xCA, 0, 0, 1, 0, 0]);
        assert_eq!(create.protocol, Protocol::Desfire);
        assert!(!create.may_resend());
        assert_eq!(create.hidden, Hidden::Nothing);
        assert!(t.classify(&[0x90, 0x60, 0, 0, 0]).may_resend());
        let ck = t.classify(&[0x90, 0xC4, 0, 0, 1, 0, 0]);
        assert_eq!(ck.effect, Effect::Secret);
        assert_eq!(ck.hidden, Hidden::Data);
        // Unlisted CLA 90 code: a change, data hidden; C0 is not GET RESPONSE here... but it is
        // CreateCyclicRecordFile.
        assert_eq!(
            t.classify(&[0x90, 0xC0, 0, 0, 0]).name,
            "DESFire CreateCyclicRecordFile"
        );
        let unknown = t.classify(&[0x90, 0x99, 0, 0, 1, 1, 0]);
        assert_eq!(unknown.name, "DESFire command");
        assert_eq!(unknown.hidden, Hidden::DataAndResponse);
    }

    #[test]
    fn builders_fit_their_entries() {
        assert!(check(&commands::get_version()).is_ok());
        assert!(check(&commands::get_key_version(1).unwrap()).is_ok());
        assert!(check(&commands::change_key_settings(0x0F)).is_ok());
        let mut bad = commands::get_key_version(1).unwrap();
        bad.header.push(0);
        assert!(check(&bad).is_err());
        let mut bad = commands::change_key_settings(0x0F);
        bad.data.push(0);
        assert!(check(&bad).is_err());
    }
}
