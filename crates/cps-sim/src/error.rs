//! Errors of building a simulated card (the card itself never fails: it answers status words).

use thiserror::Error;

/// Why a [`SimCard`](crate::SimCard) or a [`ProfileSpec`](crate::ProfileSpec) could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SimError {
    /// No persona has this identifier (see [`personas`](crate::personas)).
    #[error(
        "unknown persona {0:?} (known: dr-martin, pharmacien-durand, infirmiere-bernard, etudiant-petit, directeur-leroy, secretaire-moreau)"
    )]
    UnknownPersona(String),

    /// The profile file is not valid JSON or does not follow the profile format.
    #[error("profile {profile}: {source}")]
    ProfileSyntax {
        /// Name or path of the profile.
        profile: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// The profile is well-formed JSON but inconsistent (duplicate file, bad hex, ...).
    #[error("profile {profile}: {detail}")]
    InvalidProfile {
        /// Name or path of the profile.
        profile: String,
        /// What is wrong.
        detail: String,
    },

    /// A file of the test PKI could not be read or decoded.
    #[error("test PKI: {detail}")]
    Pki {
        /// What failed, with the file concerned.
        detail: String,
    },

    /// A PIN or PUK given to the builder does not fit its object's format.
    #[error("{object}: {detail}")]
    InvalidSecret {
        /// "holder PIN" or "PUK".
        object: &'static str,
        /// What is wrong (the value itself is never printed).
        detail: &'static str,
    },

    /// Reading a profile or persona file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl SimError {
    pub(crate) fn invalid(profile: &str, detail: impl Into<String>) -> Self {
        SimError::InvalidProfile {
            profile: profile.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn pki(detail: impl Into<String>) -> Self {
        SimError::Pki {
            detail: detail.into(),
        }
    }
}
