//! BER-TLV.
/// TLV error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvErrorKind;
impl core::fmt::Display for TlvErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("x")
    }
}
