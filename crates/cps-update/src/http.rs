//! The update service over HTTP (feature `http`): the JSON wire format and
//! [`HttpService`], an [`UpdateService`] that talks to a remote issuer such as
//! `cps-update-server`. The API is documented in `docs/remote-update.md` ("HTTP API").
//!
//! The transport adds no security and needs none: every byte that matters is protected end
//! to end between the card and the issuer.

use serde::{Deserialize, Serialize};

use crate::relay::{Outcome, Progress, Reply, ServiceError, UpdateService};

/// `POST /v1/sessions`: the card's hello (hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenRequest {
    /// The update application's answer to SELECT, hex.
    pub hello: String,
}

/// `POST /v1/sessions/{id}`: the card's answer to the last command (hex, with SW).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NextRequest {
    /// `data ‖ SW1 SW2`, hex.
    pub response: String,
}

/// Progress in JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProgressJson {
    /// Steps done.
    pub done: u32,
    /// Steps in all.
    pub total: u32,
    /// What is happening.
    pub what: String,
}

/// Outcome in JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeJson {
    /// Nothing pending.
    UpToDate {
        /// Card sequence number.
        sequence: u32,
    },
    /// Committed.
    Updated {
        /// New sequence number.
        sequence: u32,
        /// Steps of the update.
        steps: u16,
    },
}

/// A reply in JSON: `{"send": {...}}` or `{"finished": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReplyJson {
    /// Send `apdu` (hex) to the card.
    Send {
        /// Session handle.
        session: u64,
        /// Command APDU, hex.
        apdu: String,
        /// Progress.
        progress: ProgressJson,
    },
    /// Over.
    Finished(OutcomeJson),
}

/// An error body: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorJson {
    /// What went wrong, for a person.
    pub error: String,
}

impl From<&Reply> for ReplyJson {
    fn from(r: &Reply) -> Self {
        match r {
            Reply::Send {
                session,
                apdu,
                progress,
            } => ReplyJson::Send {
                session: *session,
                apdu: hex::encode_upper(apdu),
                progress: ProgressJson {
                    done: progress.done,
                    total: progress.total,
                    what: progress.what.clone(),
                },
            },
            Reply::Finished(Outcome::UpToDate { sequence }) => {
                ReplyJson::Finished(OutcomeJson::UpToDate {
                    sequence: *sequence,
                })
            }
            Reply::Finished(Outcome::Updated { sequence, steps }) => {
                ReplyJson::Finished(OutcomeJson::Updated {
                    sequence: *sequence,
                    steps: *steps,
                })
            }
        }
    }
}

impl TryFrom<ReplyJson> for Reply {
    type Error = ServiceError;

    fn try_from(r: ReplyJson) -> Result<Self, ServiceError> {
        Ok(match r {
            ReplyJson::Send {
                session,
                apdu,
                progress,
            } => Reply::Send {
                session,
                apdu: hex::decode(&apdu)
                    .map_err(|_| ServiceError("the service sent an APDU that is not hex".into()))?,
                progress: Progress {
                    done: progress.done,
                    total: progress.total,
                    what: progress.what,
                },
            },
            ReplyJson::Finished(OutcomeJson::UpToDate { sequence }) => {
                Reply::Finished(Outcome::UpToDate { sequence })
            }
            ReplyJson::Finished(OutcomeJson::Updated { sequence, steps }) => {
                Reply::Finished(Outcome::Updated { sequence, steps })
            }
        })
    }
}

/// A remote update service reached over HTTP.
#[derive(Debug, Clone)]
pub struct HttpService {
    base: String,
    timeout_secs: u64,
}

impl HttpService {
    /// A service at `base` (e.g. `http://127.0.0.1:8700`), 30-second timeout per request.
    pub fn new(base: &str) -> Self {
        HttpService {
            base: base.trim_end_matches('/').to_owned(),
            timeout_secs: 30,
        }
    }

    /// Changes the per-request timeout.
    pub fn with_timeout(mut self, secs: u64) -> Self {
        self.timeout_secs = secs;
        self
    }

    fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Reply, ServiceError> {
        let url = format!("{}{path}", self.base);
        let response = minreq::post(&url)
            .with_timeout(self.timeout_secs)
            .with_json(body)
            .map_err(|e| ServiceError(format!("request to {url}: {e}")))?
            .send()
            .map_err(|e| ServiceError(format!("update service unreachable at {url}: {e}")))?;
        if response.status_code != 200 {
            let msg = response
                .json::<ErrorJson>()
                .map(|e| e.error)
                .unwrap_or_else(|_| response.reason_phrase.clone());
            return Err(ServiceError(format!(
                "update service answered {}: {msg}",
                response.status_code
            )));
        }
        let reply: ReplyJson = response
            .json()
            .map_err(|e| ServiceError(format!("update service answer is not valid JSON: {e}")))?;
        Reply::try_from(reply)
    }
}

impl UpdateService for HttpService {
    fn open(&mut self, hello: &[u8]) -> Result<Reply, ServiceError> {
        self.post(
            "/v1/sessions",
            &OpenRequest {
                hello: hex::encode_upper(hello),
            },
        )
    }

    fn next(&mut self, session: u64, response: &[u8]) -> Result<Reply, ServiceError> {
        self.post(
            &format!("/v1/sessions/{session}"),
            &NextRequest {
                response: hex::encode_upper(response),
            },
        )
    }
}
