//! `cps gestion`: a local web page where the holder sees the card (holder, profession,
//! PIN tries, certificates on a timeline), changes or unblocks the PIN, runs the remote update
//! and enrols the FIDO2 applet, in French or English.
//!
//! The page is served on the loopback interface only (unless `--listen` says otherwise), at a
//! URL holding a random secret of this run; every request is checked by `guard::check`
//! (secret, `Host`, `Origin`, `Sec-Fetch-Site`): see docs/gestion.md.

mod api;
mod guard;
mod i18n;
mod server;

use std::time::Duration;

use clap::Args;

use crate::{Ctx, Failure};

/// `cps gestion` options.
#[derive(Args, Debug, Clone)]
pub struct GestionArgs {
    /// Address to serve the page on (port 0: a free port). A non-loopback address makes the
    /// page reachable from the network: the secret in the URL is then its only protection.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Print the URL only; do not open the browser.
    #[arg(long)]
    pub no_browser: bool,
    /// The update service the Update page offers (e.g. http://127.0.0.1:8700).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8700")]
    pub update_server: String,
    /// Stop when no page has asked anything for SECONDS (the page asks twice a second
    /// while open; browsers slow background tabs down to about once a minute).
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_exit: u64,
}

/// Runs `cps gestion` until the page has been closed for `--idle-exit` seconds.
pub fn run(ctx: &mut Ctx, args: &GestionArgs) -> Result<u8, Failure> {
    // The card is opened on the first request; its simulator notice goes to the page (and
    // to stderr), not to stdout, whose first line is the URL.
    let mut card = ctx.card.clone();
    card.json = true;
    // Checked now: a bad --reader / --sim combination is a usage error before serving.
    card.explicit_source()?;
    let server = server::start(
        &args.listen,
        card,
        &args.update_server,
        Duration::from_secs(args.idle_exit),
    )?;
    let url = server.url();
    out!("{url}");
    crate::stdout_result(std::io::Write::flush(&mut std::io::stdout()));
    eprintln!("{}", tr!("gestion-started", idle = args.idle_exit));
    if !args.no_browser {
        open_browser(&url);
    }
    server.wait();
    Ok(0)
}

/// Opens `url` in the default browser (failures are said, not fatal: the URL is printed).
fn open_browser(url: &str) {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    let started = command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = started {
        eprintln!("{}", tr!("gestion-no-browser", error = e.to_string()));
    }
}
