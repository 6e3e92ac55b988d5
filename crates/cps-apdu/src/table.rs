//! Command tables: what each command looks like and what it does to the card.
//!
//! Every protocol crate holds **one** [`CommandTable`] (`cps_iasecc::table::TABLE` for IAS-ECC,
//! `cps_desfire::table::TABLE` for DESFire, `cps_fido2::table::TABLE` for CTAP over ISO 7816);
//! this crate holds the types and the table of the ISO/IEC 7816-4 interindustry basics it owns
//! ([`ISO7816`]: SELECT, READ BINARY, READ RECORD, SEARCH, GET DATA, GET RESPONSE, MANAGE
//! CHANNEL). An entry ([`CommandSpec`]) gives the instruction, the class bytes it is valid
//! with, its name, the request shape (data length, Le), the protection, the effect and what is
//! hidden. It is read by:
//!
//! - the **client**, which builds each APDU from its entry ([`CommandSpec::command`]): a request
//!   of the wrong shape is a typed error ([`ShapeError`]) before any byte is sent;
//! - the **simulated applet** (cps-sim), which dispatches by the same entries and checks the
//!   shape from them;
//! - the **transport**: `cps_transport::Exchange` (may a command be re-sent on `6Cxx`?), the
//!   PC/SC channel (must the card be reset when released?) and the transcript redactor
//!   (`cps_transport::record::RedactionPolicy`: what must never be shown).
//!
//! The transport sits below the protocol crates, so it is *given* the tables: a
//! [`CommandTables`] set, to which each protocol client adds its table on the channel it uses
//! ([`CommandTables::with`]). The default set holds [`ISO7816`] only, and the rule for a command
//! no table of the set lists is the safe one: **it changes card state** (never re-sent, the
//! PC/SC card is reset on release) **and its data is hidden** in transcripts. Forgetting to
//! register a table costs a `6Cxx` reaching the caller and a `*N` in a transcript, never a
//! secret shown or a PIN try spent twice.
//!
//! The rule the transport enforces: **a command carrying a secret or changing card state is
//! never re-sent automatically** (no re-issue on `6Cxx`, no retry after a transport error).
//! Only [`Effect::Read`] commands are.
//!
//! The class byte picks the protocol only where one claims it ([`Claim`]: CLA `90` for wrapped
//! DESFire, CLA `80`-`83`/`90`-`93` with INS `10`-`12` for CTAP); elsewhere the instruction
//! decides, for every class byte (interindustry or proprietary, any logical channel, with or
//! without secure messaging or chaining): a VERIFY is a VERIFY whether its CLA is `00`, `0C`,
//! `01`, `80` or `81`.
//!
//! ```
//! use cps_apdu::table::{
//!     Class, CommandSpec, CommandTable, CommandTables, DataLen, Effect, Hidden, Protocol,
//! };
//! // A protocol crate's table (here with one entry).
//! static VERIFY: CommandSpec = CommandSpec::new("VERIFY", 0x20, Effect::Secret)
//!     .data(DataLen::Range(0, 64))
//!     .hidden(Hidden::Data);
//! static TABLE: CommandTable = CommandTable::new("example", Protocol::Iso7816, &[VERIFY]);
//!
//! let tables = CommandTables::default().with(&TABLE);
//! // VERIFY on logical channel 1, proprietary class: a secret, never re-sent.
//! let verify = tables.classify(&[0x81, 0x20, 0x00, 0x01, 0x04, b'1', b'2', b'3', b'4']);
//! assert_eq!(verify.effect, Effect::Secret);
//! assert_eq!(verify.name, "VERIFY");
//! assert!(!verify.may_resend());
//! // READ BINARY (an ISO 7816-4 basic): a read, may be re-sent with the card's Le.
//! assert!(tables.classify(&[0x00, 0xB0, 0x00, 0x00, 0x00]).may_resend());
//! // A command no table lists: changes state, data and response hidden.
//! let unknown = tables.classify(&[0x00, 0x99, 0, 0, 1, 0x42]);
//! assert!(!unknown.may_resend());
//! assert_eq!(unknown.hidden, Hidden::DataAndResponse);
//! // The client builds from the entry: a 65-byte PIN is refused before anything is sent.
//! assert!(VERIFY.command(0x00, 0x01, &[0x31; 65], None).is_err());
//! assert!(VERIFY.command(0x00, 0x01, b"1234", None).is_ok());
//! ```

use alloc::vec::Vec;

use crate::Command;

/// The protocol a command belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// ISO/IEC 7816-4 interindustry commands (and proprietary-class commands using the same
    /// instruction codes, as IAS-ECC does).
    Iso7816,
    /// MIFARE DESFire native commands wrapped in ISO 7816-4 APDUs (CLA `90`, INS = the native
    /// command code; NXP AN12752 / MF3D(H)x3 datasheet §10).
    Desfire,
    /// CTAP over ISO 7816-4 (FIDO CTAP 2.1 §11.3: CLA `80`/`90`, INS `10` NFCCTAP_MSG,
    /// `11` NFCCTAP_GETRESPONSE, `12` NFCCTAP_CONTROL; and the CTAP1/U2F APDUs of §11.2).
    CtapNfc,
}

/// What a command does to the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Reads without side effect on the card's persistent state or counters: may be sent
    /// again (e.g. with the Le the card asked for in `6Cxx`).
    Read,
    /// Changes card state (writes, key generation, signature, authentication steps,
    /// counters): never sent again automatically.
    Changes,
    /// Carries a secret (PIN, PUK, key) and usually spends a try: never sent again
    /// automatically, never echoed or logged.
    Secret,
}

/// Which part of a command must be hidden from logs, transcripts and terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hidden {
    /// Nothing is secret.
    Nothing,
    /// The whole command data field.
    Data,
    /// The data field after its first byte (CTAP: the command byte stays visible), and the
    /// response data.
    DataAfterFirstAndResponse,
    /// The whole command data field and the response data: a command no table lists (what it
    /// carries and what it answers are unknown).
    DataAndResponse,
}

/// The class bytes an entry is valid with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Every class byte: interindustry or proprietary, any logical channel, with or without
    /// secure messaging or chaining (the instruction decides).
    Any,
    /// Proprietary classes `80`-`83` and `90`-`93` (chaining bit and channel bits ignored).
    Proprietary,
    /// Exactly this class byte.
    Exactly(u8),
}

impl Class {
    /// Whether `cla` is one of these class bytes.
    pub const fn matches(self, cla: u8) -> bool {
        match self {
            Class::Any => true,
            Class::Proprietary => cla & 0xEC == 0x80,
            Class::Exactly(c) => cla == c,
        }
    }
}

/// The commands a table claims as its protocol's whether it lists them or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Claim {
    /// None: only the listed entries belong to the table (ISO 7816-4, IAS-ECC).
    Listed,
    /// Every command with this class byte (DESFire: CLA `90` wraps native commands, whose codes
    /// overlap ISO 7816-4 instructions: `90 CA` is CreateApplication, not GET DATA).
    Class(u8),
    /// Every command with a class byte of [`Class::Proprietary`] and an instruction in this
    /// range (CTAP: INS `10`-`12`).
    Proprietary {
        /// Lowest instruction.
        from: u8,
        /// Highest instruction.
        to: u8,
    },
}

impl Claim {
    const fn claims(self, cla: u8, ins: u8) -> bool {
        match self {
            Claim::Listed => false,
            Claim::Class(c) => cla == c,
            Claim::Proprietary { from, to } => {
                Class::Proprietary.matches(cla) && ins >= from && ins <= to
            }
        }
    }
}

/// How many data bytes a request carries (for DESFire: the native data after the command
/// header, before any secure messaging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataLen {
    /// No data field.
    None,
    /// Exactly this many bytes.
    Fixed(u16),
    /// From `.0` to `.1` bytes, both included.
    Range(u16, u16),
    /// Whatever the command defines elsewhere (a length in its header, a TLV structure); the
    /// handler checks it.
    Variable,
}

impl DataLen {
    /// Whether `len` data bytes fit.
    pub fn allows(self, len: usize) -> bool {
        match self {
            DataLen::None => len == 0,
            DataLen::Fixed(n) => len == usize::from(n),
            DataLen::Range(lo, hi) => (usize::from(lo)..=usize::from(hi)).contains(&len),
            DataLen::Variable => true,
        }
    }
}

/// Whether a request carries Le.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Le {
    /// No response data: no Le.
    Absent,
    /// Response data expected: Le present.
    Expected,
    /// Either (the caller decides, e.g. SELECT with or without FCI).
    Optional,
}

impl Le {
    /// Whether a request with (`Some`) or without (`None`) an expected length fits.
    pub fn allows(self, ne: Option<usize>) -> bool {
        match self {
            Le::Absent => ne.is_none(),
            Le::Expected => ne.is_some(),
            Le::Optional => true,
        }
    }
}

/// How a DESFire command travels once a session is open (MF3D(H)x3 datasheet §9; the sim and
/// the client resolve the file's communication mode for the file commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DesfireComm {
    /// Plain, never MACed (SelectApplication, the authentication steps).
    Plain,
    /// Management command: MACed when a session is open.
    Management,
    /// The data after the header is enciphered (keys, settings).
    EncipheredCommand,
    /// The response is enciphered (GetCardUID).
    EncipheredResponse,
    /// Reads a file: the response in the file's communication mode.
    FileRead,
    /// Writes a file: the data in the file's communication mode.
    FileWrite,
}

/// How a command is protected on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protection {
    /// Plain (ISO 7816-4 secure messaging may still wrap it when a session requires it).
    Plain,
    /// Always under ISO 7816-4 secure messaging (CLA bit `0C`).
    SecureMessaging,
    /// A DESFire communication mode.
    Desfire(DesfireComm),
}

/// One command: how it looks and what it does.
///
/// Build entries with [`CommandSpec::new`] and the `const` setters; the defaults are class
/// [`Class::Any`] sent as CLA `00`, no sub-command, no header, no data, no Le,
/// [`Protection::Plain`] and [`Hidden::Nothing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandSpec {
    /// A short name for messages ("VERIFY", "DESFire ChangeKey", "CTAP authenticatorClientPIN").
    pub name: &'static str,
    /// The class bytes the entry is valid with.
    pub class: Class,
    /// The class byte the client sends (before channel, chaining and secure-messaging bits).
    pub cla: u8,
    /// The instruction (DESFire: the native command code).
    pub ins: u8,
    /// The first data byte when it selects the command (CTAP: the authenticator command).
    pub sub: Option<u8>,
    /// Bytes of command header ahead of the data, never enciphered (DESFire).
    pub header: u8,
    /// How many data bytes the request carries (after the header and the sub-command byte).
    pub data: DataLen,
    /// Whether the request carries Le.
    pub le: Le,
    /// How it is protected.
    pub protection: Protection,
    /// What it does to the card.
    pub effect: Effect,
    /// What must never be shown.
    pub hidden: Hidden,
}

impl CommandSpec {
    /// An entry with the defaults listed on [`CommandSpec`].
    pub const fn new(name: &'static str, ins: u8, effect: Effect) -> Self {
        CommandSpec {
            name,
            class: Class::Any,
            cla: 0x00,
            ins,
            sub: None,
            header: 0,
            data: DataLen::None,
            le: Le::Absent,
            protection: Protection::Plain,
            effect,
            hidden: Hidden::Nothing,
        }
    }

    /// Valid with these class bytes only, sent with `cla`.
    pub const fn class(mut self, class: Class, cla: u8) -> Self {
        self.class = class;
        self.cla = cla;
        self
    }

    /// Selected by this first data byte.
    pub const fn sub(mut self, sub: u8) -> Self {
        self.sub = Some(sub);
        self
    }

    /// With this many header bytes ahead of the data.
    pub const fn header(mut self, header: u8) -> Self {
        self.header = header;
        self
    }

    /// With this data length.
    pub const fn data(mut self, data: DataLen) -> Self {
        self.data = data;
        self
    }

    /// With this Le rule.
    pub const fn le(mut self, le: Le) -> Self {
        self.le = le;
        self
    }

    /// With this protection.
    pub const fn protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// With this part hidden.
    pub const fn hidden(mut self, hidden: Hidden) -> Self {
        self.hidden = hidden;
        self
    }

    /// Whether the entry describes a command with this class, instruction and first data
    /// byte.
    pub fn matches(&self, cla: u8, ins: u8, first: Option<u8>) -> bool {
        self.ins == ins && self.class.matches(cla) && (self.sub.is_none() || self.sub == first)
    }

    /// Checks a request's shape: `len` bytes after the header (and sub-command byte), with or
    /// without an expected response length.
    pub fn check(&self, len: usize, ne: Option<usize>) -> Result<(), ShapeError> {
        if !self.data.allows(len) {
            return Err(ShapeError::DataLength {
                command: self.name,
                len,
                expected: self.data,
            });
        }
        if !self.le.allows(ne) {
            return Err(ShapeError::Le {
                command: self.name,
                expected: self.le,
            });
        }
        Ok(())
    }

    /// Checks a request's shape from its whole data field (header and sub-command byte
    /// included; Le not checked): what a card side does with a received command.
    pub fn check_data(&self, data: &[u8]) -> Result<(), ShapeError> {
        let skip = usize::from(self.header) + usize::from(self.sub.is_some());
        let Some(rest) = data.get(skip..) else {
            return Err(ShapeError::DataLength {
                command: self.name,
                len: data.len(),
                expected: self.data,
            });
        };
        if self.sub.is_some() && data.first().copied() != self.sub {
            return Err(ShapeError::DataLength {
                command: self.name,
                len: data.len(),
                expected: self.data,
            });
        }
        self.check(rest.len(), None).or_else(|e| match e {
            ShapeError::Le { .. } => Ok(()),
            e => Err(e),
        })
    }

    /// Builds the command (class byte [`CommandSpec::cla`]) after checking its shape.
    ///
    /// `data` is the whole data field: the header and sub-command byte, if the entry has them,
    /// come first and are counted apart from [`CommandSpec::data`].
    pub fn command(
        &self,
        p1: u8,
        p2: u8,
        data: &[u8],
        ne: Option<usize>,
    ) -> Result<Command, ShapeError> {
        self.command_with_cla(self.cla, p1, p2, data, ne)
    }

    /// [`CommandSpec::command`] with another class byte (a logical channel, secure messaging,
    /// a proprietary class), which must be one the entry is valid with.
    pub fn command_with_cla(
        &self,
        cla: u8,
        p1: u8,
        p2: u8,
        data: &[u8],
        ne: Option<usize>,
    ) -> Result<Command, ShapeError> {
        if !self.class.matches(cla) {
            return Err(ShapeError::Class {
                command: self.name,
                cla,
            });
        }
        let skip = usize::from(self.header) + usize::from(self.sub.is_some());
        let len = data.len().checked_sub(skip).ok_or(ShapeError::DataLength {
            command: self.name,
            len: data.len(),
            expected: self.data,
        })?;
        if self.sub.is_some() && data.first().copied() != self.sub {
            return Err(ShapeError::Class {
                command: self.name,
                cla,
            });
        }
        self.check(len, ne)?;
        let mut c = Command::new(cla, self.ins, p1, p2).with_data(data);
        c.ne = ne;
        Ok(c)
    }

    /// What the transport reads about this entry.
    pub fn info(&self, protocol: Protocol) -> CommandInfo {
        CommandInfo {
            protocol,
            name: self.name,
            effect: self.effect,
            hidden: self.hidden,
        }
    }
}

/// A request whose shape its table entry does not allow: refused before any byte is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// Wrong data length.
    #[error("{command}: {len} data bytes, the command takes {expected:?}")]
    DataLength {
        /// The command.
        command: &'static str,
        /// Data bytes given (after header and sub-command byte).
        len: usize,
        /// What the table allows.
        expected: DataLen,
    },
    /// Le given where the command has none, or missing where it needs one.
    #[error("{command}: Le {expected:?}")]
    Le {
        /// The command.
        command: &'static str,
        /// What the table says.
        expected: Le,
    },
    /// A class byte (or sub-command byte) the entry is not valid with.
    #[error("{command}: not valid with class byte {cla:02X} or that first data byte")]
    Class {
        /// The command.
        command: &'static str,
        /// The class byte given.
        cla: u8,
    },
}

/// One protocol's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandTable {
    /// The table's name ("ISO 7816-4", "IAS-ECC", "DESFire", "CTAP").
    pub name: &'static str,
    /// The protocol of its commands.
    pub protocol: Protocol,
    /// The commands it claims whether it lists them or not.
    pub claim: Claim,
    /// The name given to a claimed command the table does not list.
    pub unlisted: &'static str,
    /// The entries.
    pub commands: &'static [CommandSpec],
}

impl CommandTable {
    /// A table that claims only what it lists.
    pub const fn new(
        name: &'static str,
        protocol: Protocol,
        commands: &'static [CommandSpec],
    ) -> Self {
        CommandTable {
            name,
            protocol,
            claim: Claim::Listed,
            unlisted: "command",
            commands,
        }
    }

    /// The same table claiming more commands, with the name given to unlisted ones.
    pub const fn claiming(mut self, claim: Claim, unlisted: &'static str) -> Self {
        self.claim = claim;
        self.unlisted = unlisted;
        self
    }

    /// The entry for this class, instruction and first data byte.
    pub fn find(&self, cla: u8, ins: u8, first: Option<u8>) -> Option<&'static CommandSpec> {
        self.commands.iter().find(|c| c.matches(cla, ins, first))
    }

    /// The entry for this instruction whatever the class byte and first data byte (the first
    /// one listed): what a card side that already knows its class dispatches on.
    pub fn by_ins(&self, ins: u8) -> Option<&'static CommandSpec> {
        self.commands.iter().find(|c| c.ins == ins)
    }
}

/// What the transport needs to know about one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandInfo {
    /// The protocol.
    pub protocol: Protocol,
    /// A short name for messages.
    pub name: &'static str,
    /// What it does to the card.
    pub effect: Effect,
    /// What must never be shown.
    pub hidden: Hidden,
}

impl CommandInfo {
    /// Whether the transport may send this command again by itself: only for reads.
    pub fn may_resend(&self) -> bool {
        self.effect == Effect::Read
    }

    /// Whether the command carries a secret.
    pub fn is_secret(&self) -> bool {
        self.effect == Effect::Secret
    }

    /// A command no table lists: changes state, data and response hidden.
    pub const fn unknown(protocol: Protocol, name: &'static str) -> Self {
        CommandInfo {
            protocol,
            name,
            effect: Effect::Changes,
            hidden: Hidden::DataAndResponse,
        }
    }
}

/// ISO/IEC 7816-4:2020 §11 interindustry basics owned by this crate: file selection and
/// reading, GET DATA, GET RESPONSE and MANAGE CHANNEL, for every class byte.
pub static ISO7816: CommandTable = CommandTable::new(
    "ISO 7816-4",
    Protocol::Iso7816,
    &[
        iso::SELECT,
        iso::SEARCH_BINARY,
        iso::SEARCH_BINARY_ODD,
        iso::SEARCH_RECORD,
        iso::READ_BINARY,
        iso::READ_BINARY_ODD,
        iso::READ_RECORD,
        iso::READ_RECORD_ODD,
        iso::GET_RESPONSE,
        iso::GET_DATA,
        iso::GET_DATA_ODD,
        iso::MANAGE_CHANNEL,
    ],
);

/// The entries of [`ISO7816`], for clients and card sides to build and check from.
pub mod iso {
    use super::{CommandSpec, DataLen, Effect, Le};

    /// SELECT (`A4`, §11.2.2): by file identifier, path or DF name; FCI or not.
    pub const SELECT: CommandSpec = CommandSpec::new("SELECT", 0xA4, Effect::Read)
        .data(DataLen::Range(0, 255))
        .le(Le::Optional);
    /// SEARCH BINARY (`A0`).
    pub const SEARCH_BINARY: CommandSpec = CommandSpec::new("SEARCH BINARY", 0xA0, Effect::Read)
        .data(DataLen::Variable)
        .le(Le::Optional);
    /// SEARCH BINARY, odd instruction (`A1`).
    pub const SEARCH_BINARY_ODD: CommandSpec =
        CommandSpec::new("SEARCH BINARY", 0xA1, Effect::Read)
            .data(DataLen::Variable)
            .le(Le::Optional);
    /// SEARCH RECORD (`A2`).
    pub const SEARCH_RECORD: CommandSpec = CommandSpec::new("SEARCH RECORD", 0xA2, Effect::Read)
        .data(DataLen::Variable)
        .le(Le::Optional);
    /// READ BINARY (`B0`, §11.3.3): offset in P1-P2, no data.
    pub const READ_BINARY: CommandSpec =
        CommandSpec::new("READ BINARY", 0xB0, Effect::Read).le(Le::Expected);
    /// READ BINARY, odd instruction (`B1`): offset in a data object.
    pub const READ_BINARY_ODD: CommandSpec = CommandSpec::new("READ BINARY", 0xB1, Effect::Read)
        .data(DataLen::Variable)
        .le(Le::Expected);
    /// READ RECORD (`B2`).
    pub const READ_RECORD: CommandSpec =
        CommandSpec::new("READ RECORD", 0xB2, Effect::Read).le(Le::Expected);
    /// READ RECORD, odd instruction (`B3`).
    pub const READ_RECORD_ODD: CommandSpec = CommandSpec::new("READ RECORD", 0xB3, Effect::Read)
        .data(DataLen::Variable)
        .le(Le::Expected);
    /// GET RESPONSE (`C0`, §11.7.1).
    pub const GET_RESPONSE: CommandSpec =
        CommandSpec::new("GET RESPONSE", 0xC0, Effect::Read).le(Le::Expected);
    /// GET DATA (`CA`, §11.5.1): tag in P1-P2.
    pub const GET_DATA: CommandSpec = CommandSpec::new("GET DATA", 0xCA, Effect::Read)
        .data(DataLen::Variable)
        .le(Le::Optional);
    /// GET DATA, odd instruction (`CB`): a tag list in the data.
    pub const GET_DATA_ODD: CommandSpec = CommandSpec::new("GET DATA", 0xCB, Effect::Read)
        .data(DataLen::Variable)
        .le(Le::Optional);
    /// MANAGE CHANNEL (`70`, §11.1.2): opens or closes a logical channel.
    pub const MANAGE_CHANNEL: CommandSpec =
        CommandSpec::new("MANAGE CHANNEL", 0x70, Effect::Changes).le(Le::Optional);
}

/// The tables a channel knows: [`ISO7816`] and those the protocol clients registered.
///
/// A command none of them lists changes state and has its data hidden
/// ([`CommandInfo::unknown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTables {
    tables: Vec<&'static CommandTable>,
}

impl Default for CommandTables {
    /// [`ISO7816`] only.
    fn default() -> Self {
        CommandTables {
            tables: alloc::vec![&ISO7816],
        }
    }
}

impl CommandTables {
    /// These tables (after [`ISO7816`]).
    pub fn of(tables: &[&'static CommandTable]) -> Self {
        tables.iter().fold(Self::default(), |set, t| set.with(t))
    }

    /// The set with `table` added (once).
    pub fn with(mut self, table: &'static CommandTable) -> Self {
        self.add(table);
        self
    }

    /// Adds `table` (nothing if it is already there); returns whether it was new.
    pub fn add(&mut self, table: &'static CommandTable) -> bool {
        if self.contains(table) {
            return false;
        }
        self.tables.push(table);
        true
    }

    /// Adds every table of `other`.
    pub fn extend(&mut self, other: &CommandTables) {
        for t in &other.tables {
            self.add(t);
        }
    }

    /// Whether `table` is in the set.
    pub fn contains(&self, table: &CommandTable) -> bool {
        self.tables
            .iter()
            .any(|t| core::ptr::eq(*t, table) || **t == *table)
    }

    /// The tables, in the order they were added.
    pub fn tables(&self) -> &[&'static CommandTable] {
        &self.tables
    }

    /// The entry describing an encoded command APDU, if a table lists it.
    pub fn find(&self, apdu: &[u8]) -> Option<(&'static CommandTable, &'static CommandSpec)> {
        let [cla, ins, ..] = *apdu else {
            return None;
        };
        let first = first_data_byte(apdu);
        if let Some(t) = self.claimer(cla, ins) {
            return t.find(cla, ins, first).map(|e| (t, e));
        }
        // An entry for these class bytes only (`84 E2`, a protected update command) before one
        // valid for every class (`00 E2`, APPEND RECORD).
        // Any table's entries, claiming tables included (the U2F APDUs of the CTAP table).
        let listed = || self.tables.iter();
        listed()
            .find_map(|t| {
                t.commands
                    .iter()
                    .find(|e| e.class != Class::Any && e.matches(cla, ins, first))
                    .map(|e| (*t, e))
            })
            .or_else(|| listed().find_map(|t| t.find(cla, ins, first).map(|e| (*t, e))))
    }

    /// The table claiming a command: one claiming a class and an instruction range (CTAP)
    /// before one claiming a whole class (DESFire): `90 10` is chained NFCCTAP_MSG.
    fn claimer(&self, cla: u8, ins: u8) -> Option<&'static CommandTable> {
        let claims = |t: &&&'static CommandTable| t.claim.claims(cla, ins);
        self.tables
            .iter()
            .filter(|t| matches!(t.claim, Claim::Proprietary { .. }))
            .find(claims)
            .or_else(|| self.tables.iter().find(claims))
            .copied()
    }

    /// Classifies an encoded command APDU (at least CLA and INS; shorter input is an unknown
    /// state-changing command).
    ///
    /// A command a table claims ([`Claim`]) is that table's: its entry, else (an unlisted
    /// command) a secret instruction valid for every class byte if a table has one (a VERIFY
    /// is secret whatever its class), else unknown. Any other command is looked up in every
    /// table, entries for given class bytes first. Unknown commands change state and have
    /// their data hidden.
    pub fn classify(&self, apdu: &[u8]) -> CommandInfo {
        let [cla, ins, ..] = *apdu else {
            return CommandInfo::unknown(Protocol::Iso7816, "command");
        };
        if let Some(t) = self.claimer(cla, ins) {
            if let Some(e) = t.find(cla, ins, first_data_byte(apdu)) {
                return e.info(t.protocol);
            }
            let secret = self
                .tables
                .iter()
                .flat_map(|l| l.commands.iter())
                .find(|e| e.ins == ins && e.effect == Effect::Secret && e.class == Class::Any);
            return match secret {
                Some(e) => e.info(t.protocol),
                None => CommandInfo::unknown(t.protocol, t.unlisted),
            };
        }
        match self.find(apdu) {
            Some((t, e)) => e.info(t.protocol),
            None => CommandInfo::unknown(Protocol::Iso7816, "command"),
        }
    }

    /// [`CommandTables::classify`] of a command (its header and first data byte).
    pub fn classify_command(&self, command: &Command) -> CommandInfo {
        let mut head = alloc::vec![command.cla, command.ins, command.p1, command.p2];
        if let Some(&b) = command.data.first() {
            head.extend_from_slice(&[1, b]);
        }
        self.classify(&head)
    }
}

/// The first data byte of an encoded command, when it has data (short or extended Lc).
pub fn first_data_byte(apdu: &[u8]) -> Option<u8> {
    match apdu.get(4..) {
        // Extended Lc: 00 hi lo, data from offset 7.
        Some([0, hi, lo, rest @ ..]) if (*hi != 0 || *lo != 0) && !rest.is_empty() => {
            rest.first().copied()
        }
        // Short Lc 1..=255, data from offset 5 (a lone byte is Le, not Lc).
        Some([lc, rest @ ..]) if *lc != 0 && !rest.is_empty() => rest.first().copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: CommandSpec = CommandSpec::new("VERIFY", 0x20, Effect::Secret)
        .data(DataLen::Range(0, 64))
        .hidden(Hidden::Data);
    static PINS: CommandTable = CommandTable::new("pins", Protocol::Iso7816, &[PIN]);
    static NATIVE: CommandTable = CommandTable::new(
        "native",
        Protocol::Desfire,
        &[
            CommandSpec::new("N GetVersion", 0x60, Effect::Read).class(Class::Exactly(0x90), 0x90),
            CommandSpec::new("N ChangeKey", 0xC4, Effect::Secret)
                .class(Class::Exactly(0x90), 0x90)
                .hidden(Hidden::Data),
        ],
    )
    .claiming(Claim::Class(0x90), "N command");
    static SUBS: CommandTable = CommandTable::new(
        "subs",
        Protocol::CtapNfc,
        &[
            CommandSpec::new("S pin", 0x10, Effect::Secret)
                .class(Class::Proprietary, 0x80)
                .sub(0x06)
                .hidden(Hidden::DataAfterFirstAndResponse),
            CommandSpec::new("S info", 0x10, Effect::Read)
                .class(Class::Proprietary, 0x80)
                .sub(0x04),
        ],
    )
    .claiming(
        Claim::Proprietary {
            from: 0x10,
            to: 0x12,
        },
        "S command",
    );

    fn all() -> CommandTables {
        CommandTables::of(&[&PINS, &NATIVE, &SUBS])
    }

    #[test]
    fn secret_instructions_for_every_class_byte() {
        let t = all();
        for cla in 0..=0xFFu8 {
            let c = Command::new(cla, 0x20, 0, 1).with_data(b"1234");
            let i = t.classify_command(&c);
            assert_eq!(i.effect, Effect::Secret, "CLA {cla:02X}");
            assert!(!i.may_resend());
            assert_ne!(i.hidden, Hidden::Nothing);
        }
    }

    #[test]
    fn claims_listed_and_unknown() {
        let t = all();
        assert!(t.classify(&[0x00, 0xB0, 0, 0, 0]).may_resend());
        assert!(t.classify(&[0x81, 0xB0, 0, 0, 0]).may_resend());
        // CLA 90 belongs to the native table: CA is not GET DATA there, C0 not GET RESPONSE.
        let create = t.classify(&[0x90, 0xCA, 0, 0, 1, 0, 0]);
        assert_eq!(create.protocol, Protocol::Desfire);
        assert_eq!(create.name, "N command");
        assert!(!create.may_resend());
        assert_eq!(create.hidden, Hidden::DataAndResponse);
        assert!(!t.classify(&[0x90, 0xC0, 0, 0, 0]).may_resend());
        assert!(t.classify(&[0x90, 0x60, 0, 0, 0]).may_resend());
        assert!(t.classify(&[0x90, 0xC4, 0, 0, 1, 0, 0]).is_secret());
        // A secret ISO instruction under a claimed class stays secret.
        assert!(t.classify(&[0x90, 0x20, 0, 1, 1, 0x31]).is_secret());
        // Sub-commands by first data byte, chained and on channel 1 too.
        for cla in [0x80, 0x90, 0x81] {
            let pin = t.classify(&[cla, 0x10, 0x80, 0, 2, 0x06, 0xA1, 0]);
            assert_eq!(pin.protocol, Protocol::CtapNfc);
            assert!(pin.is_secret());
            assert_eq!(pin.hidden, Hidden::DataAfterFirstAndResponse);
        }
        assert!(t.classify(&[0x80, 0x10, 0, 0, 1, 0x04, 0]).may_resend());
        assert!(
            t.classify(&[0x80, 0x10, 0, 0, 0, 0, 2, 0x06, 0xA1])
                .is_secret()
        );
        assert_eq!(t.classify(&[0x80, 0x10, 0, 0, 0x06]).name, "S command");
        // Unknown: changes state, data and response hidden; short input too.
        for apdu in [&[0x00, 0x99, 0, 0, 1, 7][..], &[0x00], &[]] {
            let u = t.classify(apdu);
            assert!(!u.may_resend());
            assert_eq!(u.hidden, Hidden::DataAndResponse);
        }
    }

    #[test]
    fn unregistered_tables_fall_back_to_the_safe_rule() {
        let t = CommandTables::default();
        let verify = t.classify(&[0x00, 0x20, 0, 1, 4, 1, 2, 3, 4]);
        assert!(!verify.may_resend());
        assert_eq!(verify.hidden, Hidden::DataAndResponse);
        assert!(t.classify(&[0x00, 0xA4, 4, 0, 1, 0xA0]).may_resend());
        assert!(!CommandTables::default().with(&PINS).add(&PINS));
    }

    #[test]
    fn shapes_are_checked_before_sending() {
        assert!(PIN.command(0, 1, &[0; 64], None).is_ok());
        assert!(matches!(
            PIN.command(0, 1, &[0; 65], None),
            Err(ShapeError::DataLength { len: 65, .. })
        ));
        assert!(matches!(
            PIN.command(0, 1, &[], Some(1)),
            Err(ShapeError::Le { .. })
        ));
        assert!(PIN.command_with_cla(0x81, 0, 1, b"1", None).is_ok());
        assert!(iso::READ_BINARY.command(0, 0, &[], Some(256)).is_ok());
        assert!(iso::READ_BINARY.command(0, 0, &[1], Some(256)).is_err());
        let native = NATIVE.commands[1];
        assert!(matches!(
            native.command_with_cla(0x00, 0, 0, &[], None),
            Err(ShapeError::Class { .. })
        ));
        let info = SUBS.commands[1];
        assert!(info.check_data(&[0x04]).is_ok());
        assert!(info.check_data(&[0x04, 0]).is_err());
        assert!(info.check_data(&[]).is_err());
    }

    #[test]
    fn never_panics_on_short_or_odd_input() {
        let t = all();
        for len in 0..8 {
            for b in [0x00u8, 0x06, 0x10, 0x80, 0x90, 0xFF] {
                let _ = t.classify(&alloc::vec![b; len]);
                let _ = t.find(&alloc::vec![b; len]);
            }
        }
    }
}
