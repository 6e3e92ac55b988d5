//! What the exchange layer leaves behind: after a command carrying a secret went through
//! [`Exchange`] (one short APDU, a command chain, a `61xx` + GET RESPONSE answer) and the
//! command was dropped, no copy of the secret is left anywhere in the process's heap: every
//! buffer that held it (the command's data, its clone, the encoded APDUs, the chain's parts)
//! was wiped before being freed.
//!
//! The heap is read back through `/proc/self/mem` (Linux; no `unsafe`): every private,
//! writable, anonymous mapping (the main heap, the thread arenas of the allocator) is scanned
//! for a 16-byte window of the secret. The secret follows a pattern that is computed on the
//! fly, so the scanner itself holds no copy. A control step frees an unwiped copy and checks
//! that the scan finds it, so the test can fail.
//!
//! One test per binary (the scan must not see other tests' buffers).
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

use std::io::{Read, Seek, SeekFrom};

use cps_apdu::Command;
use cps_transport::{CardChannel, Exchange, ExchangeConfig, TransportError};
use zeroize::Zeroizing;

/// Byte `j` of the secret: an arithmetic progression of step 7 from `seed`; 16 such bytes in
/// a row do not occur by chance in a heap.
fn secret_byte(seed: u8, j: usize) -> u8 {
    seed.wrapping_add((j as u8).wrapping_mul(7))
}

fn secret(seed: u8, len: usize) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::with_capacity(len));
    for j in 0..len {
        v.push(secret_byte(seed, j));
    }
    v
}

/// A card that keeps nothing: it acknowledges chained parts, answers `61 08` to the last
/// command and 8 bytes to GET RESPONSE.
struct ForgetfulCard {
    atr: Vec<u8>,
}

impl CardChannel for ForgetfulCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let cla = command.first().copied().unwrap_or(0);
        let ins = command.get(1).copied().unwrap_or(0);
        Ok(if ins == 0xC0 {
            vec![1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0x00]
        } else if cla & 0x10 != 0 {
            vec![0x90, 0x00]
        } else {
            vec![0x61, 0x08]
        })
    }
    fn atr(&self) -> &[u8] {
        &self.atr
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(cps_transport::Reborrow(self)))
    }
}

/// Where in the heap a 16-byte window of the secret `seed` is found.
fn find_secret_in_heap(seed: u8) -> Vec<(u64, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut mem = std::fs::File::open("/proc/self/mem").unwrap();
    let mut found = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (range, perms) = (fields[0], fields[1]);
        let path = fields.get(5).copied().unwrap_or("");
        // Private writable memory not backed by a file: the heap and the allocator's arenas.
        if perms != "rw-p" || !(path.is_empty() || path == "[heap]") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut at = start;
        while at < end {
            let n = usize::try_from((end - at).min(buf.len() as u64)).unwrap();
            if mem.seek(SeekFrom::Start(at)).is_err() || mem.read_exact(&mut buf[..n]).is_err() {
                break;
            }
            // A run of 16 bytes each 7 above the previous, starting on a byte of the secret.
            let mut run = 0usize;
            for i in 1..n {
                if buf[i] == buf[i - 1].wrapping_add(7) {
                    run += 1;
                    if run == 15 {
                        let first = buf[i - 15];
                        // Byte j of the secret is seed + 7j: is `first` one of them?
                        let is_secret = (0..256usize).any(|j| secret_byte(seed, j) == first);
                        if is_secret {
                            found.push((at + i as u64 - 15, line.to_owned()));
                        }
                        run = 0;
                    }
                } else {
                    run = 0;
                }
            }
            at += n as u64;
        }
    }
    found
}

#[test]
fn no_copy_of_a_secret_outlives_the_exchange() {
    // An odd seed: the progression visits all 256 byte values, so `is_secret` is always true
    // and any run of step 7 counts (stricter).
    let seed = (std::process::id() as u8) | 1;
    assert!(
        find_secret_in_heap(seed).is_empty(),
        "the heap holds the pattern before the test"
    );

    let mut exchange = Exchange::with_config(
        ForgetfulCard {
            atr: vec![0x3B, 0x00],
        },
        ExchangeConfig {
            extended_length: false,
            chaining: true,
            ..ExchangeConfig::default()
        },
    );
    // A PIN-sized secret (one short APDU) and a key-sized one (a chain of two parts), each
    // answered through 61xx + GET RESPONSE.
    for len in [40usize, 300] {
        let data = secret(seed, len);
        let command = Command::new(0x00, 0x24, 0x00, 0x81).with_data(&data);
        drop(data);
        let response = exchange.transmit(&command).unwrap();
        assert_eq!(response.data, [1, 2, 3, 4, 5, 6, 7, 8]);
        drop(command);
        // Scanned at once: a freed chunk is soon reused by the allocator.
        let leftovers = find_secret_in_heap(seed);
        assert!(
            leftovers.is_empty(),
            "{len}-byte secret: copies left in the heap at {leftovers:?}"
        );
    }
    drop(exchange);

    // Control: an unwiped copy, freed, is found (the scan can fail).
    let data = secret(seed, 300);
    let plain: Vec<u8> = data.to_vec();
    drop(data);
    drop(plain);
    assert!(
        !find_secret_in_heap(seed).is_empty(),
        "the scan did not find a freed, unwiped copy"
    );
}
