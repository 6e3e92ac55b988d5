//! Cancellation (Ctrl-C in the CLI) takes effect between commands, never inside one: a chain
//! or a GET RESPONSE sequence in progress finishes, the next command is not sent.
//! (Its own test binary: the cancellation flag is process-wide.)

use cps_apdu::{Command, StatusWord};
use cps_transport::{Exchange, InProcessChannel, TransportError, VirtualCard};

#[derive(Default)]
struct Card {
    seen: usize,
}

impl VirtualCard for Card {
    fn atr(&self) -> Vec<u8> {
        vec![0x3B, 0x00]
    }
    fn power_on(&mut self) {}
    fn process(&mut self, _apdu: &[u8]) -> Vec<u8> {
        self.seen += 1;
        StatusWord::SUCCESS.to_bytes().to_vec()
    }
}

#[test]
fn cancel_stops_before_the_next_command() {
    let mut ex = Exchange::new(InProcessChannel::new(Card::default()));
    // The IAS-ECC client registers its table, which names VERIFY.
    ex.register(&cps_iasecc::table::TABLE);
    assert!(ex.transmit(&Command::new(0, 0xB0, 0, 0)).is_ok());
    cps_transport::request_cancel();
    assert!(cps_transport::cancel_requested());
    let verify = Command::new(0x00, 0x20, 0x00, 0x01).with_data(b"1234");
    match ex.transmit(&verify) {
        Err(e @ TransportError::Cancelled { next: "VERIFY" }) => {
            assert!(e.to_string().contains("Ctrl-C"), "{e}");
        }
        other => panic!("expected Cancelled before VERIFY, got {other:?}"),
    }
    assert_eq!(ex.channel().card().seen, 1, "VERIFY was not sent");
}
