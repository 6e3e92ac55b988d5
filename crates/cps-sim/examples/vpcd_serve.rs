//! Inserts a simulated card into pcscd's `Virtual PCD 00 00` reader (vsmartcard-vpcd) until
//! Enter is pressed or standard input closes; prints the APDUs the card counted.
//!
//! `cargo run -p cps-sim --example vpcd_serve -- cps3 dr-martin` (pcscd must be running:
//! `scripts/with-pcscd.sh cargo run ...`). Then try `opensc-tool -n`, `pkcs15-tool -D`,
//! `pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so -O`.

use std::io::BufRead;

use cps_sim::vpcd::{self, VpcdConfig};
use cps_sim::{Profile, SimCard};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let profile = match args.next().as_deref() {
        None | Some("cps3") => Profile::Cps3,
        Some("cps4") => Profile::Cps4,
        Some(other) => return Err(format!("unknown profile {other:?} (cps3, cps4)").into()),
    };
    let persona = args.next().unwrap_or_else(|| "dr-martin".to_owned());
    let card = SimCard::new(profile, &persona)?;
    let handle = vpcd::spawn(card, VpcdConfig::with_port(vpcd::DEFAULT_PORT))?;
    eprintln!("{profile} {persona} inserted in Virtual PCD 00 00; press Enter to remove it");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    eprintln!("{}", handle.card().stats().summary());
    let stats = handle.remove()?;
    eprintln!("vpcd link: {stats:?}");
    Ok(())
}
