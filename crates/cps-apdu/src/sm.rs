//! SM.
/// SM error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmError;
impl core::fmt::Display for SmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("x")
    }
}
