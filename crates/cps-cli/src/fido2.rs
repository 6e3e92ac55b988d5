//! `cps fido2 ...`: the FIDO2 applet of the CPS4 (contact interface), through
//! `cps_fido2::Fido2`. The FIDO2 PIN is the applet's own, distinct from the holder PIN.

use clap::Subcommand;
use cps::fido2::Registration;
use rand_core::RngCore;
use serde_json::json;
use sha2::Digest as _;

use crate::i18n::{Lang, lang, text_in};
use crate::info::line;
use crate::secret::Secret;
use crate::{Ctx, Failure, fail};

/// `cps fido2` subcommands.
#[derive(Subcommand, Debug)]
pub enum Fido2Cmd {
    /// getInfo: versions, options, AAGUID, whether a PIN is set, PIN tries left.
    Info,
    /// Set the first FIDO2 PIN of a blank applet.
    Enroll,
    /// Register a credential for a relying party (makeCredential, ES256).
    Register {
        /// Relying-party identifier (a domain).
        #[arg(long)]
        rp: String,
        /// User name.
        #[arg(long, default_value = "cps-user")]
        user: String,
        /// Store the credential on the card (discoverable).
        #[arg(long)]
        resident: bool,
        /// Register without the PIN (no user verification).
        #[arg(long)]
        no_pin: bool,
    },
    /// Get assertions for a relying party (getAssertion).
    Authenticate {
        /// Relying-party identifier.
        #[arg(long)]
        rp: String,
        /// Credential IDs (hex) to allow; none: the discoverable credentials of the RP.
        #[arg(long = "credential", value_name = "HEX")]
        credentials: Vec<String>,
        /// Without the PIN (no user verification).
        #[arg(long)]
        no_pin: bool,
    },
    /// List the discoverable credentials (needs the FIDO2 PIN).
    Credentials,
    /// Delete a discoverable credential.
    Delete {
        /// Credential ID (hex), as `cps fido2 credentials` shows it.
        #[arg(long = "credential", value_name = "HEX")]
        credential: String,
    },
    /// Change the FIDO2 PIN (asks the current one, then the new one).
    ChangePin,
    /// Erase every FIDO2 credential and the FIDO2 PIN.
    Reset {
        /// Confirm: the credentials cannot be recovered.
        #[arg(long)]
        yes: bool,
    },
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand_core::OsRng.fill_bytes(&mut b);
    b
}

fn parse_hex(what: &str, s: &str) -> Result<Vec<u8>, Failure> {
    hex::decode(s.trim()).map_err(|e| {
        Failure::usage(tr!(
            "fido2-not-hex",
            what = what,
            value = format!("{s:?}"),
            error = e.to_string()
        ))
    })
}

/// Runs a `cps fido2` subcommand.
pub fn run(ctx: &mut Ctx, cmd: Fido2Cmd) -> Result<u8, Failure> {
    if let Fido2Cmd::Reset { yes: false } = cmd {
        return Err(Failure::usage(tr!("fido2-reset-needs-yes")));
    }
    let mut card = ctx.card.open()?;
    let mut f = card.fido2()?;
    let json = ctx.json;
    // The JSON `result` stays English; the line on the terminal is in the user's language.
    let say = |id: &str| {
        if json {
            crate::emit(json!({ "result": text_in(Lang::En, id, &[]) }));
        } else {
            out!("{}", text_in(lang(), id, &[]));
        }
    };
    let yes_no = |b: bool| {
        if b {
            tr!("fido2-true")
        } else {
            tr!("fido2-false")
        }
    };
    match cmd {
        Fido2Cmd::Info => {
            let enrolled = f.is_enrolled();
            let retries = if enrolled {
                Some(f.retries().map_err(fail)?)
            } else {
                None
            };
            let i = f.info().clone();
            let aaguid = hex::encode_upper(i.aaguid);
            if json {
                crate::emit(json!({
                    "versions": i.versions,
                    "extensions": i.extensions,
                    "aaguid": aaguid,
                    "options": i.options.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "pin_uv_auth_protocols": i.pin_uv_auth_protocols,
                    "algorithms": i.algorithms,
                    "max_msg_size": i.max_msg_size,
                    "remaining_discoverable_credentials": i.remaining_discoverable_credentials,
                    "enrolled": enrolled,
                    "pin_retries": retries,
                }));
            } else {
                line(&tr!("label-fido2-versions"), i.versions.join(" "));
                line(&tr!("label-fido2-extensions"), i.extensions.join(" "));
                line("AAGUID", aaguid);
                line(
                    &tr!("label-fido2-options"),
                    i.options
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                line(
                    &tr!("label-fido2-pin"),
                    match retries {
                        Some(n) => tr!("fido2-pin-set", n = n),
                        None => tr!("fido2-pin-not-set"),
                    },
                );
            }
        }
        Fido2Cmd::Enroll => {
            let pin = ctx.secrets.read_new(Secret::Fido2NewPin)?;
            f.enroll(&pin).map_err(fail)?;
            say("fido2-result-enrolled");
        }
        Fido2Cmd::Register {
            rp,
            user,
            resident,
            no_pin,
        } => {
            let pin = if no_pin {
                None
            } else {
                Some(ctx.secrets.read(Secret::Fido2Pin)?)
            };
            let challenge: [u8; 32] = random();
            let reg = Registration {
                rp_id: rp.clone(),
                rp_name: rp.clone(),
                user_id: random::<16>().to_vec(),
                user_name: user.clone(),
                user_display_name: user,
                client_data_hash: sha2::Sha256::digest(challenge).into(),
                resident_key: resident,
                cred_protect: None,
                hmac_secret: false,
                exclude: Vec::new(),
            };
            let r = f
                .register(&reg, pin.as_deref().map(|s| s.as_str()))
                .map_err(fail)?;
            let cred = r
                .auth_data
                .attested
                .as_ref()
                .map(|a| hex::encode(&a.credential_id))
                .unwrap_or_default();
            if json {
                crate::emit(json!({
                    "rp": rp,
                    "credential_id": cred,
                    "attestation_format": r.fmt,
                    "user_verified": r.auth_data.user_verified(),
                    "sign_count": r.auth_data.sign_count,
                    "resident": resident,
                }));
            } else {
                line(&tr!("label-fido2-credential"), &cred);
                line(&tr!("label-fido2-attestation"), &r.fmt);
                line(
                    &tr!("label-fido2-verified"),
                    yes_no(r.auth_data.user_verified()),
                );
            }
        }
        Fido2Cmd::Authenticate {
            rp,
            credentials,
            no_pin,
        } => {
            let allow = credentials
                .iter()
                .map(|c| parse_hex(&tr!("label-fido2-credential"), c))
                .collect::<Result<Vec<_>, _>>()?;
            let pin = if no_pin {
                None
            } else {
                Some(ctx.secrets.read(Secret::Fido2Pin)?)
            };
            let cdh: [u8; 32] = sha2::Sha256::digest(random::<32>()).into();
            let all = f
                .authenticate(&rp, &cdh, &allow, pin.as_deref().map(|s| s.as_str()))
                .map_err(fail)?;
            if json {
                let list: Vec<_> = all
                    .iter()
                    .map(|a| {
                        json!({
                            "credential_id": hex::encode(&a.credential_id),
                            "sign_count": a.auth_data.sign_count,
                            "user_verified": a.auth_data.user_verified(),
                            "user_id": a.user_id.as_ref().map(hex::encode),
                        })
                    })
                    .collect();
                crate::emit(json!({"rp": rp, "assertions": list}));
            } else {
                for a in &all {
                    line(
                        &tr!("label-fido2-credential"),
                        hex::encode(&a.credential_id),
                    );
                    line(&tr!("label-fido2-sign-count"), a.auth_data.sign_count);
                    line(
                        &tr!("label-fido2-verified"),
                        yes_no(a.auth_data.user_verified()),
                    );
                }
            }
        }
        Fido2Cmd::Credentials => {
            let pin = ctx.secrets.read(Secret::Fido2Pin)?;
            let all = f.credentials(&pin).map_err(fail)?;
            if json {
                let list: Vec<_> = all
                    .iter()
                    .map(|c| {
                        json!({
                            "rp": c.rp_id,
                            "user": c.user_name,
                            "credential_id": hex::encode(&c.credential_id),
                        })
                    })
                    .collect();
                crate::emit(json!(list));
            } else if all.is_empty() {
                out!("{}", tr!("fido2-no-credential"));
            } else {
                for c in &all {
                    out!(
                        "{}  {}  {}",
                        c.rp_id,
                        c.user_name.as_deref().unwrap_or("-"),
                        hex::encode(&c.credential_id)
                    );
                }
            }
        }
        Fido2Cmd::Delete { credential } => {
            let id = parse_hex(&tr!("label-fido2-credential"), &credential)?;
            let pin = ctx.secrets.read(Secret::Fido2Pin)?;
            f.delete(&pin, &id).map_err(fail)?;
            say("fido2-result-deleted");
        }
        Fido2Cmd::ChangePin => {
            let old = ctx.secrets.read(Secret::Fido2Pin)?;
            let new = ctx.secrets.read_new(Secret::Fido2NewPin)?;
            f.change_pin(&old, &new).map_err(fail)?;
            say("fido2-result-pin-changed");
        }
        Fido2Cmd::Reset { .. } => {
            f.reset().map_err(fail)?;
            say("fido2-result-reset");
        }
    }
    Ok(0)
}
