//! `cps desfire ...`: the DESFire side of the CPS4 (contactless interface), through
//! `cps_desfire::Desfire`. Keys are secrets: they come from the terminal, stdin or
//! `CPS_DESFIRE_KEY`, never from the command line.

use clap::{Args, Subcommand, ValueEnum};
use cps::desfire::client::{DoorConfig, LegacyHint};
use cps::desfire::{Aid, AuthMode, DesfireError, DesfireStatus, Key, KeyType};
use serde_json::json;

use crate::info::line;
use crate::secret::Secret;
use crate::{Ctx, Failure, fail};

/// DESFire key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyKind {
    /// AES-128 (16 bytes).
    Aes,
    /// Single DES (8 bytes).
    Des,
    /// 2-key 3DES (16 bytes).
    #[value(name = "2k3des")]
    TwoKey,
    /// 3-key 3DES (24 bytes).
    #[value(name = "3k3des")]
    ThreeKey,
}

impl KeyKind {
    fn key_type(self) -> KeyType {
        match self {
            KeyKind::Aes => KeyType::Aes128,
            KeyKind::Des => KeyType::Des,
            KeyKind::TwoKey => KeyType::TwoKey3Des,
            KeyKind::ThreeKey => KeyType::ThreeKey3Des,
        }
    }
}

/// The application and key to authenticate with.
#[derive(Args, Debug, Clone)]
pub struct KeyArgs {
    /// Application ID (6 hex digits, as `cps desfire info` lists them; 000000 = PICC).
    #[arg(long, value_parser = parse_aid)]
    aid: Aid,
    /// Key number in the application.
    #[arg(long, default_value_t = 0)]
    key_no: u8,
    /// Key type (the key itself is read as a secret: CPS_DESFIRE_KEY with --pin-from env).
    #[arg(long, value_enum, default_value_t = KeyKind::Aes)]
    key_type: KeyKind,
}

/// `cps desfire` subcommands.
#[derive(Subcommand, Debug)]
pub enum DesfireCmd {
    /// GetVersion (generation, UID, storage) and the application IDs.
    Info,
    /// Authenticate with an application key (EV2First for AES, ISO for DES/3DES).
    Auth(KeyArgs),
    /// Read a data file (authenticating first unless --no-auth).
    Read {
        #[command(flatten)]
        key: KeyArgs,
        /// File number.
        #[arg(long)]
        file: u8,
        /// Offset.
        #[arg(long, default_value_t = 0)]
        offset: u32,
        /// Length (0: to the end of the file).
        #[arg(long, default_value_t = 0)]
        length: u32,
        /// Read without authenticating (free-access files).
        #[arg(long)]
        no_auth: bool,
    },
    /// The access-control check: authenticate (AN10922-diversified key with --diversify)
    /// and read the credential file. Exit code 8 when the card is refused.
    DoorCheck {
        #[command(flatten)]
        key: KeyArgs,
        /// Credential file number.
        #[arg(long)]
        file: u8,
        /// Diversify the master key with the card UID (AN10922).
        #[arg(long)]
        diversify: bool,
        /// AN10922 system identifier (hex) after UID ‖ AID.
        #[arg(long, default_value = "")]
        system_id: String,
        /// Print the credential bytes (hidden by default).
        #[arg(long)]
        show_data: bool,
    },
}

fn parse_aid(s: &str) -> Result<Aid, String> {
    let v = u32::from_str_radix(s.trim(), 16).map_err(|e| format!("{s:?}: {e}"))?;
    if s.trim().len() != 6 {
        return Err(format!("{s:?}: an AID is 6 hex digits"));
    }
    Aid::new(v).ok_or_else(|| format!("{s:?}: more than 24 bits"))
}

fn read_key(ctx: &mut Ctx, kind: KeyKind) -> Result<Key, Failure> {
    let text = ctx.secrets.read(Secret::DesfireKey)?;
    let bytes = zeroize::Zeroizing::new(
        hex::decode(text.trim())
            .map_err(|e| Failure::usage(format!("the DESFire key is not hex: {e}")))?,
    );
    Key::new(kind.key_type(), &bytes).map_err(|e| Failure::usage(format!("DESFire key: {e}")))
}

fn authenticate<C: cps::transport::CardChannel>(
    d: &mut cps::desfire::Desfire<C>,
    key_no: u8,
    key: Key,
) -> Result<&'static str, DesfireError> {
    if key.key_type() == KeyType::Aes128 {
        match d.authenticate(AuthMode::Ev2First, key_no, key.clone()) {
            Ok(()) => return Ok("EV2First (AES)"),
            // An EV1 card does not know EV2First.
            Err(DesfireError::Auth(cps::desfire::AuthError::Refused(
                DesfireStatus::IllegalCommand,
            ))) => {}
            Err(e) => return Err(e),
        }
        d.authenticate(AuthMode::Aes, key_no, key)?;
        Ok("AES (EV1)")
    } else {
        d.authenticate(AuthMode::Iso, key_no, key)?;
        Ok("ISO (3DES)")
    }
}

/// Runs a `cps desfire` subcommand.
pub fn run(ctx: &mut Ctx, cmd: DesfireCmd) -> Result<u8, Failure> {
    let cps3 = matches!(ctx.card.sim.as_deref(), Some(s) if s.eq_ignore_ascii_case("cps3"));
    let key = match &cmd {
        DesfireCmd::Info => None,
        DesfireCmd::Read { no_auth: true, .. } => None,
        DesfireCmd::Auth(k)
        | DesfireCmd::Read { key: k, .. }
        | DesfireCmd::DoorCheck { key: k, .. } => Some(read_key(ctx, k.key_type)?),
    };
    let mut card = ctx.card.open()?;
    let json = ctx.json;
    let mut d = card.desfire();
    match cmd {
        DesfireCmd::Info => {
            let v = d.get_version().map_err(fail)?;
            let apps = d.get_application_ids();
            let apps_text: Vec<String> = match &apps {
                Ok(a) => a.iter().map(ToString::to_string).collect(),
                Err(_) => Vec::new(),
            };
            let (storage, exact) = v.hardware.storage_bytes();
            if json {
                out!(
                    "{}",
                    json!({
                        "generation": format!("{:?}", v.generation()),
                        "uid": hex::encode_upper(v.uid),
                        "storage_bytes": storage,
                        "storage_exact": exact,
                        "applications": apps.as_ref().ok().map(|_| &apps_text),
                        "applications_error": apps.as_ref().err().map(ToString::to_string),
                    })
                );
            } else {
                line("generation", format!("{:?}", v.generation()));
                line("UID", hex::encode_upper(v.uid));
                line(
                    "storage",
                    format!("{}{storage} bytes", if exact { "" } else { "about " }),
                );
                match &apps {
                    Ok(_) => line("applications", apps_text.join(" ")),
                    Err(e) => line("applications", format!("not listed: {e}")),
                }
            }
        }
        DesfireCmd::Auth(k) => {
            d.select_application(k.aid).map_err(fail)?;
            let key = key.ok_or_else(|| Failure::new(1, "no key"))?;
            let how = authenticate(&mut d, k.key_no, key).map_err(fail)?;
            if json {
                out!(
                    "{}",
                    json!({"aid": k.aid.to_string(), "key_no": k.key_no, "authenticated": how})
                );
            } else {
                out!(
                    "authenticated to application {} with key {} ({how})",
                    k.aid,
                    k.key_no
                );
            }
        }
        DesfireCmd::Read {
            key: k,
            file,
            offset,
            length,
            ..
        } => {
            d.select_application(k.aid).map_err(fail)?;
            if let Some(key) = key {
                authenticate(&mut d, k.key_no, key).map_err(fail)?;
            }
            let data = d.read_data(file, offset, length).map_err(fail)?;
            if json {
                out!(
                    "{}",
                    json!({"aid": k.aid.to_string(), "file": file, "data": hex::encode_upper(&*data)})
                );
            } else {
                out!("{}", cps_transport::spaced_hex(&data));
            }
        }
        DesfireCmd::DoorCheck {
            key: k,
            file,
            diversify,
            system_id,
            show_data,
        } => {
            let key = key.ok_or_else(|| Failure::new(1, "no key"))?;
            let config = DoorConfig {
                system_identifier: hex::decode(&system_id)
                    .map_err(|e| Failure::usage(format!("--system-id: {e}")))?,
                legacy: if cps3 {
                    LegacyHint::ReliesOnMifareClassic
                } else {
                    LegacyHint::None
                },
                ..DoorConfig::default()
            };
            match d.door_check_with(k.aid, k.key_no, &key, diversify, file, &config) {
                Ok(c) => {
                    if json {
                        out!(
                            "{}",
                            json!({
                                "granted": true,
                                "aid": c.aid.to_string(),
                                "file": c.file_no,
                                "uid": c.uid.as_ref().map(hex::encode_upper),
                                "session": format!("{:?}", c.session),
                                "credential_bytes": c.data.len(),
                                "credential": show_data.then(|| hex::encode_upper(&*c.data)),
                                "exchanges": c.exchanges,
                            })
                        );
                    } else {
                        line("door check", "GRANTED");
                        line(
                            "credential",
                            if show_data {
                                cps_transport::spaced_hex(&c.data)
                            } else {
                                format!("{} bytes (--show-data prints them)", c.data.len())
                            },
                        );
                        line("session", format!("{:?}", c.session));
                        line("exchanges", c.exchanges);
                    }
                }
                Err(refusal) => {
                    if json {
                        out!(
                            "{}",
                            json!({"granted": false, "reason": refusal.to_string()})
                        );
                    }
                    return Err(Failure::new(8, format!("door check refused: {refusal}")));
                }
            }
        }
    }
    Ok(0)
}
