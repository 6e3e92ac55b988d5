//! The card's volatile security status: which PINs were verified in this session, and how a
//! security condition byte maps to them.

/// Security status of the native application (ISO 7816-4 §5.4 "security status").
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityStatus {
    /// PIN references verified since the last power-on or reset.
    verified: Vec<u8>,
    /// Security environment number → PIN reference whose verification it requires
    /// (from the profile: SE #1 → holder PIN 01, SE #3 → PUK 02).
    se_pins: Vec<(u8, u8)>,
}

impl SecurityStatus {
    /// A status with the profile's SE → PIN mapping and nothing verified.
    pub fn new(se_pins: Vec<(u8, u8)>) -> Self {
        SecurityStatus {
            verified: Vec::new(),
            se_pins,
        }
    }

    /// Forgets every verification (power-on, reset).
    pub fn clear(&mut self) {
        self.verified.clear();
    }

    /// Whether this PIN was verified in this session.
    pub fn is_verified(&self, pin: u8) -> bool {
        self.verified.contains(&pin)
    }

    /// Records a successful verification.
    pub fn set_verified(&mut self, pin: u8) {
        if !self.verified.contains(&pin) {
            self.verified.push(pin);
        }
    }

    /// Withdraws a verification (failed VERIFY, VERIFY with P1 = FF, PIN change...).
    pub fn unverify(&mut self, pin: u8) {
        self.verified.retain(|&p| p != pin);
    }

    /// Whether a security condition byte is satisfied.
    ///
    /// ISO 7816-4 Table 20 (compact format SC byte): `00` always, `FF` never; otherwise b5
    /// (`0x10`) = user authentication with b4-b1 the security environment number, which IAS-ECC
    /// v1.0.1 §7.2 ties to the PIN named in that SE's AT template ("`1n` user authentication =
    /// PIN of SE #n", docs/card-layout.md). Secure messaging (b7) and external authentication
    /// (b6) are not supported by the simulator: such conditions are never satisfied.
    pub fn satisfies(&self, sc: u8) -> bool {
        match sc {
            crate::fs::SC_ALWAYS => true,
            crate::fs::SC_NEVER => false,
            _ if sc & 0xF0 == 0x10 => {
                let se = sc & 0x0F;
                self.se_pins
                    .iter()
                    .any(|&(n, pin)| n == se && self.is_verified(pin))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let mut s = SecurityStatus::new(vec![(1, 0x01), (3, 0x02)]);
        assert!(s.satisfies(0x00));
        assert!(!s.satisfies(0xFF));
        assert!(!s.satisfies(0x11));
        s.set_verified(0x01);
        s.set_verified(0x01);
        assert!(s.satisfies(0x11));
        assert!(!s.satisfies(0x13));
        assert!(!s.satisfies(0x12), "no SE #2");
        assert!(!s.satisfies(0x51), "secure messaging is never satisfied");
        s.set_verified(0x02);
        assert!(s.satisfies(0x13));
        s.unverify(0x01);
        assert!(!s.satisfies(0x11));
        s.clear();
        assert!(!s.satisfies(0x13));
    }
}
