//! What the page asks of the card: each request a JSON answer, built with the same facade
//! calls as the `cps info`, `cps identity`, `cps pin`, `cps update` and `cps fido2` commands.
//!
//! One card for the whole run, behind a mutex (the simulated card keeps its state between
//! requests, as a real card does); a card that went away is opened again on the next request.
//! Secrets arrive in a request body, are taken out of it into wiped buffers, go to the card
//! once and are never logged, stored or sent back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cps::Card;
use cps::iasecc::{Coded, Pin, PinStatus, Puk};
use cps_transport::pcsc::PcscContext;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::opts::CardArgs;
use crate::{Failure, fail};

/// The state shared by every request.
pub struct State {
    card_args: CardArgs,
    card: Mutex<Option<Card>>,
    /// Changes whenever the card is pulled or inserted (the page reloads on a change).
    epoch: AtomicU64,
    present: AtomicBool,
    update: Arc<Mutex<UpdateState>>,
}

/// The remote update started from the page.
#[derive(Debug, Clone, Default)]
pub struct UpdateState {
    running: bool,
    done: u32,
    total: u32,
    what: String,
    result: Option<Value>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A failure as the page's JSON error.
fn error_json(f: &Failure) -> Value {
    let mut e = json!({
        "exit_code": f.code,
        "kind": crate::exit_kind(f.code),
        "message": f.message,
    });
    if let (Some(n), Some(o)) = (f.tries_left, e.as_object_mut()) {
        o.insert("tries_left".into(), n.into());
    }
    json!({ "error": e })
}

/// The answer of an operation: its value, or its failure as JSON.
fn answer(r: Result<Value, Failure>) -> Value {
    r.unwrap_or_else(|f| error_json(&f))
}

/// A string field of a request body, moved into a wiped buffer (empty when missing).
fn secret(body: &mut Value, field: &str) -> Zeroizing<String> {
    match body.get_mut(field).map(Value::take) {
        Some(Value::String(s)) => Zeroizing::new(s),
        _ => Zeroizing::new(String::new()),
    }
}

fn coded(c: &Option<Coded>) -> Option<String> {
    c.as_ref().map(|c| match &c.label {
        Some(l) => l.clone(),
        None => c.code.clone(),
    })
}

fn pin_json(p: PinStatus) -> Value {
    match p {
        PinStatus::Verified => json!({"state": "verified"}),
        PinStatus::RetriesLeft(n) => json!({"state": "not_verified", "tries_left": n}),
        PinStatus::Blocked => json!({"state": "blocked", "tries_left": 0}),
    }
}

impl State {
    /// The state for the card these options name.
    pub fn new(card_args: CardArgs) -> State {
        State {
            card_args,
            card: Mutex::new(None),
            epoch: AtomicU64::new(1),
            present: AtomicBool::new(true),
            update: Arc::default(),
        }
    }

    /// Runs `f` on the card, opening it first if needed; forgets a card that went away
    /// (exit codes 3 and 4), so that the next request opens the one inserted then.
    fn with_card<T>(&self, f: impl FnOnce(&mut Card) -> Result<T, Failure>) -> Result<T, Failure> {
        let mut slot = lock(&self.card);
        if slot.is_none() {
            *slot = Some(self.card_args.open()?);
        }
        let Some(card) = slot.as_mut() else {
            return Err(Failure::new(3, "no card"));
        };
        let r = f(card);
        if let Err(e) = &r {
            if e.code == 3 || e.code == 4 {
                *slot = None;
            }
        }
        r
    }

    /// Whether a card is there now (the page asks twice a second): the simulated card always
    /// is; for PC/SC, the chosen reader (or any reader) holds one. A change bumps the epoch
    /// and forgets the card object.
    pub fn status(&self) -> Value {
        let present = self.card_present();
        if present != self.present.swap(present, Ordering::SeqCst) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            if !present {
                if let Ok(mut slot) = self.card.try_lock() {
                    *slot = None;
                }
            }
        }
        let update_running = lock(&self.update).running;
        json!({
            "present": present,
            "epoch": self.epoch.load(Ordering::SeqCst),
            "update_running": update_running,
        })
    }

    fn card_present(&self) -> bool {
        let explicit = self.card_args.explicit_source().ok().flatten();
        let reader = match explicit {
            Some(cps::CardSource::Simulator(_)) => return true,
            Some(cps::CardSource::Reader {
                reader: cps::ReaderChoice::Named(name),
                ..
            }) => Some(name),
            _ => None,
        };
        let Ok(ctx) = PcscContext::establish() else {
            // No PC/SC service: without --reader, the simulated card stands in.
            return reader.is_none();
        };
        let Ok(readers) = ctx.list_readers() else {
            return false;
        };
        match reader {
            // An index or part of a name, resolved as the commands do.
            Some(name) => {
                let names: Vec<String> = readers.iter().map(|r| r.name.clone()).collect();
                let name = crate::opts::resolve_reader(&name, &names).unwrap_or(name);
                readers.iter().any(|r| r.name == name && r.card_present)
            }
            None => readers.iter().any(|r| r.card_present),
        }
    }

    /// The Card page: generation, holder, profession, PIN and PUK tries, certificates with
    /// the dates of their timeline.
    pub fn card(&self) -> Value {
        answer(self.with_card(|card| {
            let at = self.card_args.at()?;
            let info = card.info(at).map_err(fail)?;
            let mut ias = card.iasecc()?;
            let who = ias.identity().map_err(fail)?;
            let puk = ias.puk_status().map_err(fail)?;
            let Some(a) = info.ias.present() else {
                return Err(Failure::new(
                    5,
                    format!(
                        "the IAS-ECC application could not be read: {}",
                        info.ias.reason().unwrap_or("")
                    ),
                ));
            };
            let certificates: Vec<Value> = a
                .certificates
                .iter()
                .map(|c| {
                    let window = c.not_after.secs() - i64::from(cps::RENEWAL_WINDOW_DAYS) * 86_400;
                    let mark = c
                        .not_before
                        .add_years(cps::x509::RENEWAL_AGE_YEARS)
                        .map_or(window, |m| m.secs());
                    json!({
                        "label": c.label,
                        "usage": c.usage.to_string(),
                        "not_before": c.not_before.secs(),
                        "not_after": c.not_after.secs(),
                        "renewal_from": window.min(mark).max(c.not_before.secs()),
                        "renewal": crate::info::renewal_json(&c.renewal),
                        "test_pki": c.test_pki,
                    })
                })
                .collect();
            let simulated = match card.origin() {
                cps::Origin::Simulator(_) => Some(format!("SIMULATED CARD: {}", card.origin())),
                _ => None,
            };
            Ok(json!({
                "origin": card.origin().to_string(),
                "simulated": simulated,
                "generation": a.generation.to_string(),
                "family": a.family.to_string(),
                "serial": a.serial,
                "holder": a.holder,
                "national_id": a.national_id,
                "profession": coded(&who.profession),
                "speciality": coded(&who.speciality),
                "pin": pin_json(a.pin),
                "puk": pin_json(puk),
                "certificates": certificates,
                "today": at.secs(),
            }))
        }))
    }

    /// PIN and PUK tries (no try spent).
    pub fn pin(&self) -> Value {
        answer(self.with_card(|card| {
            let mut ias = card.iasecc()?;
            let p = ias.pin_status().map_err(fail)?;
            let k = ias.puk_status().map_err(fail)?;
            Ok(json!({"pin": pin_json(p), "puk": pin_json(k)}))
        }))
    }

    /// Changes the PIN: `{"pin", "new_pin"}`. Both are checked before anything is sent.
    pub fn change_pin(&self, mut body: Value) -> Value {
        let (old, new) = (secret(&mut body, "pin"), secret(&mut body, "new_pin"));
        answer((|| {
            let (old, new) = (Pin::new(&old).map_err(fail)?, Pin::new(&new).map_err(fail)?);
            self.with_card(|card| {
                card.iasecc()?.change_pin(&old, &new).map_err(fail)?;
                Ok(json!({"result": "PIN changed"}))
            })
        })())
    }

    /// Unblocks the PIN with the PUK: `{"puk", "new_pin"}`.
    pub fn unblock_pin(&self, mut body: Value) -> Value {
        let (puk, new) = (secret(&mut body, "puk"), secret(&mut body, "new_pin"));
        answer((|| {
            let (puk, new) = (Puk::new(&puk).map_err(fail)?, Pin::new(&new).map_err(fail)?);
            self.with_card(|card| {
                card.iasecc()?.unblock_pin(&puk, &new).map_err(fail)?;
                Ok(json!({"result": "PIN unblocked and replaced"}))
            })
        })())
    }

    /// The practice situations, after the PIN: `{"pin"}` (as `cps identity --situations`).
    pub fn situations(&self, mut body: Value) -> Value {
        let pin = secret(&mut body, "pin");
        answer((|| {
            let pin = Pin::new(&pin).map_err(fail)?;
            self.with_card(|card| {
                let mut ias = card.iasecc()?;
                ias.verify_pin(&pin).map_err(fail)?;
                let list: Vec<Value> = ias
                    .practice()
                    .map_err(fail)?
                    .iter()
                    .map(|s| crate::info::situation_json(s, coded))
                    .collect();
                Ok(json!({"situations": list}))
            })
        })())
    }

    /// Starts the remote update against `{"server"}` on a thread of its own; the page
    /// follows it with [`State::update_progress`].
    pub fn start_update(self: &Arc<Self>, body: &Value) -> Value {
        let server = body.get("server").and_then(Value::as_str).unwrap_or("");
        let service = match cps_update::http::HttpService::parse(server) {
            Ok(s) => s,
            Err(e) => return error_json(&Failure::usage(format!("update service: {e}"))),
        };
        {
            let mut u = lock(&self.update);
            if u.running {
                return error_json(&Failure::new(4, "an update is already running"));
            }
            *u = UpdateState {
                running: true,
                what: "starting".into(),
                ..UpdateState::default()
            };
        }
        let state = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("cps-gestion-update".into())
            .spawn(move || {
                let progress = Arc::clone(&state.update);
                let result = state.with_card(|card| {
                    let mut show = |p: &cps_update::relay::Progress| {
                        let mut u = lock(&progress);
                        u.done = p.done;
                        u.total = p.total;
                        u.what = p.what.to_string();
                    };
                    let never = AtomicBool::new(false);
                    crate::update::relay(card, service, &mut show, &never)
                });
                let mut u = lock(&state.update);
                u.running = false;
                if result.is_ok() {
                    // The relay reports a step when it starts it: the commit done, the bar is full.
                    u.done = u.total;
                    u.what = String::new();
                }
                u.result = Some(answer(result));
            });
        if let Err(e) = spawned {
            lock(&self.update).running = false;
            return error_json(&Failure::new(1, format!("cannot start the update: {e}")));
        }
        json!({"started": true})
    }

    /// Whether an update started from the page is running.
    pub fn update_running(&self) -> bool {
        lock(&self.update).running
    }

    /// Where the update is: `idle`, `running` (done / total, the step), or its outcome.
    pub fn update_progress(&self) -> Value {
        let u = lock(&self.update).clone();
        let mut v = json!({"done": u.done, "total": u.total, "what": u.what});
        let state = if u.running {
            json!("running")
        } else {
            match &u.result {
                None => json!("idle"),
                Some(r) if r.get("error").is_some() => {
                    if let Some(o) = v.as_object_mut() {
                        o.insert("error".into(), r.get("error").cloned().unwrap_or_default());
                    }
                    json!("failed")
                }
                Some(r) => {
                    if let Some(o) = v.as_object_mut() {
                        o.insert(
                            "sequence".into(),
                            r.get("sequence").cloned().unwrap_or_default(),
                        );
                        o.insert("steps".into(), r.get("steps").cloned().unwrap_or_default());
                    }
                    r.get("outcome").cloned().unwrap_or_default()
                }
            }
        };
        if let Some(o) = v.as_object_mut() {
            o.insert("state".into(), state);
        }
        v
    }

    /// The FIDO2 applet: present, enrolled, PIN tries.
    pub fn fido2(&self) -> Value {
        answer(self.with_card(|card| match card.fido2() {
            Ok(mut f) => {
                let enrolled = f.is_enrolled();
                let retries = if enrolled {
                    Some(f.retries().map_err(fail)?)
                } else {
                    None
                };
                Ok(json!({
                    "present": true,
                    "enrolled": enrolled,
                    "pin_retries": retries,
                    "versions": f.info().versions,
                }))
            }
            Err(cps::Error::Fido2(cps::fido2::Fido2Error::NoApplet { .. })) => {
                Ok(json!({"present": false}))
            }
            Err(e) => Err(Failure::from(e)),
        }))
    }

    /// Sets the first FIDO2 PIN: `{"new_pin"}`.
    pub fn fido2_enroll(&self, mut body: Value) -> Value {
        let pin = secret(&mut body, "new_pin");
        answer(self.with_card(|card| {
            card.fido2()?.enroll(&pin).map_err(fail)?;
            Ok(json!({"result": "FIDO2 PIN set"}))
        }))
    }

    /// The discoverable credentials: `{"pin"}`.
    pub fn fido2_credentials(&self, mut body: Value) -> Value {
        let pin = secret(&mut body, "pin");
        answer(self.with_card(|card| {
            let all = card.fido2()?.credentials(&pin).map_err(fail)?;
            let list: Vec<Value> = all
                .iter()
                .map(|c| {
                    json!({
                        "rp": c.rp_id,
                        "user": c.user_name,
                        "id": hex::encode(&c.credential_id),
                    })
                })
                .collect();
            Ok(json!({"credentials": list}))
        }))
    }

    /// Deletes a credential: `{"pin", "id"}` (hex).
    pub fn fido2_delete(&self, mut body: Value) -> Value {
        let pin = secret(&mut body, "pin");
        let id = body.get("id").and_then(Value::as_str).unwrap_or("");
        answer((|| {
            let id = hex::decode(id).map_err(|_| Failure::usage("credential id: not hex"))?;
            self.with_card(|card| {
                card.fido2()?.delete(&pin, &id).map_err(fail)?;
                Ok(json!({"result": "credential deleted"}))
            })
        })())
    }

    /// Resets the applet: `{"confirm": true}` (the page asks the user to type a word first).
    pub fn fido2_reset(&self, body: &Value) -> Value {
        if body.get("confirm") != Some(&Value::Bool(true)) {
            return error_json(&Failure::usage("reset: not confirmed"));
        }
        answer(self.with_card(|card| {
            card.fido2()?.reset().map_err(fail)?;
            Ok(json!({"result": "FIDO2 applet reset"}))
        }))
    }
}
