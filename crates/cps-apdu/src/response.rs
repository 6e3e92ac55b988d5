//! Response APDUs (ISO/IEC 7816-4:2020 §5.1): `data ‖ SW1 SW2`.

use alloc::vec::Vec;

use crate::{ApduError, StatusWord};

/// A response APDU: the response data field and the trailing status word.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Response {
    /// Response data field (may be empty).
    pub data: Vec<u8>,
    /// The status word (SW1 SW2).
    pub sw: StatusWord,
}

impl core::fmt::Debug for Response {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Responses may carry secrets (session keys, challenges, PIN tokens): print the length.
        f.debug_struct("Response")
            .field("len", &self.data.len())
            .field("sw", &self.sw)
            .finish()
    }
}

impl Response {
    /// A response with data and a status word.
    pub fn new(data: Vec<u8>, sw: StatusWord) -> Self {
        Response { data, sw }
    }

    /// A response with a status word and no data.
    pub fn status(sw: StatusWord) -> Self {
        Response {
            data: Vec::new(),
            sw,
        }
    }

    /// `data ‖ 9000`.
    pub fn success(data: Vec<u8>) -> Self {
        Response::new(data, StatusWord::SUCCESS)
    }

    /// Parses `data ‖ SW1 SW2`; fails on fewer than two bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        match bytes.split_last_chunk::<2>() {
            Some((data, sw)) => Ok(Response {
                data: data.to_vec(),
                sw: StatusWord::from(*sw),
            }),
            None => Err(ApduError::ResponseTooShort { len: bytes.len() }),
        }
    }

    /// Encodes as `data ‖ SW1 SW2`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }

    /// `true` when the status word is `9000`.
    pub fn is_success(&self) -> bool {
        self.sw.is_success()
    }

    /// Returns the data when the status word is `9000`, the status word otherwise.
    pub fn into_result(self) -> Result<Vec<u8>, StatusWord> {
        if self.sw.is_success() {
            Ok(self.data)
        } else {
            Err(self.sw)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode() {
        let r = Response::parse(&[0x01, 0x02, 0x90, 0x00]).unwrap();
        assert_eq!(r.data, [1, 2]);
        assert!(r.is_success());
        assert_eq!(r.to_bytes(), [1, 2, 0x90, 0]);
        let r = Response::parse(&[0x6A, 0x82]).unwrap();
        assert_eq!(r.sw, StatusWord::FILE_NOT_FOUND);
        assert!(r.data.is_empty());
        assert_eq!(r.into_result(), Err(StatusWord::FILE_NOT_FOUND));
        assert!(matches!(
            Response::parse(&[0x90]),
            Err(ApduError::ResponseTooShort { len: 1 })
        ));
        assert!(matches!(
            Response::parse(&[]),
            Err(ApduError::ResponseTooShort { len: 0 })
        ));
    }
}
