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

/// The largest answer accepted from a service: the longest reply carries one extended APDU
/// (65 535 data bytes, 131 KB in hex) plus a little JSON.
pub const MAX_ANSWER: usize = 256 * 1024;

/// The longest error text kept from a service (characters).
const MAX_ERROR_TEXT: usize = 200;

/// A remote update service reached over HTTP.
#[derive(Debug, Clone)]
pub struct HttpService {
    base: String,
    timeout_secs: u64,
    max_answer: usize,
}

/// Why a service address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(String);

impl HttpService {
    /// A service at `base` (e.g. `http://127.0.0.1:8700`), 30-second timeout per request,
    /// answers of at most [`MAX_ANSWER`] bytes. The address is not checked: see
    /// [`HttpService::parse`].
    pub fn new(base: &str) -> Self {
        HttpService {
            base: base.trim_end_matches('/').to_owned(),
            timeout_secs: 30,
            max_answer: MAX_ANSWER,
        }
    }

    /// Like [`HttpService::new`], but checks the address first: `http://HOST[:PORT][/PATH]`
    /// (this client speaks plain HTTP; the update is protected end to end).
    pub fn parse(base: &str) -> Result<Self, UrlError> {
        let shown = crate::relay::printable(base, 60);
        let Some(rest) = base.strip_prefix("http://") else {
            return Err(UrlError(if base.contains("://") {
                format!(
                    "{shown:?}: only http:// addresses are supported, e.g. http://127.0.0.1:8700"
                )
            } else {
                format!(
                    "{shown:?} is not an address: write it as http://HOST:PORT, e.g. http://127.0.0.1:8700"
                )
            }));
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') {
            return Err(UrlError(format!(
                "{shown:?} has no host name: write it as http://HOST:PORT, e.g. http://127.0.0.1:8700"
            )));
        }
        if base.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError(format!(
                "{shown:?} contains spaces or control characters"
            )));
        }
        if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']')) {
            if port.parse::<u16>().is_err() {
                return Err(UrlError(format!(
                    "{shown:?}: the port must be a number from 0 to 65535"
                )));
            }
        }
        Ok(HttpService::new(base))
    }

    /// Changes the largest answer accepted.
    pub fn with_max_answer(mut self, bytes: usize) -> Self {
        self.max_answer = bytes;
        self
    }

    /// Changes the per-request timeout.
    pub fn with_timeout(mut self, secs: u64) -> Self {
        self.timeout_secs = secs;
        self
    }

    fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Reply, ServiceError> {
        let url = format!("{}{path}", self.base);
        let shown = crate::relay::printable(&url, 80);
        let started = std::time::Instant::now();
        let deadline = std::time::Duration::from_secs(self.timeout_secs);
        let response = minreq::post(&url)
            .with_timeout(self.timeout_secs)
            .with_max_headers_size(16 * 1024)
            .with_max_status_line_length(1024)
            .with_max_redirects(0)
            .with_json(body)
            .map_err(|e| ServiceError(format!("request to {shown}: {e}")))?
            .send_lazy()
            .map_err(|e| ServiceError(format!("update service unreachable at {shown}: {e}")))?;
        let status = response.status_code;
        let reason = crate::relay::printable(&response.reason_phrase, MAX_ERROR_TEXT);
        // Read at most max_answer bytes, within the request's time limit.
        let mut bytes = Vec::new();
        for item in response {
            let (byte, _) = item.map_err(|e| {
                ServiceError(format!(
                    "reading the update service's answer from {shown}: {e}"
                ))
            })?;
            if bytes.len() >= self.max_answer {
                return Err(ServiceError(format!(
                    "the update service's answer exceeds {} bytes: refused",
                    self.max_answer
                )));
            }
            if started.elapsed() > deadline {
                return Err(ServiceError(format!(
                    "the update service's answer took more than {} s: refused",
                    self.timeout_secs
                )));
            }
            bytes.push(byte);
        }
        if status != 200 {
            let msg = serde_json::from_slice::<ErrorJson>(&bytes)
                .map(|e| crate::relay::printable(&e.error, MAX_ERROR_TEXT))
                .unwrap_or(reason);
            return Err(ServiceError(format!(
                "update service answered {status}: {msg}"
            )));
        }
        let reply: ReplyJson = serde_json::from_slice(&bytes)
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
