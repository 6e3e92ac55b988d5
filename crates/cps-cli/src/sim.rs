//! `cps sim list` and `cps sim serve`: the simulated CPS cards.

use std::sync::atomic::AtomicBool;

use cps_sim::vpcd::{self, VpcdConfig};
use cps_sim::{Interface, Profile, SimCard};

use crate::Failure;

fn sim_failure(e: impl std::fmt::Display) -> Failure {
    Failure::new(2, e.to_string())
}

/// Parses a profile name.
pub fn profile(name: &str) -> Result<Profile, Failure> {
    match name.to_ascii_lowercase().as_str() {
        "cps3" => Ok(Profile::Cps3),
        "cps4" => Ok(Profile::Cps4),
        other => Err(sim_failure(format!(
            "unknown profile {other:?}: use cps3 or cps4"
        ))),
    }
}

/// Lists the profiles and personas.
pub fn list(json: bool) -> Result<u8, Failure> {
    let personas = cps_sim::personas();
    if json {
        let list: Vec<serde_json::Value> = personas
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.id,
                    "family": p.family,
                    "name": format!("{} {}", p.given_names.join(" "), p.family_name),
                    "national_id": p.national_id,
                    "profession": p.profession.as_ref().map(|c| c.label.clone()),
                })
            })
            .collect();
        out!(
            "{}",
            serde_json::json!({"profiles": ["cps3", "cps4"], "personas": list})
        );
        return Ok(0);
    }
    out!("{}", tr!("sim-profiles"));
    out!("  cps3         {}", tr!("sim-profile-cps3"));
    out!("  cps4         {}", tr!("sim-profile-cps4"));
    out!("{}", tr!("sim-personas"));
    for p in &personas {
        let who = format!(
            "{} {} {}",
            p.civility,
            p.given_names.join(" "),
            p.family_name
        );
        let profession = p
            .profession
            .as_ref()
            .map(|c| c.label.as_str())
            .unwrap_or("-");
        out!(
            "  {:20} {:4} {:28} {:18} {}",
            p.id,
            p.family,
            who,
            p.national_id,
            profession
        );
    }
    out!("{}", tr!("sim-test-pins"));
    Ok(0)
}

/// Inserts a simulated card into pcscd's vpcd reader until the process is stopped. When
/// pcscd stops, waits up to `reconnect_for` for it to come back and inserts the same card
/// again; exits 3 when it does not come back.
pub fn serve(
    profile_name: &str,
    persona: &str,
    port: u16,
    contactless: bool,
    reconnect_for: std::time::Duration,
    fault: Option<vpcd::Fault>,
) -> Result<u8, Failure> {
    let profile = profile(profile_name)?;
    let interface = if contactless {
        Interface::Contactless
    } else {
        Interface::Contact
    };
    let card = SimCard::builder()
        .profile(profile)
        .persona(persona)
        .interface(interface)
        .build()
        .map_err(sim_failure)?;
    let mut card = card;
    let reader = vpcd::reader_name_for_port(port).unwrap_or("the vpcd reader on that port");
    eprintln!(
        "{profile_name} card of {persona} ({interface:?}) connecting to vpcd on 127.0.0.1:{port} ({reader}); Ctrl-C removes it"
    );
    // Ctrl-C sets the process-wide cancellation flag: the card is removed cleanly.
    let stop: &AtomicBool = cps_transport::cancel_flag();
    let mut cfg = VpcdConfig::with_port(port);
    cfg.fault = fault;
    let mut apdus = 0u64;
    let mut first = true;
    loop {
        let stats = vpcd::serve(&mut card, &cfg, stop).map_err(|e| {
            Failure::new(
                3,
                if first {
                format!(
                    "{e} (is pcscd running with vsmartcard-vpcd? `apt-get install pcscd vsmartcard-vpcd`)"
                )
            } else {
                format!(
                    "PC/SC service stopped and did not come back within {} s ({e}); {apdus} APDUs answered",
                    reconnect_for.as_secs()
                )
                },
            )
        })?;
        apdus += stats.apdus;
        match stats.end {
            // pcscd stopped or restarted: the same card (same PIN tries, same data) goes back
            // in as soon as the virtual reader is there again.
            // Fault injection: the card was pulled mid-command; the same card goes back in a
            // moment later (after pcscd has seen it leave), as a user reinserting it.
            vpcd::ServeEnd::Pulled => {
                eprintln!(
                    "fault injection: card pulled at APDU {}; reinserting it in 1 s",
                    stats.apdus
                );
                std::thread::sleep(std::time::Duration::from_secs(1));
                cfg.fault = None;
            }
            vpcd::ServeEnd::HostClosed if reconnect_for.is_zero() => {
                return Err(Failure::new(
                    3,
                    format!("PC/SC service stopped; {apdus} APDUs answered"),
                ));
            }
            vpcd::ServeEnd::HostClosed => {
                eprintln!(
                    "PC/SC service stopped (vpcd closed the reader): waiting up to {} s for it to come back",
                    reconnect_for.as_secs()
                );
                cfg.retry_for = reconnect_for;
                first = false;
            }
            _ => break,
        }
    }
    eprintln!("{}", tr!("sim-card-removed", apdus = apdus));
    Ok(0)
}
