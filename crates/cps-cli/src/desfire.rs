//! `cps desfire ...`: the DESFire side of the CPS4 (contactless interface), through
//! `cps_desfire::Desfire`. Keys are secrets: they come from the terminal, stdin or
//! `CPS_DESFIRE_KEY`, never from the command line.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use cps::desfire::badge::{BadgeRecord, Date, DoorProfile, EstablishmentKeys};
use cps::desfire::client::{DoorConfig, LegacyHint};
use cps::desfire::provision::{self, DoorRefusal, Outcome, ProvisionOptions};
use cps::desfire::{Aid, AuthMode, DesfireError, DesfireStatus, Key, KeyType};
use serde_json::json;
use zeroize::Zeroizing;

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

/// A file's communication mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CommArg {
    /// Plain.
    Plain,
    /// MACed.
    Mac,
    /// Enciphered.
    Full,
}

impl CommArg {
    fn mode(self) -> cps::desfire::CommMode {
        match self {
            CommArg::Plain => cps::desfire::CommMode::Plain,
            CommArg::Mac => cps::desfire::CommMode::Mac,
            CommArg::Full => cps::desfire::CommMode::Full,
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
    /// and read the credential file. With --profile, the establishment's badge as its doors
    /// read it: UID from the reader, select, authenticate, read — 4 card exchanges. Exit code
    /// 8 when the card is refused.
    DoorCheck {
        /// Door profile file (AID, badge file, key number, communication mode,
        /// diversification): what the door knows in advance. The door master key comes from
        /// --keys or CPS_DESFIRE_DOOR_MASTER_KEY.
        #[arg(long, conflicts_with_all = ["aid", "file", "diversify", "system_id"])]
        profile: Option<PathBuf>,
        /// Key file holding `door-master-key = ...` (with --profile).
        #[arg(long, requires = "profile")]
        keys: Option<PathBuf>,
        /// Application ID (6 hex digits; without --profile).
        #[arg(long, value_parser = parse_aid, required_unless_present = "profile")]
        aid: Option<Aid>,
        /// Key number in the application (without --profile).
        #[arg(long, default_value_t = 0)]
        key_no: u8,
        /// Key type (the key itself is read as a secret: CPS_DESFIRE_KEY with --pin-from env).
        #[arg(long, value_enum, default_value_t = KeyKind::Aes)]
        key_type: KeyKind,
        /// Credential file number (without --profile).
        #[arg(long, required_unless_present = "profile")]
        file: Option<u8>,
        /// Diversify the master key with the card UID (AN10922).
        #[arg(long)]
        diversify: bool,
        /// AN10922 system identifier (hex) after UID ‖ AID.
        #[arg(long, default_value = "")]
        system_id: String,
        /// The credential file's communication mode, when known: saves the GetFileSettings
        /// exchange (without --profile).
        #[arg(long, value_enum)]
        comm: Option<CommArg>,
        /// Print the credential bytes (hidden by default).
        #[arg(long)]
        show_data: bool,
    },
    /// Badge provisioning as an establishment does it: authenticate to the card with the
    /// PICC master key (the delivered all-zero key, or the establishment's), create the
    /// establishment's application with AES keys diversified per card (AN10922), create and
    /// write the badge file (holder, validity), check it as a door does, optionally replace
    /// the PICC master key. Safe to interrupt: run it again to complete.
    Provision {
        /// Door profile file (AID, badge file, door key number, communication mode,
        /// diversification).
        #[arg(long)]
        profile: PathBuf,
        /// Establishment key file (`app-master-key`, `door-master-key`, optional
        /// `picc-master-key`, `key-version`); without it: CPS_DESFIRE_APP_MASTER_KEY,
        /// CPS_DESFIRE_DOOR_MASTER_KEY, CPS_DESFIRE_PICC_MASTER_KEY, CPS_DESFIRE_KEY_VERSION.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Holder identifier written in the badge (e.g. the RPPS number).
        #[arg(long)]
        holder: String,
        /// First day the badge opens doors (YYYY-MM-DD).
        #[arg(long)]
        valid_from: String,
        /// Last day the badge opens doors (YYYY-MM-DD).
        #[arg(long)]
        valid_until: String,
        /// Replace the PICC master key by the establishment's (diversified per card).
        #[arg(long)]
        change_picc_key: bool,
        /// Change nothing: read the card and print what a run would do.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The establishment keys: from `path` (a key file), else from the environment.
/// What `cps info` says of DESFire on a card powered through its contact interface.
/// The card answers through its contact interface: the DESFire side cannot be reached.
fn contact_side() -> Failure {
    Failure::new(5, tr!("desfire-contact-side"))
}

fn establishment_keys(path: Option<&Path>) -> Result<EstablishmentKeys, Failure> {
    let text = match path {
        Some(p) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(m) = std::fs::metadata(p) {
                    if m.permissions().mode() & 0o077 != 0 {
                        eprintln!(
                            "{}",
                            tr!("desfire-keys-readable", path = p.display().to_string())
                        );
                    }
                }
            }
            Zeroizing::new(std::fs::read_to_string(p).map_err(|e| {
                Failure::usage(tr!(
                    "desfire-reading-key-file",
                    path = p.display().to_string(),
                    error = e.to_string()
                ))
            })?)
        }
        None => {
            let mut t = Zeroizing::new(String::new());
            for (var, name) in [
                ("CPS_DESFIRE_APP_MASTER_KEY", "app-master-key"),
                ("CPS_DESFIRE_DOOR_MASTER_KEY", "door-master-key"),
                ("CPS_DESFIRE_PICC_MASTER_KEY", "picc-master-key"),
                ("CPS_DESFIRE_KEY_VERSION", "key-version"),
            ] {
                if let Ok(v) = std::env::var(var) {
                    let v = Zeroizing::new(v);
                    t.push_str(name);
                    t.push_str(" = ");
                    t.push_str(v.trim());
                    t.push('\n');
                }
            }
            t
        }
    };
    let source = match path {
        Some(p) => p.display().to_string(),
        None => "the CPS_DESFIRE_*_KEY variables".to_string(),
    };
    EstablishmentKeys::parse(&text).map_err(|e| Failure::usage(format!("{source}: {e}")))
}

fn door_profile(path: &Path) -> Result<DoorProfile, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(tr!(
            "desfire-reading-profile",
            path = path.display().to_string(),
            error = e.to_string()
        ))
    })?;
    DoorProfile::parse(&text).map_err(|e| {
        Failure::usage(tr!(
            "desfire-bad-profile",
            path = path.display().to_string(),
            error = e.to_string()
        ))
    })
}

fn date_arg(flag: &str, text: &str) -> Result<Date, Failure> {
    Date::parse(text).map_err(|e| Failure::usage(format!("{flag}: {e}")))
}

/// The UID as the PC/SC reader reports it (`FF CA 00 00 00`, PC/SC Part 3 §3.2.2.1.3):
/// answered by the reader from anticollision, without a card exchange. `None` when the
/// reader does not answer it.
fn reader_uid<C: cps::transport::CardChannel>(d: &mut cps::desfire::Desfire<C>) -> Option<Vec<u8>> {
    let r = d
        .channel_mut()
        .transmit(&[0xFF, 0xCA, 0x00, 0x00, 0x00])
        .ok()?;
    match r.split_last_chunk::<2>() {
        Some((uid, [0x90, 0x00])) if matches!(uid.len(), 4 | 7 | 10) => Some(uid.to_vec()),
        _ => None,
    }
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
            .map_err(|e| Failure::usage(tr!("desfire-key-not-hex", error = e.to_string())))?,
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
        DesfireCmd::Provision { .. }
        | DesfireCmd::DoorCheck {
            profile: Some(_), ..
        } => None,
        DesfireCmd::DoorCheck { key_type, .. } => Some(read_key(ctx, *key_type)?),
        DesfireCmd::Auth(k) | DesfireCmd::Read { key: k, .. } => Some(read_key(ctx, k.key_type)?),
    };
    let today = date_arg("--at", &ctx.card.at()?.date())?;
    // Files and keys are read before the card is touched: a usage error sends nothing.
    if let DesfireCmd::Provision {
        profile,
        keys,
        holder,
        valid_from,
        valid_until,
        change_picc_key,
        dry_run,
    } = &cmd
    {
        let profile = door_profile(profile)?;
        let keys = establishment_keys(keys.as_deref())?;
        let record = BadgeRecord::new(
            holder,
            date_arg("--valid-from", valid_from)?,
            date_arg("--valid-until", valid_until)?,
        )
        .map_err(|e| Failure::usage(format!("badge: {e}")))?;
        let options = ProvisionOptions {
            change_picc_key: *change_picc_key,
            dry_run: *dry_run,
        };
        return provision_cmd(ctx, &profile, &keys, &record, options);
    }
    if let DesfireCmd::DoorCheck {
        profile: Some(path),
        keys,
        show_data,
        ..
    } = &cmd
    {
        let profile = door_profile(path)?;
        let keys = establishment_keys(keys.as_deref())?;
        let door_master = keys
            .door_master
            .ok_or_else(|| Failure::usage(tr!("desfire-no-door-master-key")))?;
        return door_check_profile(ctx, &profile, &door_master, today, *show_data);
    }
    let mut card = ctx.card.open()?;
    // The contact side answers DESFire frames with 6D00 / 6E00: say what `cps info` says
    // instead, and send nothing.
    if card.interface() == cps_transport::Interface::Contact {
        return Err(contact_side());
    }
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
                crate::emit(json!({
                    "generation": format!("{:?}", v.generation()),
                    "uid": hex::encode_upper(v.uid),
                    "storage_bytes": storage,
                    "storage_exact": exact,
                    "applications": apps.as_ref().ok().map(|_| &apps_text),
                    "applications_error": apps.as_ref().err().map(ToString::to_string),
                }));
            } else {
                line(&tr!("label-generation"), format!("{:?}", v.generation()));
                line("UID", hex::encode_upper(v.uid));
                line(
                    &tr!("label-desfire-storage"),
                    if exact {
                        tr!("desfire-storage-exact", n = storage)
                    } else {
                        tr!("desfire-storage-about", n = storage)
                    },
                );
                let applications = tr!("label-desfire-applications");
                match &apps {
                    Ok(_) => line(&applications, apps_text.join(" ")),
                    Err(e) => line(
                        &applications,
                        tr!("desfire-apps-not-listed", error = cps::describe(e)),
                    ),
                }
            }
        }
        DesfireCmd::Auth(k) => {
            d.select_application(k.aid).map_err(fail)?;
            let key = key.ok_or_else(|| Failure::new(1, "no key"))?;
            let how = authenticate(&mut d, k.key_no, key).map_err(fail)?;
            if json {
                crate::emit(
                    json!({"aid": k.aid.to_string(), "key_no": k.key_no, "authenticated": how}),
                );
            } else {
                out!(
                    "{}",
                    tr!(
                        "desfire-authenticated",
                        aid = k.aid.to_string(),
                        key = k.key_no,
                        how = how.to_string()
                    )
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
                crate::emit(
                    json!({"aid": k.aid.to_string(), "file": file, "data": hex::encode_upper(&*data)}),
                );
            } else {
                out!("{}", cps_transport::spaced_hex(&data));
            }
        }
        DesfireCmd::Provision { .. }
        | DesfireCmd::DoorCheck {
            profile: Some(_), ..
        } => {
            return Err(Failure::new(1, "handled above"));
        }
        DesfireCmd::DoorCheck {
            aid,
            key_no,
            file,
            diversify,
            system_id,
            comm,
            show_data,
            ..
        } => {
            let (Some(aid), Some(file)) = (aid, file) else {
                return Err(Failure::usage(tr!("desfire-aid-file-needed")));
            };
            let k = KeyArgs {
                aid,
                key_no,
                key_type: KeyKind::Aes,
            };
            let key = key.ok_or_else(|| Failure::new(1, "no key"))?;
            let system_identifier =
                hex::decode(&system_id).map_err(|e| Failure::usage(format!("--system-id: {e}")))?;
            // The UID as the reader got it in anticollision (no card exchange), else
            // GetVersion (3 exchanges).
            let uid = if diversify { reader_uid(&mut d) } else { None };
            let config = DoorConfig {
                uid: match uid {
                    Some(u) => cps::desfire::client::UidSource::Known(u),
                    None => cps::desfire::client::UidSource::GetVersion,
                },
                file_comm: comm.map(CommArg::mode),
                system_identifier,
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
                        crate::emit(json!({
                            "granted": true,
                            "aid": c.aid.to_string(),
                            "file": c.file_no,
                            "uid": c.uid.as_ref().map(hex::encode_upper),
                            "session": format!("{:?}", c.session),
                            "credential_bytes": c.data.len(),
                            "credential": show_data.then(|| hex::encode_upper(&*c.data)),
                            "exchanges": c.exchanges,
                        }));
                    } else {
                        line(&tr!("label-desfire-door-check"), tr!("desfire-granted"));
                        line(
                            &tr!("label-desfire-credential"),
                            if show_data {
                                cps_transport::spaced_hex(&c.data)
                            } else {
                                tr!("desfire-credential-hidden", n = c.data.len())
                            },
                        );
                        line(&tr!("label-desfire-session"), format!("{:?}", c.session));
                        line(&tr!("label-desfire-exchanges"), c.exchanges);
                    }
                }
                Err(refusal) => {
                    if json {
                        crate::emit(json!({"granted": false, "reason": refusal.to_string()}));
                    }
                    return Err(Failure::new(
                        8,
                        tr!("desfire-refused", reason = refusal.to_string()),
                    ));
                }
            }
        }
    }
    Ok(0)
}

/// `cps desfire provision`.
fn provision_cmd(
    ctx: &mut Ctx,
    profile: &DoorProfile,
    keys: &EstablishmentKeys,
    record: &BadgeRecord,
    options: ProvisionOptions,
) -> Result<u8, Failure> {
    let json = ctx.json;
    let mut card = ctx.card.open()?;
    if card.interface() == cps_transport::Interface::Contact {
        return Err(contact_side());
    }
    let mut d = card.desfire();
    if options.dry_run && !json {
        out!("{}", tr!("desfire-dry-run"));
    }
    let mut n = 0;
    let result = provision::provision(
        &mut d,
        profile,
        keys,
        record,
        options,
        &mut |step, outcome| {
            n += 1;
            if !json {
                let (mark, detail) = match outcome {
                    Outcome::Done(d) => (tr!("desfire-step-done"), d),
                    Outcome::AlreadyDone(d) => (tr!("desfire-step-ok"), d),
                    Outcome::WouldDo(d) => (tr!("desfire-step-would-do"), d),
                };
                // Progress goes to stderr as it happens; the summary to stdout.
                eprintln!("[{n:>2}] {step}: {mark} ({detail})");
            }
        },
    );
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let code = match &e {
                provision::ProvisionError::Card { source, .. } => match source {
                    DesfireError::Transport(_) => 3,
                    DesfireError::Auth(_) => 8,
                    _ => 5,
                },
                provision::ProvisionError::MissingKey(_) => 2,
                provision::ProvisionError::Verify(_)
                | provision::ProvisionError::VerifyMismatch => 8,
                _ => 5,
            };
            return Err(Failure::new(
                code,
                tr!("desfire-provision-stopped", error = e.to_string()),
            ));
        }
    };
    if json {
        let steps: Vec<_> = report
            .steps
            .iter()
            .map(|(s, o)| {
                json!({
                    "step": s.to_string(),
                    "outcome": match o { Outcome::Done(_) => "done", Outcome::AlreadyDone(_) => "already", Outcome::WouldDo(_) => "would_do" },
                    "detail": o.detail(),
                })
            })
            .collect();
        crate::emit(json!({
            "uid": hex::encode_upper(&report.uid),
            "aid": profile.aid.to_string(),
            "file": profile.file_no,
            "dry_run": options.dry_run,
            "changed": report.changed,
            "picc_key": format!("{:?}", report.picc_key),
            "exchanges": report.exchanges,
            "steps": steps,
        }));
    } else {
        line(
            &tr!("label-desfire-card-uid"),
            hex::encode_upper(&report.uid),
        );
        let state = if options.dry_run {
            tr!("desfire-badge-would-be-provisioned")
        } else if report.changed {
            tr!("desfire-badge-provisioned")
        } else {
            tr!("desfire-badge-already-provisioned")
        };
        line(
            &tr!("label-desfire-badge"),
            tr!(
                "desfire-badge-in",
                state = state,
                aid = profile.aid.to_string(),
                file = profile.file_no
            ),
        );
        line(
            &tr!("label-desfire-picc-key"),
            match report.picc_key {
                provision::PiccKey::Delivered => tr!("desfire-picc-key-delivered"),
                provision::PiccKey::Establishment => tr!("desfire-picc-key-establishment"),
            },
        );
        line(&tr!("label-desfire-exchanges"), report.exchanges);
    }
    Ok(0)
}

/// `cps desfire door-check --profile`.
fn door_check_profile(
    ctx: &mut Ctx,
    profile: &DoorProfile,
    door_master: &Key,
    today: Date,
    show_data: bool,
) -> Result<u8, Failure> {
    let json = ctx.json;
    let mut card = ctx.card.open()?;
    if card.interface() == cps_transport::Interface::Contact {
        return Err(contact_side());
    }
    let mut d = card.desfire();
    let uid = if profile.diversify {
        reader_uid(&mut d)
    } else {
        None
    };
    let reader_commands = u64::from(profile.diversify);
    match provision::door_check(&mut d, profile, door_master, uid.as_deref(), Some(today)) {
        Ok(read) => {
            if json {
                crate::emit(json!({
                    "granted": true,
                    "aid": profile.aid.to_string(),
                    "file": profile.file_no,
                    "uid": read.credential.uid.as_ref().map(hex::encode_upper),
                    "uid_from_reader": uid.is_some(),
                    "holder": read.record.holder,
                    "valid_from": read.record.valid_from.to_string(),
                    "valid_until": read.record.valid_until.to_string(),
                    "session": format!("{:?}", read.credential.session),
                    "credential": show_data.then(|| hex::encode_upper(&*read.credential.data)),
                    "exchanges": read.credential.exchanges,
                    "reader_commands": reader_commands,
                }));
            } else {
                line(&tr!("label-desfire-door-check"), tr!("desfire-granted"));
                line(&tr!("label-holder"), &read.record.holder);
                line(
                    &tr!("label-desfire-valid"),
                    tr!(
                        "desfire-valid-range",
                        from = read.record.valid_from.to_string(),
                        until = read.record.valid_until.to_string()
                    ),
                );
                if show_data {
                    line(
                        &tr!("label-desfire-badge"),
                        cps_transport::spaced_hex(&read.credential.data),
                    );
                }
                line(
                    &tr!("label-desfire-session"),
                    format!("{:?}", read.credential.session),
                );
                let n = read.credential.exchanges;
                line(
                    &tr!("label-desfire-exchanges"),
                    match (&uid, profile.diversify) {
                        (Some(_), _) => tr!("desfire-exchanges-uid-from-reader", n = n),
                        (None, true) => tr!("desfire-exchanges-uid-by-getversion", n = n),
                        (None, false) => tr!("desfire-exchanges", n = n),
                    },
                );
            }
            Ok(0)
        }
        Err(refusal) => {
            if json {
                crate::emit(json!({"granted": false, "reason": refusal.to_string()}));
            }
            let code = match &refusal {
                DoorRefusal::Card(cps::desfire::Refusal::Other(DesfireError::Transport(_))) => 3,
                _ => 8,
            };
            Err(Failure::new(
                code,
                tr!("desfire-refused", reason = refusal.to_string()),
            ))
        }
    }
}
