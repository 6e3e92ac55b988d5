//! # cps-update-server — the reference remote-update authority over HTTP
//!
//! The [`cps_update::issuer::Issuer`] behind the JSON API of `docs/remote-update.md`, with
//! every card record and pending update written to SQLite after each request, so that a
//! restart loses nothing: a relay whose session vanished with the old process simply runs the
//! update again and the card resumes from what it staged.
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

use std::path::Path;
use std::sync::{Arc, Mutex};

use cps_iasecc::{Coded, PracticeSituation};
use cps_update::http::{ErrorJson, NextRequest, OpenRequest, ReplyJson};
use cps_update::issuer::{CardRecord, Issuer, PendingUpdate, RenewableKey};
use cps_update::relay::UpdateService;
use cps_update::scp::TEST_MASTER_KEY;
use cps_x509::{CertUsage, HolderSubject, UnixTime};
use serde::{Deserialize, Serialize};

/// A failure of the store or the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// SQLite failed.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
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
// Store

/// The SQLite store: one row per card, the record as JSON.
pub struct Store {
    conn: rusqlite::Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store(..)")
    }
}

impl Store {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Self, ServerError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS cards (serial TEXT PRIMARY KEY, record TEXT NOT NULL);",
        )?;
        Ok(Store { conn })
    }

    /// Every stored record.
    pub fn load(&self) -> Result<Vec<CardRecord>, ServerError> {
        let mut stmt = self.conn.prepare("SELECT serial, record FROM cards")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (serial, text) = row?;
            let json: CardJson = serde_json::from_str(&text).map_err(|e| ServerError::Corrupt {
                serial: serial.clone(),
                detail: e.to_string(),
            })?;
            out.push(
                CardRecord::try_from(json)
                    .map_err(|detail| ServerError::Corrupt { serial, detail })?,
            );
        }
        Ok(out)
    }

    /// Writes a record (in one transaction).
    pub fn save(&self, record: &CardRecord) -> Result<(), ServerError> {
        let json =
            serde_json::to_string(&CardJson::from(record)).map_err(|e| ServerError::Corrupt {
                serial: hex::encode_upper(&record.serial),
                detail: e.to_string(),
            })?;
        self.conn.execute(
            "INSERT INTO cards (serial, record) VALUES (?1, ?2)
             ON CONFLICT(serial) DO UPDATE SET record = excluded.record",
            rusqlite::params![hex::encode_upper(&record.serial), json],
        )?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The service

/// The issuer and its store.
pub struct UpdateServer {
    issuer: Issuer,
    store: Store,
}

impl std::fmt::Debug for UpdateServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateServer").finish_non_exhaustive()
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

impl UpdateServer {
    /// The reference issuer (test master key, test PKI) with the records of `db`.
    pub fn open(db: &Path) -> Result<Self, ServerError> {
        let store = Store::open(db)?;
        let mut issuer = Issuer::new(TEST_MASTER_KEY).map_err(|e| ServerError::Issuer(e.0))?;
        for r in store.load()? {
            issuer.register(r);
        }
        issuer.take_dirty();
        Ok(UpdateServer { issuer, store })
    }

    /// The issuer (to register cards or schedule updates in process).
    pub fn issuer_mut(&mut self) -> &mut Issuer {
        &mut self.issuer
    }

    /// Writes every changed record.
    pub fn persist(&mut self) -> Result<(), ServerError> {
        for serial in self.issuer.take_dirty() {
            if let Some(r) = self.issuer.record(&serial) {
                self.store.save(r)?;
            }
        }
        Ok(())
    }

    /// Handles one request: `(status, JSON body)`.
    pub fn handle(&mut self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let answer = self.route(method, path, body);
        if let Err(e) = self.persist() {
            return json_error(500, format!("could not save the records: {e}"));
        }
        answer
    }

    fn route(&mut self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            ("POST", ["v1", "sessions"]) => {
                let Ok(req) = serde_json::from_slice::<OpenRequest>(body) else {
                    return json_error(400, "expected {\"hello\": \"<hex>\"}");
                };
                let Ok(hello) = hex::decode(&req.hello) else {
                    return json_error(400, "hello is not hex");
                };
                match self.issuer.open(&hello) {
                    Ok(r) => json_ok(&ReplyJson::from(&r)),
                    Err(e) => json_error(409, e.0),
                }
            }
            ("POST", ["v1", "sessions", id]) => {
                let Ok(id) = id.parse::<u64>() else {
                    return json_error(404, "no such session");
                };
                let Ok(req) = serde_json::from_slice::<NextRequest>(body) else {
                    return json_error(400, "expected {\"response\": \"<hex>\"}");
                };
                let Ok(resp) = hex::decode(&req.response) else {
                    return json_error(400, "response is not hex");
                };
                match self.issuer.next(id, &resp) {
                    Ok(r) => json_ok(&ReplyJson::from(&r)),
                    Err(e) => json_error(409, e.0),
                }
            }
            ("GET", ["v1", "cards"]) => {
                let serials: Vec<String> = self
                    .issuer
                    .records()
                    .map(|r| hex::encode_upper(&r.serial))
                    .collect();
                json_ok(&serials)
            }
            ("GET", ["v1", "cards", serial]) => match self.record(serial) {
                Some(r) => json_ok(&CardJson::from(r)),
                None => json_error(404, "unknown card"),
            },
            ("PUT", ["v1", "cards", serial]) => {
                let Ok(card) = serde_json::from_slice::<CardJson>(body) else {
                    return json_error(400, "expected a card record");
                };
                if !card.serial.eq_ignore_ascii_case(serial) {
                    return json_error(400, "the record's serial differs from the URL's");
                }
                match CardRecord::try_from(card) {
                    Ok(r) => {
                        self.issuer.register(r);
                        (204, String::new())
                    }
                    Err(e) => json_error(400, e),
                }
            }
            ("PUT", ["v1", "cards", serial, "situations"]) => {
                let Ok(list) = serde_json::from_slice::<Vec<SituationJson>>(body) else {
                    return json_error(400, "expected a list of practice situations");
                };
                let Ok(serial) = hex::decode(serial) else {
                    return json_error(404, "unknown card");
                };
                match self
                    .issuer
                    .update_situations(&serial, situations_from(list))
                {
                    Ok(()) => (204, String::new()),
                    Err(e) => json_error(409, e.0),
                }
            }
            ("POST", ["v1", "cards", serial, "renewal"]) => {
                let req = serde_json::from_slice::<RenewalRequest>(body)
                    .unwrap_or(RenewalRequest { not_before: None });
                let Ok(serial) = hex::decode(serial) else {
                    return json_error(404, "unknown card");
                };
                let at = req
                    .not_before
                    .map_or_else(UnixTime::now, UnixTime::from_secs);
                match self.issuer.schedule_renewal(&serial, at) {
                    Ok(()) => (204, String::new()),
                    Err(e) => json_error(409, e.0),
                }
            }
            _ => json_error(404, format!("no route {method} {path}")),
        }
    }

    fn record(&self, serial_hex: &str) -> Option<&CardRecord> {
        let serial = hex::decode(serial_hex).ok()?;
        self.issuer.record(&serial)
    }
}

/// A running HTTP server.
pub struct ServerHandle {
    addr: std::net::SocketAddr,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerHandle({})", self.addr)
    }
}

impl ServerHandle {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and waits for the serving thread.
    pub fn stop(mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `server` on `addr` (`127.0.0.1:0` picks a free port) in a thread.
pub fn serve(server: UpdateServer, addr: &str) -> Result<ServerHandle, ServerError> {
    let http = tiny_http::Server::http(addr).map_err(|e| ServerError::Listen {
        addr: addr.to_owned(),
        detail: e.to_string(),
    })?;
    let bound = http
        .server_addr()
        .to_ip()
        .ok_or_else(|| ServerError::Listen {
            addr: addr.to_owned(),
            detail: "not an IP address".into(),
        })?;
    let http = Arc::new(http);
    let shared = Arc::new(Mutex::new(server));
    let worker = Arc::clone(&http);
    let thread = std::thread::spawn(move || {
        for mut request in worker.incoming_requests() {
            let mut body = Vec::new();
            // Bodies are small JSON; a cap keeps a hostile client from exhausting memory.
            let limited = std::io::Read::take(request.as_reader(), 1 << 20);
            let mut reader = std::io::BufReader::new(limited);
            if std::io::Read::read_to_end(&mut reader, &mut body).is_err() {
                let _ = request.respond(tiny_http::Response::empty(400));
                continue;
            }
            let method = request.method().as_str().to_owned();
            let url = request.url().to_owned();
            let (status, text) = match shared.lock() {
                Ok(mut s) => s.handle(&method, &url, &body),
                Err(_) => json_error(500, "server state poisoned"),
            };
            let mut response = tiny_http::Response::from_string(text).with_status_code(status);
            if let Ok(h) =
                tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
            {
                response.add_header(h);
            }
            let _ = request.respond(response);
        }
    });
    Ok(ServerHandle {
        addr: bound,
        server: http,
        thread: Some(thread),
    })
}
