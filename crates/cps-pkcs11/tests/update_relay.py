#!/usr/bin/env python3
"""Drives the official module's update extension of a PKCS#11 module through its C ABI, as
an editor relaying a remote update does: the four functions read past C_WaitForSlotEvent in
the function list (Cryptolib pkcs11.h), then the cps-update HTTP API (docs/remote-update.md).

Usage: update_relay.py MODULE URL. Prints RESULT lines; exits 1 on an unexpected code."""
import ctypes
import json
import sys
import urllib.request

module, url = sys.argv[1], sys.argv[2]
lib = ctypes.CDLL(module)
ULONG = ctypes.c_ulong
RV = ULONG
CKR_OK = 0
names = {0x54: "FUNCTION_NOT_SUPPORTED", 0x90: "OPERATION_ACTIVE",
         0x91: "OPERATION_NOT_INITIALIZED", 0x150: "BUFFER_TOO_SMALL"}


def rv_name(rv):
    return "OK" if rv == 0 else names.get(rv, hex(rv))


def check(what, rv):
    if rv != CKR_OK:
        print(f"RESULT {what}={rv_name(rv)}")
        sys.exit(1)


# CK_FUNCTION_LIST: CK_VERSION (2 bytes, padded to a pointer) then 68 function pointers
# (PKCS#11 v2.40 order), then Cryptolib's C_StartUpdate, C_EndUpdate, C_TransmitMessage,
# C_KeepAlive.
class FunctionList(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte),
                ("fns", ctypes.c_void_p * 72)]


pp = ctypes.POINTER(FunctionList)()
lib.C_GetFunctionList.argtypes = [ctypes.POINTER(ctypes.POINTER(FunctionList))]
check("C_GetFunctionList", lib.C_GetFunctionList(ctypes.byref(pp)))
fl = pp.contents
# Every name exported by the module is the pointer at its place in the table.
for i, name in [(0, "C_Initialize"), (12, "C_OpenSession"), (67, "C_WaitForSlotEvent"),
                (68, "C_StartUpdate"), (69, "C_EndUpdate"), (70, "C_TransmitMessage"),
                (71, "C_KeepAlive")]:
    if fl.fns[i] != ctypes.cast(getattr(lib, name), ctypes.c_void_p).value:
        print(f"RESULT table[{i}]!={name}")
        sys.exit(1)
print("RESULT table=ok")

F1 = ctypes.CFUNCTYPE(RV, ULONG)
start_update, end_update, keep_alive = F1(fl.fns[68]), F1(fl.fns[69]), F1(fl.fns[71])
transmit_message = ctypes.CFUNCTYPE(
    RV, ULONG, ctypes.c_char_p, ULONG, ctypes.c_char_p, ctypes.POINTER(ULONG),
    ctypes.c_ubyte)(fl.fns[70])
initialize = ctypes.CFUNCTYPE(RV, ctypes.c_void_p)(fl.fns[0])
finalize = ctypes.CFUNCTYPE(RV, ctypes.c_void_p)(fl.fns[1])
get_slot_list = ctypes.CFUNCTYPE(RV, ctypes.c_ubyte, ctypes.POINTER(ULONG),
                                 ctypes.POINTER(ULONG))(fl.fns[4])
get_token_info = ctypes.CFUNCTYPE(RV, ULONG, ctypes.c_char_p)(fl.fns[6])
open_session = ctypes.CFUNCTYPE(RV, ULONG, ULONG, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.POINTER(ULONG))(fl.fns[12])
close_session = ctypes.CFUNCTYPE(RV, ULONG)(fl.fns[13])

check("C_Initialize", initialize(None))
slots = (ULONG * 8)()
n = ULONG(8)
check("C_GetSlotList", get_slot_list(1, slots, ctypes.byref(n)))
h = ULONG()
check("C_OpenSession", open_session(slots[0], 0x4 | 0x2, None, None, ctypes.byref(h)))
h = h.value


def transmit(apdu, room=1024):
    out = ctypes.create_string_buffer(room)
    out_len = ULONG(room)
    rv = transmit_message(h, bytes(apdu), len(apdu), out, ctypes.byref(out_len), 1)
    return rv, out.raw[:out_len.value], out_len.value


select = bytes([0x00, 0xA4, 0x04, 0x00, 0x08]) + b"\xf0CPS-UPD" + b"\x00"
rv, _, _ = transmit(select)
print(f"RESULT transmit_before_start={rv_name(rv)}")
check("C_StartUpdate", start_update(h))
print(f"RESULT start_again={rv_name(start_update(h))}")
info = ctypes.create_string_buffer(512)
print(f"RESULT token_info_during_update={rv_name(get_token_info(slots[0], info))}")
# A command outside the update application (VERIFY with a PIN): refused, not sent.
rv, _, _ = transmit(bytes([0x00, 0x20, 0x00, 0x01, 0x04]) + b"1234")
print(f"RESULT verify_relayed={rv_name(rv)}")
# The two-call convention: the length first (the command is sent once), then the answer.
out_len = ULONG(0)
rv = transmit_message(h, select, len(select), None, ctypes.byref(out_len), 1)
check("C_TransmitMessage (length)", rv)
rv, small, _ = transmit(select, room=1)
print(f"RESULT too_small={rv_name(rv)}")
rv, hello, hello_len = transmit(select)
check("C_TransmitMessage (SELECT)", rv)
print(f"RESULT hello_len={hello_len == out_len.value} sw={hello[-2:].hex()}")


def post(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


reply = post("/v1/sessions", {"hello": hello[:-2].hex()})
steps = 0
while "send" in reply:
    send = reply["send"]
    check("C_KeepAlive", keep_alive(h))
    rv, answer, _ = transmit(bytes.fromhex(send["apdu"]))
    check(f"C_TransmitMessage (step {steps + 1})", rv)
    steps += 1
    reply = post(f"/v1/sessions/{send['session']}", {"response": answer.hex()})
print(f"RESULT relayed={steps}")
print("RESULT finished=" + json.dumps(reply["finished"], sort_keys=True))
check("C_EndUpdate", end_update(h))
print(f"RESULT end_again={rv_name(end_update(h))}")
check("C_CloseSession", close_session(h))
check("C_Finalize", finalize(None))
