//! The establishment badge formats of cps-desfire (`badge`): the 32-byte record read from a
//! card (hostile), the door profile and the key file (text from files and the environment).
//! Nothing may panic; whatever parses must encode back to what parses the same.
#![no_main]
use cps_desfire::badge::{BadgeRecord, Date, DoorProfile, EstablishmentKeys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = BadgeRecord::parse(data) {
        assert_eq!(record.encode().as_slice(), data, "a record has one encoding");
        assert_eq!(BadgeRecord::parse(&record.encode()), Ok(record));
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(profile) = DoorProfile::parse(text) {
            assert_eq!(DoorProfile::parse(&profile.to_text()), Ok(profile));
        }
        let _ = EstablishmentKeys::parse(text);
        if let Ok(d) = Date::parse(text) {
            assert_eq!(Date::from_u32(d.to_u32()), Some(d));
        }
    }
});
