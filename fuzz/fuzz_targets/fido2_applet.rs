//! The simulated FIDO2 applet fed arbitrary APDU sequences (card side): never panics, always
//! answers at least a status word, and the PIN retry counter only moves through clientPIN.
#![no_main]
use cps_sim::fido2::applet::FidoCard;
use cps_transport::VirtualCard;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut card = FidoCard::new();
    card.power_on();
    // Select first so that CTAP commands reach the engine.
    let _ = card.process(&[0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01, 0x00]);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (apdu, next) = tail.split_at(n);
        rest = next;
        let r = card.process(apdu);
        assert!(r.len() >= 2);
        assert!(card.applet.authenticator().pin_retries() <= 8);
    }
});
