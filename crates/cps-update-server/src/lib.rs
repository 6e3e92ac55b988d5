//! # cps-update-server — the reference remote-update authority over HTTP
//!
//! The [`cps_update::issuer::Issuer`] behind the JSON API of `docs/remote-update.md`, on an
//! async HTTP front end with bounded everything ([`Limits`], [`serve`]), its card records,
//! pending updates and audit log in a [`store::CardStore`]: SQLite embedded by default
//! ([`store::SqliteStore`]), PostgreSQL for several server nodes on one database
//! ([`store::PgStore`]). Every change of a card is written in the transaction that locked
//! its row, so a restart loses nothing: a relay whose session vanished with the old process
//! simply runs the update again and the card resumes from what it staged.
//!
//! The administration API (`/v1/cards…`) needs a signed token ([`auth`]); the relay API
//! (`/v1/sessions…`) needs none: it is protected end to end between card and issuer, and a
//! session (random identifier) only moves on answers that authenticate under its channel.
//!
//! ```
//! use cps_update_server::{UpdateServer, serve};
//! let dir = std::env::temp_dir().join(format!("cps-upd-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let server = UpdateServer::open(&dir.join("issuer.sqlite"))?;
//! let handle = serve(server, "127.0.0.1:0")?;
//! let mut service = cps_update::http::HttpService::new(&handle.url());
//! // A card the service does not know is refused with a readable message.
//! use cps_update::relay::UpdateService;
//! let hello = cps_update::script::Hello { kvn: 0x30, serial: vec![1, 2], sequence: 0, staged: None };
//! let err = service.open(&hello.encode()).unwrap_err();
//! assert!(err.0.contains("not registered"));
//! handle.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod pkcs11;
mod serve;
pub mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cps_iasecc::{Coded, PracticeSituation};
use cps_update::http::{ErrorJson, NextRequest, OpenRequest, ReplyJson};
use cps_update::issuer::{
    CardRecord, InProcessKeys, Issuer, IssuerKeys, PendingUpdate, RenewableKey,
};
use cps_update::relay::{Reply, UpdateService};
use cps_update::scp::TEST_MASTER_KEY;
use cps_update::script::Hello;

pub use auth::{AdminKey, TokenError};
use cps_x509::{CertUsage, HolderSubject, UnixTime};
use serde::{Deserialize, Serialize};
pub use serve::{ServerHandle, serve, serve_until_signal};
pub use store::{AuditEntry, CardStore, Change, PgStore, SqliteStore};

/// A failure of the store or the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// SQLite failed.
    #[error("database (SQLite) failed")]
    Database(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("database (PostgreSQL) failed")]
    Postgres(#[from] postgres::Error),
    /// The store failed otherwise.
    #[error("storage: {0}")]
    Storage(String),
    /// The TLS set-up failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// A stored record does not decode.
    #[error("stored record of card {serial}: {detail}")]
    Corrupt {
        /// The card.
        serial: String,
        /// What is wrong.
        detail: String,
    },
    /// The issuer could not start.
    #[error("issuer: {0}")]
    Issuer(String),
    /// The HTTP listener could not start.
    #[error("cannot listen on {addr}: {detail}")]
    Listen {
        /// Address.
        addr: String,
        /// Why.
        detail: String,
    },
}

// ---------------------------------------------------------------------------------------
// JSON of the records

/// A coded value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CodedJson {
    /// Code.
    pub code: String,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
}

/// A practice situation (RPPS-like register entry).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SituationJson {
    /// Practice mode (TRE_R23).
    #[serde(default)]
    pub practice_mode: Option<CodedJson>,
    /// Activity sector (TRE_R02).
    #[serde(default)]
    pub activity_sector: Option<CodedJson>,
    /// Structure identifier type.
    #[serde(default)]
    pub structure_id_type: Option<String>,
    /// Structure identifier.
    #[serde(default)]
    pub structure_id: Option<String>,
    /// Structure name.
    #[serde(default)]
    pub structure_name: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
}

/// The holder's certificate subject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubjectJson {
    /// Country.
    pub country: String,
    /// Organisation.
    #[serde(default)]
    pub organisation: Option<String>,
    /// Organisational unit.
    #[serde(default)]
    pub organisational_unit: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// National identifier (CN).
    pub national_id: String,
    /// Family name.
    pub family_name: String,
    /// Given name.
    pub given_name: String,
}

/// A renewable key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyJson {
    /// Key reference.
    pub key_ref: u8,
    /// Certificate EF path.
    pub cert_path: Vec<u16>,
    /// `"authentication"` or `"signature"`.
    pub usage: String,
}

/// A staged file of a pending update.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileJson {
    /// EF path.
    pub path: Vec<u16>,
    /// New content, hex.
    pub content: String,
}

/// A pending update.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingJson {
    /// Identifier, hex.
    pub id: String,
    /// Target sequence once bound.
    #[serde(default)]
    pub target: Option<u32>,
    /// Files.
    pub files: Vec<FileJson>,
    /// Keys to renew.
    pub renew: Vec<KeyJson>,
    /// notBefore of the renewed certificates (Unix seconds).
    pub not_before: i64,
}

/// A card record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardJson {
    /// Serial number, hex.
    pub serial: String,
    /// Last committed sequence the issuer saw.
    pub sequence: u32,
    /// EF.DAM path.
    pub dam_path: Vec<u16>,
    /// Practice situations.
    pub situations: Vec<SituationJson>,
    /// Certificate subject.
    pub subject: SubjectJson,
    /// Renewable keys.
    pub renewable: Vec<KeyJson>,
    /// Pending update.
    #[serde(default)]
    pub pending: Option<PendingJson>,
}

/// `POST /v1/cards/{serial}/renewal`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenewalRequest {
    /// notBefore of the new certificates (Unix seconds); now when absent.
    #[serde(default)]
    pub not_before: Option<i64>,
}

fn coded(c: &Option<Coded>) -> Option<CodedJson> {
    c.as_ref().map(|c| CodedJson {
        code: c.code.clone(),
        label: c.label.clone(),
    })
}

fn uncoded(c: Option<CodedJson>) -> Option<Coded> {
    c.map(|c| Coded {
        code: c.code,
        label: c.label,
    })
}

impl From<&PracticeSituation> for SituationJson {
    fn from(s: &PracticeSituation) -> Self {
        SituationJson {
            practice_mode: coded(&s.practice_mode),
            activity_sector: coded(&s.activity_sector),
            structure_id_type: s.structure_id_type.clone(),
            structure_id: s.structure_id.clone(),
            structure_name: s.structure_name.clone(),
            city: s.city.clone(),
        }
    }
}

fn situations_from(list: Vec<SituationJson>) -> Vec<PracticeSituation> {
    list.into_iter()
        .enumerate()
        .map(|(i, s)| PracticeSituation {
            index: u8::try_from(i + 1).unwrap_or(u8::MAX),
            practice_mode: uncoded(s.practice_mode),
            activity_sector: uncoded(s.activity_sector),
            structure_id_type: s.structure_id_type,
            structure_id: s.structure_id,
            structure_name: s.structure_name,
            city: s.city,
        })
        .collect()
}

fn usage_name(u: CertUsage) -> String {
    match u {
        CertUsage::Signature => "signature".into(),
        _ => "authentication".into(),
    }
}

fn key_json(k: &RenewableKey) -> KeyJson {
    KeyJson {
        key_ref: k.key_ref,
        cert_path: k.cert_path.clone(),
        usage: usage_name(k.usage),
    }
}

fn key_from(k: KeyJson) -> RenewableKey {
    RenewableKey {
        key_ref: k.key_ref,
        cert_path: k.cert_path,
        usage: if k.usage == "signature" {
            CertUsage::Signature
        } else {
            CertUsage::Authentication
        },
    }
}

impl From<&CardRecord> for CardJson {
    fn from(r: &CardRecord) -> Self {
        CardJson {
            serial: hex::encode_upper(&r.serial),
            sequence: r.sequence,
            dam_path: r.dam_path.clone(),
            situations: r.situations.iter().map(SituationJson::from).collect(),
            subject: SubjectJson {
                country: r.subject.country.clone(),
                organisation: r.subject.organisation.clone(),
                organisational_unit: r.subject.organisational_unit.clone(),
                title: r.subject.title.clone(),
                national_id: r.subject.national_id.clone(),
                family_name: r.subject.family_name.clone(),
                given_name: r.subject.given_name.clone(),
            },
            renewable: r.renewable.iter().map(key_json).collect(),
            pending: r.pending.as_ref().map(|p| PendingJson {
                id: hex::encode_upper(p.id),
                target: p.target,
                files: p
                    .files
                    .iter()
                    .map(|(path, c)| FileJson {
                        path: path.clone(),
                        content: hex::encode_upper(c),
                    })
                    .collect(),
                renew: p.renew.iter().map(key_json).collect(),
                not_before: p.not_before.secs(),
            }),
        }
    }
}

impl TryFrom<CardJson> for CardRecord {
    type Error = String;

    fn try_from(j: CardJson) -> Result<Self, String> {
        let serial = hex::decode(&j.serial).map_err(|_| "serial is not hex".to_owned())?;
        let pending = match j.pending {
            None => None,
            Some(p) => {
                let id: [u8; 16] = hex::decode(&p.id)
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .ok_or("pending id is not 16 hex bytes")?;
                let mut files = Vec::new();
                for f in p.files {
                    files.push((
                        f.path,
                        hex::decode(&f.content)
                            .map_err(|_| "file content is not hex".to_owned())?,
                    ));
                }
                Some(PendingUpdate {
                    id,
                    target: p.target,
                    files,
                    renew: p.renew.into_iter().map(key_from).collect(),
                    not_before: UnixTime::from_secs(p.not_before),
                })
            }
        };
        Ok(CardRecord {
            serial,
            sequence: j.sequence,
            dam_path: j.dam_path,
            situations: situations_from(j.situations),
            subject: HolderSubject {
                country: j.subject.country,
                organisation: j.subject.organisation,
                organisational_unit: j.subject.organisational_unit,
                title: j.subject.title,
                national_id: j.subject.national_id,
                family_name: j.subject.family_name,
                given_name: j.subject.given_name,
            },
            renewable: j.renewable.into_iter().map(key_from).collect(),
            pending,
        })
    }
}
// ---------------------------------------------------------------------------------------
// Validation of what the administration API receives

/// Longest serial number accepted (bytes).
pub const MAX_SERIAL: usize = 32;
/// Most practice situations in a record.
pub const MAX_SITUATIONS: usize = 16;
/// Longest text field (characters).
pub const MAX_TEXT: usize = 128;
/// Longest EF path (file identifiers).
pub const MAX_PATH: usize = 8;
/// Most renewable keys per card.
pub const MAX_KEYS: usize = 4;
/// Most staged files in a pending update.
pub const MAX_FILES: usize = 8;
/// Longest card answer a session accepts (an extended-length answer and its SW).
pub const MAX_RESPONSE: usize = 65_538;
/// Largest staged file (bytes).
pub const MAX_FILE: usize = 16 * 1024;

fn check_text(what: &str, v: &str) -> Result<(), String> {
    if v.chars().count() > MAX_TEXT {
        return Err(format!("{what}: longer than {MAX_TEXT} characters"));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{what}: control characters"));
    }
    Ok(())
}

fn check_opt(what: &str, v: &Option<String>) -> Result<(), String> {
    v.as_deref().map_or(Ok(()), |v| check_text(what, v))
}

fn check_path(what: &str, p: &[u16]) -> Result<(), String> {
    if p.is_empty() || p.len() > MAX_PATH {
        return Err(format!("{what}: 1 to {MAX_PATH} file identifiers"));
    }
    Ok(())
}

/// Parses a serial number from the URL or a record: 1 to 32 bytes of hex; upper-case hex
/// back (the store's key).
pub fn parse_serial(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() || text.len() > 2 * MAX_SERIAL {
        return Err(format!("serial: 1 to {MAX_SERIAL} bytes of hex"));
    }
    hex::decode(text).map_err(|_| "serial: not hex".to_owned())
}

/// Checks a list of practice situations.
pub fn check_situations(list: &[SituationJson]) -> Result<(), String> {
    if list.len() > MAX_SITUATIONS {
        return Err(format!("at most {MAX_SITUATIONS} practice situations"));
    }
    for s in list {
        for c in [&s.practice_mode, &s.activity_sector].into_iter().flatten() {
            check_text("code", &c.code)?;
            check_opt("label", &c.label)?;
        }
        check_opt("structure_id_type", &s.structure_id_type)?;
        check_opt("structure_id", &s.structure_id)?;
        check_opt("structure_name", &s.structure_name)?;
        check_opt("city", &s.city)?;
    }
    Ok(())
}

fn check_key(k: &KeyJson) -> Result<(), String> {
    check_path("cert_path", &k.cert_path)?;
    if k.usage != "signature" && k.usage != "authentication" {
        return Err("usage: \"authentication\" or \"signature\"".into());
    }
    Ok(())
}

/// Checks a whole card record.
pub fn check_card(card: &CardJson) -> Result<(), String> {
    parse_serial(&card.serial)?;
    check_path("dam_path", &card.dam_path)?;
    check_situations(&card.situations)?;
    let s = &card.subject;
    if s.country.len() != 2 || !s.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("subject.country: two capital letters".into());
    }
    for (what, v) in [
        ("subject.national_id", &s.national_id),
        ("subject.family_name", &s.family_name),
        ("subject.given_name", &s.given_name),
    ] {
        if v.is_empty() || v.chars().count() > 64 {
            return Err(format!("{what}: 1 to 64 characters"));
        }
        check_text(what, v)?;
    }
    check_opt("subject.organisation", &s.organisation)?;
    check_opt("subject.organisational_unit", &s.organisational_unit)?;
    check_opt("subject.title", &s.title)?;
    if card.renewable.len() > MAX_KEYS {
        return Err(format!("at most {MAX_KEYS} renewable keys"));
    }
    let mut refs: Vec<u8> = card.renewable.iter().map(|k| k.key_ref).collect();
    refs.sort_unstable();
    refs.dedup();
    if refs.len() != card.renewable.len() {
        return Err("renewable: a key reference twice".into());
    }
    for k in &card.renewable {
        check_key(k)?;
    }
    if let Some(p) = &card.pending {
        if p.files.len() > MAX_FILES || p.renew.len() > MAX_KEYS {
            return Err(format!(
                "pending: at most {MAX_FILES} files and {MAX_KEYS} keys"
            ));
        }
        for f in &p.files {
            check_path("pending file path", &f.path)?;
            if f.content.len() > 2 * MAX_FILE {
                return Err(format!("pending file: at most {MAX_FILE} bytes"));
            }
        }
        for k in &p.renew {
            check_key(k)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The service

/// Bounds of the server (every wait has a timer, every buffer a size).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body (bytes).
    pub max_body: usize,
    /// Time to receive a request's headers (also how long an idle kept-alive connection
    /// stays open).
    pub header_timeout: std::time::Duration,
    /// Time to receive a request's body.
    pub body_timeout: std::time::Duration,
    /// Time to handle a request once received (database included).
    pub handle_timeout: std::time::Duration,
    /// Longest life of one connection.
    pub connection_lifetime: std::time::Duration,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one IP address.
    pub per_client_connections: usize,
    /// Requests handled at once (blocking work: database, issuer).
    pub workers: usize,
    /// A session with no answer for this long is ended.
    pub session_idle: std::time::Duration,
    /// Running sessions at most (a new one beyond is refused with 503).
    pub max_sessions: usize,
    /// Longest grace period of a graceful shutdown.
    pub shutdown_grace: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        use std::time::Duration;
        Limits {
            max_body: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            handle_timeout: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(300),
            max_connections: 4096,
            per_client_connections: 256,
            workers: 16,
            session_idle: Duration::from_secs(60),
            max_sessions: 20_000,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

struct SessionMeta {
    serial: String,
    last: std::time::Instant,
}

/// The issuer, its store and its sessions.
pub struct UpdateServer {
    issuer: Mutex<Issuer>,
    store: Arc<dyn CardStore>,
    sessions: Mutex<HashMap<u64, SessionMeta>>,
    admin: Option<AdminKey>,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for UpdateServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateServer")
            .field("engine", &self.store.engine())
            .finish_non_exhaustive()
    }
}

fn json_error(status: u16, msg: impl Into<String>) -> (u16, String) {
    let body = serde_json::to_string(&ErrorJson { error: msg.into() })
        .unwrap_or_else(|_| "{\"error\":\"internal\"}".into());
    (status, body)
}

fn json_ok<T: Serialize>(v: &T) -> (u16, String) {
    match serde_json::to_string(v) {
        Ok(s) => (200, s),
        Err(e) => json_error(500, e.to_string()),
    }
}

fn decode_record(serial: &str, text: &str) -> Result<CardRecord, ServerError> {
    let json: CardJson = serde_json::from_str(text).map_err(|e| ServerError::Corrupt {
        serial: serial.to_owned(),
        detail: e.to_string(),
    })?;
    CardRecord::try_from(json).map_err(|detail| ServerError::Corrupt {
        serial: serial.to_owned(),
        detail,
    })
}

fn encode_record(r: &CardRecord) -> Result<String, ServerError> {
    serde_json::to_string(&CardJson::from(r)).map_err(|e| ServerError::Corrupt {
        serial: hex::encode_upper(&r.serial),
        detail: e.to_string(),
    })
}

/// The audit event of a change made by a relay's session.
fn session_event(before: &CardRecord, after: &CardRecord) -> Option<(String, String)> {
    if after.sequence != before.sequence {
        return Some((
            "committed".into(),
            format!("sequence {} -> {}", before.sequence, after.sequence),
        ));
    }
    let bound = |r: &CardRecord| r.pending.as_ref().and_then(|p| p.target);
    if bound(after) != bound(before) {
        return Some((
            "bound".into(),
            format!("pending update bound to sequence {:?}", bound(after)),
        ));
    }
    None
}

/// What a handler asks of one card.
type CardOp<'a> =
    dyn FnMut(&mut Issuer, Option<CardRecord>) -> Result<(u16, String), (u16, String)> + 'a;

impl UpdateServer {
    /// The reference issuer (test master key, test PKI) on the SQLite file `db`, with no
    /// administration key (administration refused over HTTP) and the default limits.
    pub fn open(db: &Path) -> Result<Self, ServerError> {
        Self::with_store(Arc::new(SqliteStore::open(db, "node-1")?))
    }

    /// The reference issuer (TEST keys in process) on this store.
    pub fn with_store(store: Arc<dyn CardStore>) -> Result<Self, ServerError> {
        let keys = InProcessKeys::test_ca(TEST_MASTER_KEY).map_err(|e| ServerError::Issuer(e.0))?;
        Ok(Self::with_store_and_keys(store, Box::new(keys)))
    }

    /// An issuer with these keys (e.g. [`pkcs11::Pkcs11Keys`]) on this store.
    pub fn with_store_and_keys(store: Arc<dyn CardStore>, keys: Box<dyn IssuerKeys>) -> Self {
        let issuer = Issuer::with_keys(keys);
        UpdateServer {
            issuer: Mutex::new(issuer),
            store,
            sessions: Mutex::new(HashMap::new()),
            admin: None,
            limits: Limits::default(),
            tls: None,
        }
    }

    /// Enables the administration API for tokens signed with this key.
    pub fn with_admin_key(mut self, key: AdminKey) -> Self {
        self.admin = Some(key);
        self
    }

    /// Serves HTTPS (rustls, TLS 1.2 and 1.3) with this certificate chain and private key
    /// (PEM files). The protocol is end-to-end protected either way; TLS protects the
    /// administration tokens and holder data on the wire.
    pub fn with_tls_files(mut self, cert_chain: &Path, key: &Path) -> Result<Self, ServerError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let tls_err = |what: &str, e: String| ServerError::Tls(format!("{what}: {e}"));
        let certs = CertificateDer::pem_file_iter(cert_chain)
            .map_err(|e| tls_err("certificate file", e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls_err("certificate file", e.to_string()))?;
        if certs.is_empty() {
            return Err(tls_err("certificate file", "no certificate".into()));
        }
        let key =
            PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err("key file", e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("protocol versions", e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| tls_err("certificate and key", e.to_string()))?;
        self.tls = Some(Arc::new(config));
        Ok(self)
    }

    /// The TLS configuration, when serving HTTPS.
    pub(crate) fn tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.clone()
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The storage engine's name.
    pub fn engine(&self) -> &'static str {
        self.store.engine()
    }

    fn issuer(&self) -> Result<std::sync::MutexGuard<'_, Issuer>, ServerError> {
        self.issuer
            .lock()
            .map_err(|_| ServerError::Issuer("issuer state poisoned".into()))
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u64, SessionMeta>> {
        // A poisoned map is still a valid map (plain data): recover it.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers (or replaces) a card record (in process: the CLI's seeding).
    pub fn register(&self, record: &CardRecord) -> Result<(), ServerError> {
        let serial = hex::encode_upper(&record.serial);
        let text = encode_record(record)?;
        self.store.with_card(&serial, &mut |_| {
            Ok(Change {
                record: Some(text.clone()),
                event: Some(("registered".into(), "in process".into())),
            })
        })
    }

    /// A card's stored record.
    pub fn record(&self, serial: &[u8]) -> Result<Option<CardRecord>, ServerError> {
        let key = hex::encode_upper(serial);
        let mut out = None;
        self.store.with_card(&key, &mut |cur| {
            out = cur.map(|t| decode_record(&key, t)).transpose()?;
            Ok(Change::default())
        })?;
        Ok(out)
    }

    /// The audit log of a card.
    pub fn audit(&self, serial: &[u8]) -> Result<Vec<AuditEntry>, ServerError> {
        self.store.audit(&hex::encode_upper(serial), 1000)
    }

    /// Number of running sessions.
    pub fn session_count(&self) -> usize {
        self.sessions().len()
    }

    /// Ends the sessions idle for longer than the limit; how many.
    pub fn expire_sessions(&self) -> usize {
        let now = std::time::Instant::now();
        let idle = self.limits.session_idle;
        let expired: Vec<u64> = {
            let mut map = self.sessions();
            let ids: Vec<u64> = map
                .iter()
                .filter(|(_, m)| now.duration_since(m.last) > idle)
                .map(|(id, _)| *id)
                .collect();
            for id in &ids {
                map.remove(id);
            }
            ids
        };
        if let Ok(mut issuer) = self.issuer() {
            for id in &expired {
                issuer.end_session(*id);
            }
        }
        expired.len()
    }

    /// Runs `op` on the card `serial` (hex) with its row locked: the record is loaded into
    /// the issuer, `op` runs, the record is written back if it changed (with `event`, or the
    /// session event) and forgotten by the issuer.
    fn on_card(&self, serial: &str, action: Option<&str>, op: &mut CardOp<'_>) -> (u16, String) {
        let mut answer = json_error(500, "not handled");
        let result = self.store.with_card(serial, &mut |cur| {
            let before = cur.map(|t| decode_record(serial, t)).transpose()?;
            let bytes = hex::decode(serial).unwrap_or_default();
            let mut issuer = self.issuer()?;
            if let Some(r) = &before {
                issuer.register(r.clone());
            }
            let out = op(&mut issuer, before.clone());
            let after = issuer.forget(&bytes);
            drop(issuer);
            answer = match out {
                Ok(a) | Err(a) => a,
            };
            let Some(after) = after else {
                return Ok(Change::default());
            };
            let text = encode_record(&after)?;
            let before_text = before.as_ref().map(encode_record).transpose()?;
            if before_text.as_deref() == Some(text.as_str()) {
                return Ok(Change::default());
            }
            let event = match (action, &before) {
                (Some(a), _) => Some((a.to_owned(), String::new())),
                (None, Some(b)) => session_event(b, &after),
                (None, None) => None,
            };
            Ok(Change {
                record: Some(text),
                event,
            })
        });
        match result {
            Ok(()) => answer,
            Err(e) => json_error(500, format!("storage: {e}")),
        }
    }

    fn authorize(&self, bearer: Option<&str>) -> Result<(), (u16, String)> {
        let Some(key) = &self.admin else {
            return Err(json_error(403, TokenError::Disabled.to_string()));
        };
        let Some(token) = bearer else {
            return Err(json_error(401, TokenError::Missing.to_string()));
        };
        let now = cps_x509::UnixTime::now().secs();
        key.verify(token, now)
            .map_err(|e| json_error(401, e.to_string()))
    }

    /// Handles one request: `(status, JSON body)`. `bearer` is the token of an
    /// `Authorization: Bearer` header.
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        bearer: Option<&str>,
    ) -> (u16, String) {
        let path = path.split('?').next().unwrap_or_default();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            ("GET", ["v1", "health"]) => json_ok(&serde_json::json!({
                "engine": self.engine(),
                "sessions": self.session_count(),
            })),
            ("POST", ["v1", "sessions"]) => self.open_session(body),
            ("POST", ["v1", "sessions", id]) => self.next_in_session(id, body),
            (_, ["v1", "cards", ..]) => match self.authorize(bearer) {
                Ok(()) => self.admin_route(method, &parts, body),
                Err(e) => e,
            },
            _ => json_error(404, format!("no route {method} {path}")),
        }
    }

    fn open_session(&self, body: &[u8]) -> (u16, String) {
        let Ok(req) = serde_json::from_slice::<OpenRequest>(body) else {
            return json_error(400, "expected {\"hello\": \"<hex>\"}");
        };
        let Ok(hello) = hex::decode(&req.hello) else {
            return json_error(400, "hello is not hex");
        };
        let serial = match Hello::parse(&hello) {
            Ok(h) => h.serial,
            Err(e) => return json_error(400, format!("hello: {e}")),
        };
        if serial.is_empty() || serial.len() > MAX_SERIAL {
            return json_error(400, "hello: serial of 1 to 32 bytes expected");
        }
        if self.session_count() >= self.limits.max_sessions {
            self.expire_sessions();
            if self.session_count() >= self.limits.max_sessions {
                return json_error(503, "too many running sessions: try again later");
            }
        }
        let key = hex::encode_upper(&serial);
        let mut session = None;
        let answer = self.on_card(&key, None, &mut |issuer, before| {
            if before.is_none() {
                return Err(json_error(
                    409,
                    "this card is not registered with the update service",
                ));
            }
            match issuer.open(&hello) {
                Ok(r) => {
                    if let Reply::Send { session: id, .. } = &r {
                        session = Some(*id);
                    }
                    Ok(json_ok(&ReplyJson::from(&r)))
                }
                Err(e) => Err(json_error(409, e.0)),
            }
        });
        if let Some(id) = session {
            if answer.0 == 200 {
                self.sessions().insert(
                    id,
                    SessionMeta {
                        serial: key,
                        last: std::time::Instant::now(),
                    },
                );
            } else if let Ok(mut issuer) = self.issuer() {
                // Not saved: the session must not outlive its failed start.
                issuer.end_session(id);
            }
        }
        answer
    }

    fn next_in_session(&self, id: &str, body: &[u8]) -> (u16, String) {
        // Session identifiers are random 64-bit numbers: anything else is unknown.
        let unknown = || json_error(404, "unknown or finished session");
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return unknown();
        }
        let Ok(id) = id.parse::<u64>() else {
            return unknown();
        };
        let Ok(req) = serde_json::from_slice::<NextRequest>(body) else {
            return json_error(400, "expected {\"response\": \"<hex>\"}");
        };
        let Ok(resp) = hex::decode(&req.response) else {
            return json_error(400, "response is not hex");
        };
        if resp.len() > MAX_RESPONSE {
            return json_error(400, "response longer than an extended APDU answer");
        }
        let Some(serial) = self.sessions().get(&id).map(|m| m.serial.clone()) else {
            return unknown();
        };
        let mut still_running = false;
        let answer = self.on_card(&serial, None, &mut |issuer, before| {
            if before.is_none() {
                issuer.end_session(id);
                return Err(json_error(409, "the card's record was removed"));
            }
            let r = issuer.next(id, resp.as_slice());
            still_running = issuer.session_card(id).is_some();
            match r {
                Ok(r) => Ok(json_ok(&ReplyJson::from(&r))),
                Err(e) if still_running => Err(json_error(
                    409,
                    format!(
                        "{}: the answer does not authenticate under the session's channel, \
                         the session is unchanged",
                        e.0
                    ),
                )),
                Err(e) => Err(json_error(409, e.0)),
            }
        });
        let mut map = self.sessions();
        if still_running {
            if let Some(m) = map.get_mut(&id) {
                m.last = std::time::Instant::now();
            }
        } else {
            map.remove(&id);
        }
        answer
    }

    fn admin_route(&self, method: &str, parts: &[&str], body: &[u8]) -> (u16, String) {
        match (method, parts) {
            ("GET", ["v1", "cards"]) => match self.store.serials("", 10_000) {
                Ok(list) => json_ok(&list),
                Err(e) => json_error(500, format!("storage: {e}")),
            },
            ("GET", ["v1", "cards", serial]) => {
                let Ok(bytes) = parse_serial(serial) else {
                    return json_error(404, "unknown card");
                };
                match self.record(&bytes) {
                    Ok(Some(r)) => json_ok(&CardJson::from(&r)),
                    Ok(None) => json_error(404, "unknown card"),
                    Err(e) => json_error(500, format!("storage: {e}")),
                }
            }
            ("GET", ["v1", "cards", serial, "audit"]) => {
                let Ok(bytes) = parse_serial(serial) else {
                    return json_error(404, "unknown card");
                };
                match self.audit(&bytes) {
                    Ok(list) => json_ok(&list),
                    Err(e) => json_error(500, format!("storage: {e}")),
                }
            }
            ("PUT", ["v1", "cards", serial]) => {
                let card = match serde_json::from_slice::<CardJson>(body) {
                    Ok(c) => c,
                    Err(e) => return json_error(400, format!("expected a card record: {e}")),
                };
                if let Err(e) = check_card(&card) {
                    return json_error(400, e);
                }
                if !card.serial.eq_ignore_ascii_case(serial) {
                    return json_error(400, "the record's serial differs from the URL's");
                }
                let record = match CardRecord::try_from(card) {
                    Ok(r) => r,
                    Err(e) => return json_error(400, e),
                };
                let key = hex::encode_upper(&record.serial);
                self.on_card(&key, Some("registered"), &mut |issuer, _| {
                    issuer.register(record.clone());
                    Ok((204, String::new()))
                })
            }
            ("PUT", ["v1", "cards", serial, "situations"]) => {
                let list = match serde_json::from_slice::<Vec<SituationJson>>(body) {
                    Ok(l) => l,
                    Err(e) => {
                        return json_error(
                            400,
                            format!("expected a list of practice situations: {e}"),
                        );
                    }
                };
                if let Err(e) = check_situations(&list) {
                    return json_error(400, e);
                }
                let Ok(bytes) = parse_serial(serial) else {
                    return json_error(404, "unknown card");
                };
                let key = hex::encode_upper(&bytes);
                self.on_card(&key, Some("situations"), &mut |issuer, _| match issuer
                    .update_situations(&bytes, situations_from(list.clone()))
                {
                    Ok(()) => Ok((204, String::new())),
                    Err(e) => Err(json_error(409, e.0)),
                })
            }
            ("POST", ["v1", "cards", serial, "renewal"]) => {
                let req = if body.iter().all(u8::is_ascii_whitespace) {
                    RenewalRequest { not_before: None }
                } else {
                    match serde_json::from_slice::<RenewalRequest>(body) {
                        Ok(r) => r,
                        Err(e) => {
                            return json_error(
                                400,
                                format!("expected {{\"not_before\": <unix seconds>}}: {e}"),
                            );
                        }
                    }
                };
                let Ok(bytes) = parse_serial(serial) else {
                    return json_error(404, "unknown card");
                };
                let at = req
                    .not_before
                    .map_or_else(UnixTime::now, UnixTime::from_secs);
                let key = hex::encode_upper(&bytes);
                self.on_card(&key, Some("renewal"), &mut |issuer, before| {
                    if before.is_none() {
                        return Err(json_error(404, "unknown card"));
                    }
                    match issuer.schedule_renewal(&bytes, at) {
                        Ok(()) => Ok((204, String::new())),
                        Err(e) if e.0.starts_with("not_before") => Err(json_error(400, e.0)),
                        Err(e) => Err(json_error(409, e.0)),
                    }
                })
            }
            _ => json_error(404, format!("no route {method} /{}", parts.join("/"))),
        }
    }
}
