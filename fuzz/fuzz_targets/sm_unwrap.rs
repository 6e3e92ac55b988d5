//! Secure-messaging unwrapping of hostile responses and commands, with a toy cipher: never
//! panics, and whatever opens was produced by the matching wrap.
#![no_main]
use cps_apdu::sm::{self, SmCrypto, SmError};
use cps_apdu::{Command, Response};
use libfuzzer_sys::fuzz_target;

/// No security: XOR "cipher" and an additive checksum "MAC", so that the fuzzer can forge
/// valid MACs and reach the decryption and padding checks.
struct Toy;

impl SmCrypto for Toy {
    fn block_size(&self) -> usize {
        8
    }
    fn encrypt(&mut self, padded: &[u8]) -> Vec<u8> {
        padded.iter().map(|b| b ^ 0x5A).collect()
    }
    fn decrypt(&mut self, c: &[u8]) -> Result<Vec<u8>, SmError> {
        Ok(c.iter().map(|b| b ^ 0x5A).collect())
    }
    fn mac(&mut self, input: &[u8]) -> Vec<u8> {
        vec![input.iter().fold(0u8, |a, b| a.wrapping_add(*b))]
    }
    fn verify_mac(&mut self, input: &[u8], mac: &[u8]) -> bool {
        self.mac(input) == mac
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = Response::parse(data) {
        if let Ok(plain) = sm::unwrap_response(&resp, &mut Toy) {
            if !resp.data.is_empty() {
                // Re-wrapping the opened response opens to the same thing.
                let again = sm::wrap_response(&plain, 0xB0, &mut Toy).expect("wraps");
                assert_eq!(sm::unwrap_response(&again, &mut Toy).expect("opens"), plain);
            }
        }
    }
    if let Ok(cmd) = Command::parse(data) {
        if let Ok(plain) = sm::unwrap_command(&cmd, &mut Toy) {
            let mut again = sm::wrap_command(&plain, &mut Toy).expect("wraps");
            again.cla = cmd.cla;
            let reopened = sm::unwrap_command(&again, &mut Toy).expect("opens");
            assert_eq!(reopened, plain);
        }
    }
});
