#!/usr/bin/env python3
"""Fault-injection suite through the real PC/SC stack (pcscd + vsmartcard-vpcd).

Usage: scripts/fault_suite.py [--cps PATH] [--quick]   (FAULT_ONLY=scenario_update,... runs a subset)

Runs as root with pcscd installed and NOT running (it starts, stops and restarts its own
pcscd, by PID, and stops it on exit). Every scenario drives the `cps` binary against the
simulated CPS4 of `cps sim serve` in "Virtual PCD 00 00", with faults injected by the
simulator (hidden options --pull-at N: the card executes APDU N then leaves the reader before
answering, and is reinserted 1 s later with the same state; --freeze-at N: the card stops
answering at APDU N):

- card pulled at every APDU of `info`, `sign`, `pin change`, FIDO2 `enroll` + `register`
  and a remote update (`update`);
- pcscd stopped during `info --wait`, stopped and restarted under `sim serve`, stopped for
  good under `sim serve --reconnect-for 3`;
- two and three processes using the same card at once;
- a frozen card at every APDU of `pin verify`.

For every run it records the exit codes, the PIN tries lost (tries before minus tries after,
minus the tries the user action may spend: must be 0) and torn data (a signature file that
does not verify, a PIN that is neither the old nor the new one, an update that cannot be
finished by running it again, certificates unreadable afterwards: must be 0). It prints the
fault table and exits 1 if any run lost a try, tore data, exited 0 although the card was
pulled or frozen under it, or hung.
"""

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

READER = "Virtual PCD 00 00"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPS = os.path.join(ROOT, "target", "debug", "cps")
PIN, NEW_PIN, FIDO_PIN = "1234", "5678", "246810"
QUICK = "--quick" in sys.argv
if "--cps" in sys.argv:
    CPS = sys.argv[sys.argv.index("--cps") + 1]

problems = []
table = []
pcscd = None
WORK = tempfile.mkdtemp(prefix="cps-faults-")


def log(msg):
    print(f"fault-suite: {msg}", flush=True)


# ---- pcscd ------------------------------------------------------------------------------


def pcscd_start():
    global pcscd
    if subprocess.run(["pgrep", "-x", "pcscd"], capture_output=True).returncode == 0 and pcscd is None:
        sys.exit("fault-suite: a pcscd is already running (not ours): stop it first")
    out = open(os.path.join(WORK, "pcscd.log"), "a")
    # vpcd's reader can fail to appear ("Address already in use" in pcscd's log when its port
    # is still held): start pcscd again, for up to 70 s.
    give_up = time.time() + 70
    while True:
        pcscd = subprocess.Popen(["pcscd", "-f"], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            code, text, _, _ = run_cps(["readers"], timeout=5, card=False)
            if code == 0 and READER in text:
                return
            time.sleep(0.2)
        pcscd_stop()
        if time.time() > give_up:
            sys.exit("fault-suite: pcscd did not come up with its vpcd reader")
        log("pcscd came up without its vpcd reader: starting it again")
        time.sleep(2)


def port_free(seconds):
    """Waits until no socket uses vpcd's ports 35963/35964 (TIME-WAIT included)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with open("/proc/net/tcp") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            return
        # Column 2 is the local address, hex "0100007F:8C7B" (port 35963 = 0x8C7B).
        if not any(l.split()[1].endswith((":8C7B", ":8C7C")) for l in lines if len(l.split()) > 1):
            return
        time.sleep(1)


def pcscd_stop():
    global pcscd
    if pcscd is None:
        return
    pcscd.send_signal(signal.SIGTERM)
    try:
        pcscd.wait(10)
    except subprocess.TimeoutExpired:
        pcscd.kill()
        pcscd.wait()
    pcscd = None


# ---- cps ------------------------------------------------------------------------------


def run_cps(args, env=None, timeout=60, card=True):
    """Runs cps; returns (exit code or 'hang', stdout, stderr, seconds)."""
    full = [CPS] + (["--reader", READER, "--pin-from", "env", "--timeout", "8"] if card else []) + args
    e = dict(os.environ)
    e.update(env or {})
    started = time.time()
    try:
        p = subprocess.run(full, capture_output=True, text=True, env=e, timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.time() - started
    except subprocess.TimeoutExpired as x:
        return "hang", x.stdout or "", x.stderr or "", time.time() - started


class Sim:
    """`cps sim serve` with an optional fault."""

    def __init__(self, *extra):
        self.log = os.path.join(WORK, "sim.log")
        self.out = open(self.log, "w")
        self.p = subprocess.Popen([CPS, "sim", "serve", "--profile", "cps4", *extra],
                                  stdout=self.out, stderr=subprocess.STDOUT)
        if not wait_card(True, 10):
            self.stop()
            raise RuntimeError("the simulated card did not appear in the reader")

    def text(self):
        with open(self.log) as f:
            return f.read()

    def fired(self):
        return "fault injection: card pulled" in self.text()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        wait_card(False, 10)


def wait_card(present, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        code, out, _, _ = run_cps(["--json", "readers"], timeout=10, card=False)
        if code == 0:
            try:
                for r in json.loads(out):
                    if r.get("name") == READER and bool(r.get("card_present")) == present:
                        return True
            except ValueError:
                pass
        time.sleep(0.2)
    return False


def tries():
    code, out, err, _ = run_cps(["--json", "pin", "status"])
    if code not in (0, 7):
        return None
    try:
        return json.loads(out)["pin"]["tries_left"]
    except (ValueError, KeyError, TypeError):
        return json.loads(out).get("tries_left") if out.strip().startswith("{") else None


def fido_retries():
    code, out, _, _ = run_cps(["--json", "fido2", "info"])
    try:
        return json.loads(out).get("pin_retries")
    except ValueError:
        return None


def record(name, runs, codes, lost, torn, note=""):
    table.append((name, runs, sorted(set(map(str, codes))), lost, torn, note))
    log(f"{name}: runs={runs} exit codes={sorted(set(map(str, codes)))} tries lost={lost} torn={torn} {note}")
    if lost or torn:
        problems.append(f"{name}: tries lost {lost}, data torn {torn}")


# ---- scenarios ---------------------------------------------------------------------------


def pulled_every_apdu(name, steps, check, limit=120):
    """Pulls the card at APDU k = 1, 2, ... of `steps` (a list of (args, env)) until a run
    completes with no fault fired. `check(fired, codes)` returns (tries_lost, torn)."""
    runs, codes_seen, lost_total, torn_total = 0, [], 0, 0
    for k in range(1, limit + 1):
        sim = Sim("--pull-at", str(k))
        codes = []
        try:
            for args, env in (steps() if callable(steps) else steps):
                code, out, err, _ = run_cps(args, env)
                codes.append(code)
                if code == "hang":
                    problems.append(f"{name} pulled at APDU {k}: {args} hung")
                if code != 0:
                    break
            fired = sim.fired()
            if fired:
                # The card comes back 1 s after the pull; then the checks.
                wait_card(False, 3)
                wait_card(True, 10)
                if all(c == 0 for c in codes):
                    problems.append(f"{name} pulled at APDU {k}: exit 0 although the card was pulled")
                for c in codes:
                    if c not in (0, 3):
                        problems.append(f"{name} pulled at APDU {k}: exit {c} (expected 3), {err.strip()[:200]}")
            # Without a fault the command ran to its end; the checks would themselves hit the
            # pull point (APDU k), so they only run after a pull.
            lost, torn = check(fired, codes) if fired else (0, 0)
            if lost or torn:
                log(f"{name} pulled at APDU {k}: exit codes {codes}, tries lost {lost}, torn {torn}; "
                    f"last stderr: {err.strip()[:300]}")
        finally:
            sim.stop()
        runs += 1
        codes_seen += codes
        lost_total += lost
        torn_total += torn
        if not fired:
            if any(c != 0 for c in codes):
                problems.append(f"{name}: failed without a fault: {codes}")
            break
        if QUICK and k >= 6:
            break
    record(f"card pulled at every APDU: {name}", runs, codes_seen, lost_total, torn_total,
           f"({runs - 1} APDUs)")


def scenario_info():
    def check(fired, codes):
        t = tries()
        return (0 if t == 3 else 1), 0
    pulled_every_apdu("info", [(["info"], {})], check)


def scenario_sign():
    data = os.path.join(WORK, "doc.txt")
    with open(data, "w") as f:
        f.write("ordonnance\n")
    sig = data + ".sig"

    def steps_check(fired, codes):
        t = tries()
        torn = 0
        if os.path.exists(sig):
            code = run_cps(["verify", "--in", data, "--sig", sig])[0]
            if code != 0:
                torn = 1
            if codes and codes[-1] != 0:
                torn = 1  # a signature file left behind by a failed command
            os.remove(sig)
        elif codes and codes[-1] == 0:
            torn = 1
        return (0 if t == 3 else 1), torn
    pulled_every_apdu("sign", [(["sign", "--in", data, "--out", sig], {"CPS_PIN": PIN})], steps_check)


def scenario_pin_change():
    def check(fired, codes):
        t = tries()
        lost = 0 if t == 3 else 1
        if lost:
            log(f"(pin change: tries after = {t})")
        # The PIN must be the old or the new one, nothing else.
        new_ok = run_cps(["pin", "verify"], {"CPS_PIN": NEW_PIN})[0]
        if new_ok == 0:
            return lost, 0
        old_ok = run_cps(["pin", "verify"], {"CPS_PIN": PIN})[0]
        return lost, (0 if old_ok == 0 else 1)
    pulled_every_apdu("pin change", [(["pin", "change"], {"CPS_PIN": PIN, "CPS_NEW_PIN": NEW_PIN})], check)


def scenario_fido2():
    env = {"CPS_FIDO2_PIN": FIDO_PIN, "CPS_FIDO2_NEW_PIN": FIDO_PIN}

    def check(fired, codes):
        r = fido_retries()
        # Blank applet (pulled during enroll) has no retries; an enrolled one must be full.
        return (0 if r in (None, 8) else 1), 0
    pulled_every_apdu("fido2 enroll + register",
                      [(["fido2", "enroll"], env),
                       (["fido2", "register", "--rp", "example.org"], env)], check)


def scenario_update():
    """A renewal (new keys generated on the card, new certificates) pulled at every APDU. Each
    run gets a fresh update server (the simulated card starts at update 0 every run)."""
    state = {}

    def fresh_server():
        if "srv" in state:
            state["srv"].kill()
            state["srv"].wait()
        db = os.path.join(WORK, "upd.sqlite")
        if os.path.exists(db):
            os.remove(db)
        # The administration API needs a token signed with the server's administration key
        # (docs/remote-update.md "Administration tokens"): a random key for this run.
        key = os.urandom(32)
        key_file = os.path.join(WORK, "admin.key")
        with open(key_file, "w", encoding="ascii") as f:
            f.write(key.hex())
        expiry = str(int(time.time()) + 3600)
        tag = hmac.new(key, b"cps-update-admin v1 " + expiry.encode(), hashlib.sha256).hexdigest()
        state["auth"] = {"Authorization": f"Bearer v1.{expiry}.{tag}"}
        srv = subprocess.Popen([CPS, "update-server", "--listen", "127.0.0.1:0", "--db", db,
                                "--seed-test-cards", "--admin-key-file", key_file],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        state["srv"] = srv
        url = None
        deadline = time.time() + 20
        while time.time() < deadline and url is None:
            for word in srv.stdout.readline().split():
                if word.startswith("http://"):
                    url = word.rstrip(".,")
        if url is None:
            raise RuntimeError("the update server did not start")
        state["url"] = url
        listing = urllib.request.Request(f"{url}/v1/cards", headers=state["auth"])
        serials = json.loads(urllib.request.urlopen(listing, timeout=10).read())
        ok = 0
        for serial in serials:
            req = urllib.request.Request(f"{url}/v1/cards/{serial}/renewal", data=b"{}",
                                         method="POST",
                                         headers={"Content-Type": "application/json", **state["auth"]})
            try:
                urllib.request.urlopen(req, timeout=10).read()
                ok += 1
            except Exception:  # noqa: BLE001 - counted below
                pass
        if ok == 0:
            raise RuntimeError("no renewal could be scheduled")
        return [(["update", "--server", url], {})]

    def check(fired, codes):
        url = state["url"]
        torn = 0
        # Resume: running it again must finish the update, and a third run finds nothing.
        again = run_cps(["update", "--server", url], timeout=120)
        third = run_cps(["update", "--server", url], timeout=120)
        if again[0] != 0 or third[0] != 0 or "up to date" not in third[1]:
            log(f"(update resume: {again[0]} {again[2].strip()[:200]} / {third[0]} {third[1].strip()[:100]})")
            torn = 1
        code, out, _, _ = run_cps(["--json", "info"])
        try:
            if code != 0 or json.loads(out)["iasecc"]["unreadable_certificates"]:
                torn = 1
        except (ValueError, KeyError):
            torn = 1
        t = tries()
        return (0 if t == 3 else 1), torn

    try:
        pulled_every_apdu("update (renewal)", fresh_server, check)
    finally:
        if "srv" in state:
            state["srv"].kill()
            state["srv"].wait()


def scenario_pcscd():
    # (a) pcscd stopped during `info --wait`: exit 3, "PC/SC service stopped".
    codes = []
    for _ in range(1 if QUICK else 3):
        p = subprocess.Popen([CPS, "--reader", READER, "--wait", "20", "info"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        pcscd_stop()
        try:
            out, err = p.communicate(timeout=30)
            codes.append(p.returncode)
            if p.returncode != 3 or "PC/SC service stopped" not in err and "PC/SC service unavailable" not in err:
                problems.append(f"pcscd stopped during info --wait: exit {p.returncode}: {err.strip()[:200]}")
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append("hang")
            problems.append("pcscd stopped during info --wait: hang")
        pcscd_start()
    record("pcscd stopped during info --wait", len(codes), codes, 0, 0)

    # (b) sim serve survives a pcscd restart: the same card (same tries) is back.
    codes = []
    sim = Sim()
    lost = 0
    try:
        run_cps(["pin", "verify"], {"CPS_PIN": "0000"})  # one wrong try, on purpose
        before = tries()
        for _ in range(1 if QUICK else 2):
            pcscd_stop()
            time.sleep(1)
            pcscd_start()
            back = wait_card(True, 15)
            codes.append(0 if back else "card not back")
            if not back:
                problems.append("sim serve did not come back after pcscd restarted")
        after = tries()
        # Unknown when the card is not back (reported above as a problem).
        lost = 0 if after is None or after == before else 1
    finally:
        sim.stop()
    record("pcscd stopped and restarted under sim serve", len(codes), codes, lost, 0,
           "(card back in the reader)")

    # (c) sim serve gives up when pcscd does not come back: exit 3.
    sim = Sim("--reconnect-for", "3")
    pcscd_stop()
    try:
        code = sim.p.wait(20)
    except subprocess.TimeoutExpired:
        code = "hang"
        sim.p.kill()
    sim.out.close()
    if code != 3:
        problems.append(f"sim serve after pcscd stopped for good: exit {code}")
    pcscd_start()
    record("pcscd stopped for good under sim serve --reconnect-for 3", 1, [code], 0, 0)


def scenario_concurrent():
    codes, lost = [], 0
    sim = Sim()
    try:
        for n in (2, 3):
            for _ in range(1 if QUICK else 3):
                procs = []
                for i in range(n):
                    args = ["pin", "verify"] if i % 2 == 0 else ["info"]
                    full = [CPS, "--reader", READER, "--pin-from", "env", "--timeout", "8"] + args
                    procs.append(subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                  env=dict(os.environ, CPS_PIN=PIN), text=True))
                for p in procs:
                    try:
                        p.wait(60)
                        codes.append(p.returncode)
                        if p.returncode not in (0, 4):
                            problems.append(f"{n} processes: exit {p.returncode}: {p.stderr.read().strip()[:200]}")
                    except subprocess.TimeoutExpired:
                        p.kill()
                        codes.append("hang")
                        problems.append(f"{n} processes: hang")
                if tries() != 3:
                    lost += 1
    finally:
        sim.stop()
    record("two and three processes on the same card", len(codes), codes, lost, 0)


def scenario_frozen():
    codes = []
    for k in range(1, 4 if QUICK else 12):
        sim = Sim("--freeze-at", str(k))
        try:
            code, out, err, secs = run_cps(["pin", "verify"], {"CPS_PIN": PIN}, timeout=60)
            codes.append(code)
            if code == 0:
                # The freeze point is past the command: done.
                sim.stop()
                break
            if code != 3 or secs > 15 or "did not answer" not in err:
                problems.append(f"frozen at APDU {k}: exit {code} after {secs:.1f} s: {err.strip()[:200]}")
        finally:
            sim.stop()
    record("frozen card at every APDU of pin verify (--timeout 8)", len(codes), codes, 0, 0,
           "(tries not measurable: the frozen card is discarded)")


def scenario_ctrl_c():
    """Ctrl-C (SIGINT) while waiting for a card: exit 1, "cancelled (Ctrl-C)"; Ctrl-C to
    `sim serve`: the card is removed cleanly, exit 0."""
    codes = []
    p = subprocess.Popen([CPS, "--reader", READER, "--wait", "20", "info"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=10)
        codes.append(p.returncode)
        if p.returncode != 1 or "cancelled (Ctrl-C)" not in err:
            problems.append(f"Ctrl-C during --wait: exit {p.returncode}: {err.strip()[:200]}")
    except subprocess.TimeoutExpired:
        p.kill()
        codes.append("hang")
        problems.append("Ctrl-C during --wait: hang")
    sim = Sim()
    sim.p.send_signal(signal.SIGINT)
    try:
        code = sim.p.wait(10)
    except subprocess.TimeoutExpired:
        code = "hang"
    codes.append(code)
    if code != 0 or not wait_card(False, 5):
        problems.append(f"Ctrl-C to sim serve: exit {code}")
    sim.stop()
    record("Ctrl-C during --wait, then to sim serve", 2, codes, 0, 0)


def main():
    if not os.access(CPS, os.X_OK):
        sys.exit(f"fault-suite: {CPS} not built (cargo build -p cps-cli)")
    pcscd_start()
    try:
        only = os.environ.get("FAULT_ONLY", "").split(",")  # e.g. FAULT_ONLY=scenario_update
        for s in (scenario_info, scenario_pin_change, scenario_sign, scenario_fido2,
                  scenario_update, scenario_concurrent, scenario_frozen, scenario_ctrl_c,
                  scenario_pcscd):
            if only != [""] and s.__name__ not in only:
                continue
            try:
                s()
            except Exception as e:  # noqa: BLE001 - a scenario crashing is a failure
                problems.append(f"{s.__name__}: {type(e).__name__}: {e}")
                log(f"{s.__name__} crashed: {e}")
    finally:
        pcscd_stop()
        # Leave the ports usable for the next pcscd (other test runs on this machine).
        port_free(70)
    print("\n| scenario | runs | exit codes seen | tries lost | data torn |")
    print("|---|---|---|---|---|")
    for name, runs, codes, lost, torn, note in table:
        print(f"| {name} {note} | {runs} | {', '.join(codes)} | {lost} | {torn} |")
    if problems:
        print("\nPROBLEMS:")
        for p in problems:
            print(f"- {p}")
        sys.exit(1)
    print("\nno try lost, no data torn, every failure exited non-zero")


if __name__ == "__main__":
    main()
