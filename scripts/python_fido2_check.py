#!/usr/bin/env python3
"""Drive the simulated FIDO2 applet with python-fido2 2.2.1 through the real PC/SC stack.

Usage: python_fido2_check.py READER_NAME_SUBSTRING

Run by crates/cps-cli/tests/fido2_python.rs, which serves a whole simulated CPS4 card
(`cps sim serve --profile cps4`: IAS-ECC + the blank FIDO2 applet) in pcscd's vsmartcard
reader. Everything is checked by python-fido2's own code: strict CBOR decoding
(Ctap2(strict_cbor=True)), Fido2Client, Fido2Server's register_complete /
authenticate_complete, packed attestation verification, CredentialManagement, and CTAP1/U2F
(Ctap1: RegistrationData.verify, SignatureData.verify).
Prints one line per check; exits non-zero at the first failure.
"""
import hashlib
import os
import sys

from fido2.attestation import PackedAttestation
from fido2.ctap1 import ApduError, Ctap1
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2, CredentialManagement
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2
from fido2.pcsc import CtapPcscDevice
from fido2.server import Fido2Server
from fido2.webauthn import (
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

PIN = "4321"
RP = PublicKeyCredentialRpEntity(id="example.com", name="Example RP")
ORIGIN = "https://example.com"


def ok(msg):
    print(f"ok: {msg}", flush=True)


class Ui(UserInteraction):
    def request_pin(self, permissions, rp_id):
        return PIN

    def request_uv(self, permissions, rp_id):
        return True


def main():
    reader = sys.argv[1]
    devs = list(CtapPcscDevice.list_devices(reader))
    assert devs, f"no CTAP device in a reader matching {reader!r}"
    dev = devs[0]
    ctap = Ctap2(dev, strict_cbor=True)
    info = ctap.info
    assert "FIDO_2_1" in info.versions, info.versions
    assert info.options.get("clientPin") is False, "applet must be delivered blank"
    ok(f"getInfo: versions {info.versions}, protocols {info.pin_uv_protocols}, blank")

    ClientPin(ctap, PinProtocolV2()).set_pin(PIN)
    retries, _ = ClientPin(ctap, PinProtocolV2()).get_pin_retries()
    assert retries == 8, retries
    ok("setPIN (protocol 2), 8 retries")

    server = Fido2Server(RP)
    client = Fido2Client(dev, DefaultClientDataCollector(ORIGIN), user_interaction=Ui())
    creds = []
    for rk in (ResidentKeyRequirement.DISCOURAGED, ResidentKeyRequirement.REQUIRED):
        user = PublicKeyCredentialUserEntity(id=f"user-{rk.value}".encode(), name=f"alice-{rk.value}", display_name="Alice")
        options, state = server.register_begin(
            user, resident_key_requirement=rk, user_verification=UserVerificationRequirement.REQUIRED
        )
        result = client.make_credential(options.public_key)
        auth_data = server.register_complete(state, result)
        assert auth_data.is_user_verified()
        creds.append(auth_data.credential_data)
        ok(f"register (resident key {rk.value}) verified by Fido2Server, counter {auth_data.counter}")

    last_counter = 0
    for allow in (creds, []):
        request, state = server.authenticate_begin(allow or None, user_verification=UserVerificationRequirement.REQUIRED)
        selection = client.get_assertion(request.public_key)
        response = selection.get_response(0)
        cred = server.authenticate_complete(state, creds, response)
        counter = response.response.authenticator_data.counter
        assert counter > last_counter, (counter, last_counter)
        last_counter = counter
        ok(f"authenticate ({'allow list' if allow else 'discoverable'}) verified by Fido2Server, counter {counter}")

    # PIN protocol 1 at CTAP level: token, makeCredential, packed attestation, assertion.
    proto1 = PinProtocolV1()
    token = ClientPin(ctap, proto1).get_pin_token(
        PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION, RP.id
    )
    cdh = hashlib.sha256(b"protocol-1 registration").digest()
    att = ctap.make_credential(
        cdh,
        {"id": RP.id, "name": RP.name},
        {"id": b"user-p1", "name": "bob"},
        [{"type": "public-key", "alg": -7}],
        options={"rk": True},
        pin_uv_param=proto1.authenticate(token, cdh),
        pin_uv_protocol=proto1.VERSION,
    )
    result = PackedAttestation().verify(att.att_stmt, att.auth_data, cdh)
    assert "x5c" in att.att_stmt, "basic attestation expected"
    ok(f"packed attestation: {result.attestation_type.name} with certificate chain of {len(result.trust_path)}")
    cred_data = att.auth_data.credential_data
    cdh2 = hashlib.sha256(b"protocol-1 login").digest()
    token = ClientPin(ctap, proto1).get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, RP.id)
    assertion = ctap.get_assertion(
        RP.id,
        cdh2,
        [{"type": "public-key", "id": cred_data.credential_id}],
        pin_uv_param=proto1.authenticate(token, cdh2),
        pin_uv_protocol=proto1.VERSION,
    )
    assertion.verify(cdh2, cred_data.public_key)
    ok("protocol 1: resident makeCredential (packed basic attestation verified) and getAssertion signature verified")

    # Credential management with protocol 2.
    proto2 = PinProtocolV2()
    token = ClientPin(ctap, proto2).get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, proto2, token)
    meta = cm.get_metadata()
    rps = cm.enumerate_rps()
    assert len(rps) == 1, rps
    rp_hash = rps[0][CredentialManagement.RESULT.RP_ID_HASH]
    listed = cm.enumerate_creds(rp_hash)
    assert len(listed) == 2, listed
    ok(f"credentialManagement: {meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT]} resident credentials, {len(rps)} RP, {len(listed)} listed")
    victim = listed[0][CredentialManagement.RESULT.CREDENTIAL_ID]
    cm.delete_cred(victim)
    token = ClientPin(ctap, proto2).get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, proto2, token)
    assert len(cm.enumerate_creds(rp_hash)) == 1
    ok("credentialManagement: delete_cred removed one credential")

    # Wrong PIN spends one try and is reported; changePIN works.
    try:
        ClientPin(ctap, proto2).get_pin_token("0000", ClientPin.PERMISSION.GET_ASSERTION, RP.id)
        raise AssertionError("wrong PIN accepted")
    except CtapError as e:
        assert e.code == CtapError.ERR.PIN_INVALID, e
    retries, _ = ClientPin(ctap, proto2).get_pin_retries()
    assert retries == 7, retries
    ClientPin(ctap, proto2).change_pin(PIN, "98765")
    ClientPin(ctap, proto2).get_pin_token("98765", ClientPin.PERMISSION.GET_ASSERTION, RP.id)
    ok("wrong PIN -> PIN_INVALID with 7 retries left; changePIN then token with the new PIN")

    # CTAP1/U2F on the same applet (it lists U2F_V2): python-fido2's Ctap1 over PC/SC.
    assert "U2F_V2" in ctap.get_info().versions
    u2f = Ctap1(dev)
    assert u2f.get_version() == "U2F_V2"
    app = hashlib.sha256(b"u2f.example.com").digest()
    chal = hashlib.sha256(b"u2f registration").digest()
    reg = u2f.register(chal, app)
    reg.verify(app, chal)
    try:
        u2f.authenticate(chal, app, reg.key_handle, check_only=True)
        raise AssertionError("check-only signed")
    except ApduError as e:
        assert e.code == 0x6985, hex(e.code)
    chal2 = hashlib.sha256(b"u2f login").digest()
    sig = u2f.authenticate(chal2, app, reg.key_handle)
    sig.verify(app, chal2, reg.public_key)
    assert sig.user_presence & 1, sig.user_presence
    forged = bytes([reg.key_handle[0] ^ 1]) + reg.key_handle[1:]
    try:
        u2f.authenticate(chal2, app, forged)
        raise AssertionError("forged key handle accepted")
    except ApduError as e:
        assert e.code == 0x6A80, hex(e.code)
    ok(f"U2F: version, register (attestation signature verified), check-only 6985, authenticate verified (counter {sig.counter}), forged handle 6A80")
    print("python-fido2 checks: all passed")


if __name__ == "__main__":
    main()
