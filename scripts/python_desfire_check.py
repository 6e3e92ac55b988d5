#!/usr/bin/env python3
"""Drives the simulated CPS4 contactless interface with python-desfire 0.1.5 (PyPI; an
implementation no one in this project wrote) through pyscard and pcscd. python-desfire sends
native DESFire frames straight through SCardTransmit (`60`, `AF`, `5A aid`, `1A 00`, ...).

Usage: python_desfire_check.py READER UID AID SYSTEM_ID KEY_NO FILE_NO HOLDER
with the door master key in the environment (CPS_DESFIRE_DOOR_MASTER_KEY, hex), never on
the command line. The card must carry a badge provisioned by `cps desfire provision` with a
door profile in `mac` mode: python-desfire 0.1.5 strips trailing zero bytes before checking
the CRC of an enciphered answer, which fails when the CRC itself ends with 00 (1 in 256).

Prints one line per check and "python-desfire checks: all passed" at the end; exits 1 on the
first failure.
"""

import os
import sys

from smartcard.System import readers

from desfire import DESFire, DESFireKey, PCSCDevice, diversify_key
from desfire.enums import DESFireCommunicationMode, DESFireFileType, DESFireKeyType
from desfire.exceptions import DESFireCommunicationError, DESFireException
from desfire.schemas import FileSettings, KeySettings


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        sys.exit(1)


def main():
    reader_name, uid_hex, aid_hex, sys_hex, key_no, file_no, holder = sys.argv[1:8]
    key_no, file_no = int(key_no), int(file_no)
    uid = list(bytes.fromhex(uid_hex))
    # The AID on the wire is little-endian (F51001 is sent 01 10 F5).
    aid = list(bytes.fromhex(aid_hex))[::-1]
    system_id = list(bytes.fromhex(sys_hex))
    door_master = list(bytes.fromhex(os.environ["CPS_DESFIRE_DOOR_MASTER_KEY"]))

    reader = next(r for r in readers() if str(r) == reader_name)
    connection = reader.createConnection()
    connection.connect()
    card = DESFire(PCSCDevice(connection.component))

    # 1. GetVersion: the native 1-byte `60`, then `AF`, `AF`.
    version = card.get_card_version()
    check(
        "GetVersion (native 60 / AF / AF)",
        version.hardware_vendor_id == 0x04
        and version.hardware_type == 0x01
        and version.hardware_major_version == 0x33
        and version.uid == uid,
        f"vendor {version.hardware_vendor_id:02X}, HW {version.hardware_major_version:02X}, "
        f"UID {bytes(version.uid).hex().upper()}",
    )

    # 2. GetApplicationIDs, unauthenticated (the PICC key settings allow listing).
    apps = card.get_application_ids()
    check(
        "GetApplicationIDs",
        aid in apps,
        " ".join(bytes(a[::-1]).hex().upper() for a in apps),
    )

    # 3. PICC authentication with the delivered key (all-zero DES, AuthenticateISO 1A), then
    #    the application list again, its CMAC checked with the DES session key.
    picc_key = DESFireKey(KeySettings(key_type=DESFireKeyType.DF_KEY_2K3DES), [0] * 8)
    card.authenticate(0x00, picc_key)
    check("PICC authentication with the default key (1A)", card.is_authenticated)
    apps_mac = card.get_application_ids()
    check("GetApplicationIDs with its CMAC verified", apps_mac == apps)

    # 4. The badge: its application, the door key diversified here (AN10922:
    #    01 || UID || AID || key number || system identifier), AuthenticateAES, ReadData in
    #    MAC mode as the door profile says.
    card.select_application(aid)
    m = [0x01] + uid + aid + [key_no] + system_id
    door_key = diversify_key(door_master, m)
    key = DESFireKey(KeySettings(key_type=DESFireKeyType.DF_KEY_AES), door_key)
    card.authenticate(key_no, key)
    check("AuthenticateAES with the diversified door key (AA)", card.is_authenticated)
    settings = FileSettings(
        encryption=DESFireCommunicationMode.CMAC,
        file_type=DESFireFileType.MDFT_BACKUP_DATA_FILE,
        file_size=32,
    )
    data = bytes(card.read_file_data(file_no, settings))
    n = data[5] if len(data) == 32 else 0
    read_holder = data[6 : 6 + n].decode("ascii", "replace")
    check(
        "ReadData of the badge (CMAC verified)",
        data[:5] == b"CPSB\x01" and read_holder == holder,
        f"holder {read_holder}, valid {int.from_bytes(data[24:28], 'big')} to "
        f"{int.from_bytes(data[28:32], 'big')}",
    )

    # 5. Negative: the all-zero AES key is not the door key.
    card.select_application(aid)
    try:
        card.authenticate(key_no, DESFireKey(KeySettings(key_type=DESFireKeyType.DF_KEY_AES), [0] * 16))
        check("a wrong door key is refused", False, "authenticated")
    except DESFireCommunicationError as e:
        check("a wrong door key is refused", e.status_code == 0xAE, f"status {e.status_code:02X} {e}")
    except DESFireException as e:
        check("a wrong door key is refused", False, f"unexpected {e!r}")

    # 6. Negative: an application that is not there.
    try:
        card.select_application([0x01, 0x02, 0x03])
        check("SelectApplication of a missing AID is refused", False)
    except DESFireCommunicationError as e:
        check(
            "SelectApplication of a missing AID is refused",
            e.status_code == 0xA0,
            f"status {e.status_code:02X} {e}",
        )

    connection.disconnect()
    print("python-desfire checks: all passed")


if __name__ == "__main__":
    main()
