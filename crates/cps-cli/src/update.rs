//! `cps update` (relay a remote update between the card and an update service, with a
//! progress bar) and `cps update-server` (the reference issuer over HTTP, SQLite state).

use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;

use cps_update::http::HttpService;
use cps_update::relay::{Outcome, Progress, UpdateError, update};

use crate::{Ctx, Failure};

/// `cps update --server URL`.
pub fn run(ctx: &mut Ctx, server: &str) -> Result<u8, Failure> {
    let service =
        HttpService::parse(server).map_err(|e| Failure::usage(format!("--server {e}")))?;
    let mut card = ctx.card.open()?;
    let terminal = std::io::stderr().is_terminal();
    let mut last = String::new();
    let mut show = |p: &Progress| {
        let total = p.total.max(1);
        let width = 24usize;
        let filled = (p.done.min(total) as usize * width) / total as usize;
        let line = format!(
            "[{}{}] {}/{} {}",
            "#".repeat(filled),
            "-".repeat(width - filled),
            p.done,
            p.total,
            p.what
        );
        if terminal {
            eprint!("\r\x1b[2K{line}");
        } else if line != last {
            eprintln!("{line}");
        }
        last = line;
    };
    // Ctrl-C stops before the next APDU (safe: nothing shows on the card before commit).
    let cancel: &AtomicBool = cps_transport::cancel_flag();
    let result = relay(&mut card, service, &mut show, cancel);
    if terminal {
        eprintln!();
    }
    let outcome = result?;
    let field = |name: &str| outcome.get(name).cloned().unwrap_or_default();
    if ctx.json {
        crate::emit(outcome.clone());
    } else if field("outcome") == "up_to_date" {
        out!(
            "{}",
            tr!(
                "update-up-to-date",
                sequence = field("sequence").to_string()
            )
        );
    } else {
        out!(
            "{}",
            tr!(
                "update-updated",
                steps = field("steps").to_string(),
                sequence = field("sequence").to_string()
            )
        );
    }
    Ok(0)
}

/// Relays the card's pending update from `service` (`cps update`, and the Update page of
/// `cps gestion`): the outcome as JSON (`outcome`, `sequence`, `steps`), or the failure.
pub fn relay(
    card: &mut cps::Card,
    service: HttpService,
    show: &mut dyn FnMut(&Progress),
    cancel: &AtomicBool,
) -> Result<serde_json::Value, Failure> {
    match update(card.channel_mut(), service, show, cancel) {
        Ok(Outcome::UpToDate { sequence }) => Ok(serde_json::json!({
            "outcome": "up_to_date", "sequence": sequence
        })),
        Ok(Outcome::Updated { sequence, steps }) => {
            // The card's PKCS#15 structure may have changed (renewed keys get new iDs): the
            // directory snapshots the PKCS#11 module keeps are read again from the cards.
            if let Some(dir) = cps_iasecc::snapshot::default_dir() {
                cps_iasecc::snapshot::forget_all(&dir);
            }
            Ok(serde_json::json!({
                "outcome": "updated", "sequence": sequence, "steps": steps
            }))
        }
        Err(UpdateError::Transport(e)) => Err(Failure::from(e)),
        Err(UpdateError::NotUpdatable(sw)) => Err(Failure::new(
            5,
            tr!("update-not-updatable", sw = sw.to_string()),
        )),
        Err(e) => Err(Failure::new(1, cps::describe(&e))),
    }
}

/// `cps update-server`: serves until interrupted.
pub fn serve(
    listen: &str,
    db: &std::path::Path,
    seed: bool,
    admin_key_file: Option<&std::path::Path>,
) -> Result<u8, Failure> {
    let mut server = cps_update_server::UpdateServer::open(db)
        .map_err(|e| Failure::new(1, format!("update server: {e}")))?;
    if let Some(path) = admin_key_file {
        let text =
            zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                Failure::new(1, format!("administration key {}: {e}", path.display()))
            })?);
        let key = cps_update_server::AdminKey::from_hex(&text).ok_or_else(|| {
            Failure::new(
                1,
                format!(
                    "administration key {}: expected 64 hex digits",
                    path.display()
                ),
            )
        })?;
        server = server.with_admin_key(key);
    }
    if seed {
        let n = seed_simulated_cards(&server)?;
        eprintln!("{}", tr!("update-server-seeded", n = n));
    }
    let handle = cps_update_server::serve_until_signal(server, listen)
        .map_err(|e| Failure::new(3, format!("update server: {e}")))?;
    eprintln!(
        "{}",
        tr!(
            "update-server-started",
            url = handle.url().to_string(),
            db = db.display().to_string()
        )
    );
    out!("{}", handle.url());
    handle.wait();
    Ok(0)
}

/// Registers the simulated card of every persona, both generations, unless already known.
fn seed_simulated_cards(server: &cps_update_server::UpdateServer) -> Result<usize, Failure> {
    use cps::sim::{Profile, SimCard};
    use cps_iasecc::PracticeSituation;
    let dam = cps_update::issuer::DAM_PATH;
    let mut n = 0;
    for persona in cps_x509::test_pki::PERSONAS {
        for profile in [Profile::Cps3, Profile::Cps4] {
            let card = SimCard::new(profile, persona)
                .map_err(|e| Failure::new(1, format!("simulated card {persona}: {e}")))?;
            let serial = card.serial();
            let known = server
                .record(&serial)
                .map_err(|e| Failure::new(1, format!("update server: {e}")))?;
            if known.is_some() {
                continue;
            }
            let situations = card
                .file(&dam)
                .map(PracticeSituation::parse_all)
                .transpose()
                .map_err(|e| Failure::new(1, format!("EF.DAM of {persona}: {e}")))?
                .unwrap_or_default();
            let record = cps_update::issuer::test_record(profile, persona, serial, situations)
                .map_err(|e| Failure::new(1, e.0))?;
            server
                .register(&record)
                .map_err(|e| Failure::new(1, format!("update server: {e}")))?;
            n += 1;
        }
    }
    Ok(n)
}
