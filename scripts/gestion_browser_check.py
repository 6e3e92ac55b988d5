#!/usr/bin/env python3
"""`cps gestion` in a real headless browser: Debian's Firefox ESR driven through its
remote protocol (Marionette: length-prefixed JSON over TCP; the small client is below, the
standard library only).

    gestion_browser_check.py CPS_BINARY SCREENSHOT_DIR --update-url URL
                             [--reader NAME --serve-port PORT]

URL is a running `cps update-server` (seeded) with a pending update for dr-martin's CPS4
(crates/cps-cli/tests/gestion.rs starts it and schedules the renewal).

With --reader, the card is a simulated CPS4 inserted into pcscd's virtual reader NAME by
`cps sim serve --port PORT` (this script starts it), so that the FIDO2 enrolment can be
checked afterwards by a separate FIDO2 client (`cps fido2 info`) and the card can be pulled
and inserted again; without it, `cps gestion --sim cps4` (the pull/insert and the separate
FIDO2 check are then not run, and the script says so).

Checks, each printed as `ok: ...`; any failure exits 1:
  Card    the simulated holder's name, profession, PIN tries and the certificate timeline;
  PIN     a change, then a wrong PIN showing 2 tries left (and the PIN page saying so);
  Update  through `cps update-server` (seeded, a renewal scheduled), to completion, the
          progress bar seen moving;
  FIDO2   enrolment from the page sets the applet PIN;
  presence the card pulled then inserted: the page follows within a second;
  security a page of another origin cannot call the API (Origin refused, PIN untouched), a
          rebound host name gets the refusal, the page runs under its CSP; English page.
Screenshots of each page go to SCREENSHOT_DIR (gestion-card.png, ...).
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import http.server

FIREFOX_CANDIDATES = ["firefox-esr", "firefox"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Marionette:
    """A minimal Marionette client (protocol 3)."""

    def __init__(self, port, timeout=60):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.sock.settimeout(60)
        self.buf = b""
        self.next_id = 0
        hello = self._read()
        assert hello.get("marionetteProtocol") == 3, hello

    def _read(self):
        while b":" not in self.buf:
            self._fill()
        length, _, rest = self.buf.partition(b":")
        length = int(length)
        self.buf = rest
        while len(self.buf) < length:
            self._fill()
        msg, self.buf = self.buf[:length], self.buf[length:]
        return json.loads(msg)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("Marionette closed the connection")
        self.buf += chunk

    def call(self, name, params=None):
        self.next_id += 1
        data = json.dumps([0, self.next_id, name, params or {}]).encode()
        self.sock.sendall(str(len(data)).encode() + b":" + data)
        while True:
            msg = self._read()
            if msg[0] == 1 and msg[1] == self.next_id:
                if msg[2]:
                    raise RuntimeError(f"{name}: {msg[2]}")
                return msg[3]

    def js(self, script, *args):
        return self.call("WebDriver:ExecuteScript", {"script": script, "args": list(args)}).get("value")

    def go(self, url):
        self.call("WebDriver:Navigate", {"url": url})

    def shot(self, path):
        png = self.call("WebDriver:TakeScreenshot", {"full": True, "hash": False})["value"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(png))

    def wait(self, script, what, timeout=20, *args):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.js(script, *args)
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def text(m, element_id):
    return m.js("const e = document.getElementById(arguments[0]); return e ? e.textContent : null;", element_id)


def fill_and_submit(m, form_id, values):
    m.js(
        """
        const f = document.getElementById(arguments[0]);
        for (const [k, v] of Object.entries(arguments[1])) f.elements[k].value = v;
        f.requestSubmit();
        """,
        form_id,
        values,
    )


def ok(what):
    print(f"ok: {what}", flush=True)


def read_first_line(proc, what, timeout=30):
    result = []

    def reader():
        result.append(proc.stdout.readline().decode().strip())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    if not result or not result[0]:
        raise AssertionError(f"{what} printed no URL")
    return result[0]


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cps, shots = args[0], args[1]
    reader = None
    serve_port = None
    update_url = args[args.index("--update-url") + 1]
    if "--reader" in args:
        reader = args[args.index("--reader") + 1]
        serve_port = args[args.index("--serve-port") + 1]
    firefox = next((shutil.which(c) for c in FIREFOX_CANDIDATES if shutil.which(c)), None)
    if not firefox:
        print("FAIL: firefox-esr not found (apt-get install firefox-esr)", file=sys.stderr)
        return 3
    os.makedirs(shots, exist_ok=True)
    work = tempfile.mkdtemp(prefix="cps-gestion-browser-")
    procs = []

    def start(cmd, **kw):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)
        procs.append(p)
        return p

    served = None
    try:
        card_args = ["--sim", "cps4"]
        if reader:
            served = start([cps, "sim", "serve", "--profile", "cps4", "--port", serve_port],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_card(cps, reader, True)
            card_args = ["--reader", reader]
        gestion = start(
            [cps, *card_args, "gestion", "--no-browser", "--update-server", update_url,
             "--idle-exit", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        url = read_first_line(gestion, "cps gestion")
        assert url.startswith("http://127.0.0.1:"), url
        authority = url.split("/")[2]
        port = authority.split(":")[1]

        # Firefox ESR, headless, its own profile, French first.
        marionette_port = free_port()
        profile = os.path.join(work, "profile")
        os.makedirs(profile)
        with open(os.path.join(profile, "user.js"), "w") as f:
            for k, v in {
                "marionette.port": marionette_port,
                "intl.accept_languages": "fr-FR, fr, en",
                "network.dns.localDomains": "rebind.example",
                "browser.shell.checkDefaultBrowser": False,
                "browser.startup.homepage_override.mstone": "ignore",
                "datareporting.policy.dataSubmissionEnabled": False,
                "toolkit.telemetry.reporterEnabled": False,
                "app.update.disabledForTesting": True,
                "network.proxy.type": 0,
                "browser.aboutwelcome.enabled": False,
            }.items():
                f.write(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n")
        env = dict(os.environ, MOZ_HEADLESS="1")
        start([firefox, "--headless", "--marionette", "-remote-allow-system-access", "--no-remote",
               "--profile", profile],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        m = Marionette(marionette_port)
        m.call("WebDriver:NewSession", {"capabilities": {}})
        m.call("WebDriver:SetWindowRect", {"width": 1100, "height": 1000})
        ok("Firefox ESR (headless) driven through Marionette")

        # ----- Card -----
        m.go(url)
        m.wait("return document.getElementById('card-facts').textContent.includes('MARTIN')",
               "the holder on the Card page")
        facts = text(m, "card-facts")
        assert "DR Claire Anne MARTIN" in facts, facts
        assert "Médecin" in facts and "3 essai(s) restant(s)" in facts, facts
        timelines = m.js("return document.querySelectorAll('#certs svg.timeline').length")
        assert timelines == 2, timelines
        labels = m.js("return [...document.querySelectorAll('#certs svg text')].map(t => t.textContent)")
        assert any(l.startswith("aujourd'hui") for l in labels), labels
        assert any(l.startswith("expiration") for l in labels), labels
        verdicts = m.js("return [...document.querySelectorAll('#certs .verdict')].map(v => v.textContent)")
        assert all(v.startswith("valide jusqu'au") for v in verdicts), verdicts
        assert m.js("return document.documentElement.lang") == "fr"
        # The "simulated card" badge only for the built-in simulator (a served card is a
        # card in a reader for the page).
        badge = m.js("return getComputedStyle(document.getElementById('simulated')).display")
        assert (badge == "none") == bool(reader), badge
        m.shot(os.path.join(shots, "gestion-card.png"))
        ok(f"Card page: holder, profession, PIN tries, {timelines} certificate timelines, verdicts {verdicts}")

        # ----- PIN -----
        m.go(url + "#pin")
        m.wait("return document.getElementById('pin-tries').textContent.includes('3')", "PIN tries")
        fill_and_submit(m, "change-form", {"pin": "1234", "new_pin": "4321", "new_pin2": "4321"})
        m.wait("return document.getElementById('pin-msg').textContent.includes('changé')", "PIN changed")
        # The old PIN is now wrong: 2 tries left, said by the message and the counter.
        fill_and_submit(m, "change-form", {"pin": "1234", "new_pin": "5678", "new_pin2": "5678"})
        m.wait("return document.getElementById('pin-msg').textContent.includes('2 essai')",
               "wrong PIN with 2 tries left")
        m.wait("return document.getElementById('pin-tries').textContent.includes('2 essai')",
               "the counter at 2")
        m.shot(os.path.join(shots, "gestion-pin.png"))
        # A mistyped confirmation sends nothing: still 2.
        fill_and_submit(m, "change-form", {"pin": "4321", "new_pin": "5678", "new_pin2": "5679"})
        m.wait("return document.getElementById('pin-msg').textContent.includes('diffèrent')", "refused locally")
        values = m.js("return [...document.querySelectorAll('input[type=password]')].map(i => i.value).join('')")
        assert values == "", "the page keeps no PIN in its fields"
        fill_and_submit(m, "change-form", {"pin": "4321", "new_pin": "1234", "new_pin2": "1234"})
        m.wait("return document.getElementById('pin-msg').textContent.includes('changé')", "changed back")
        # After a right PIN the card counts 3 tries again and reports the PIN verified.
        m.wait("return document.getElementById('pin-tries').textContent.includes('vérifié')",
               "the PIN verified")
        ok("PIN page: change, then a wrong PIN shows 2 tries left; the right one is accepted")

        # ----- Update -----
        m.go(url + "#update")
        m.wait("return document.getElementById('update-form').elements.server.value.length > 0",
               "the update service field")
        assert m.js("return document.getElementById('update-form').elements.server.value") == update_url
        m.js("""
            window.__bar = [];
            const bar = document.getElementById('update-progress');
            const seen = () => { window.__bar.push([bar.value, bar.max]); };
            new MutationObserver(seen).observe(bar, { attributes: true });
            window.__poll = setInterval(seen, 10);
        """)
        m.js("document.getElementById('update-form').requestSubmit()")
        m.wait("return document.getElementById('update-msg').textContent.includes('Mise à jour terminée')",
               "the update done", timeout=120)
        bar = m.js("clearInterval(window.__poll); return window.__bar")
        final = m.js("const b = document.getElementById('update-progress'); return [b.value, b.max]")
        assert final[0] == final[1] and final[1] > 1, final
        partway = [v for v, mx in bar if 0 < v < mx]
        assert partway, f"the bar never showed a step part-way: {bar}"
        m.shot(os.path.join(shots, "gestion-update.png"))
        ok(f"Update page: to completion through cps update-server, bar seen at {sorted(set(partway))} of {final[1]}")

        # ----- FIDO2 -----
        m.go(url + "#fido2")
        m.wait("return document.getElementById('fido2-state').textContent.includes('vierge')", "a blank applet")
        fill_and_submit(m, "enroll-form", {"new_pin": "fido-2468", "new_pin2": "fido-2468"})
        m.wait("return document.getElementById('fido2-msg').textContent.includes('défini')", "FIDO2 PIN set")
        m.wait("return document.getElementById('fido2-state').textContent.includes('8 essai')", "8 tries")
        fill_and_submit(m, "creds-form", {"pin": "fido-2468"})
        m.wait("return document.getElementById('creds').textContent.includes('Aucun')", "no credential yet")
        m.shot(os.path.join(shots, "gestion-fido2.png"))
        if reader:
            out = subprocess.run([cps, "--reader", reader, "fido2", "info", "--json"],
                                 capture_output=True, timeout=60)
            info = json.loads(out.stdout)
            assert info.get("enrolled") is True and info.get("pin_retries") == 8, info
            ok("FIDO2 page: enrolment set the applet PIN (checked by `cps fido2 info` on the reader)")
        else:
            ok("FIDO2 page: enrolment set the applet PIN (page state; no reader: no separate client check)")

        # ----- Card pulled and inserted -----
        if reader:
            m.go(url + "#card")
            m.wait("return document.body.dataset.card === 'present'", "card present")
            served.kill()
            served.wait()
            t0 = time.time()
            m.wait("return document.body.dataset.card === 'absent'", "the page seeing the card pulled", timeout=5)
            pulled = time.time() - t0
            assert pulled < 1.5, pulled
            assert "Aucune carte" in text(m, "status")
            served = start([cps, "sim", "serve", "--profile", "cps4", "--port", serve_port],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            m.wait("return document.body.dataset.card === 'present'", "the card inserted", timeout=15)
            m.wait("return document.getElementById('card-facts').textContent.includes('MARTIN')",
                   "the holder again", timeout=10)
            ok(f"presence: the page showed the pulled card after {pulled:.2f} s, and the card inserted again")
        else:
            ok("presence: not checked (no reader: run with --reader under pcscd)")

        # ----- Security -----
        # A page of another origin (another local server) calls the API: the browser sends
        # its Origin and the server refuses; the PIN keeps its tries.
        m.go(url + "#pin")
        m.wait("return document.getElementById('pin-tries').textContent.length > 0", "PIN state")
        pin_before = text(m, "pin-tries")
        other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
        threading.Thread(target=other.serve_forever, daemon=True).start()
        m.go(f"http://127.0.0.1:{other.server_address[1]}/")
        result = m.call("WebDriver:ExecuteAsyncScript", {"script": """
            const done = arguments[arguments.length - 1];
            const base = arguments[0];
            const out = {};
            fetch(base + 'api/card').then(r => { out.cors_read = r.status; })
              .catch(e => { out.cors_read = 'blocked'; })
              .then(() => fetch(base + 'api/pin/change', { method: 'POST', mode: 'no-cors',
                   headers: { 'Content-Type': 'text/plain' }, body: '{"pin":"0000","new_pin":"9999"}' }))
              .then(r => { out.post = r.type; }, e => { out.post = 'error'; })
              .then(() => done(out));
        """, "args": [url]})["value"]
        assert result["cors_read"] == "blocked", result
        other.shutdown()
        m.go(url + "#pin")
        m.wait("return document.getElementById('pin-tries').textContent.length > 0", "PIN state")
        pin_after = text(m, "pin-tries")
        assert pin_after == pin_before, (pin_before, pin_after)
        ok(f"security: another origin cannot read the card nor spend a PIN try ({result})")
        # DNS rebinding: a name resolving to this address is refused.
        m.go(url.replace("127.0.0.1", "rebind.example"))
        body = m.js("return document.body ? document.body.textContent : ''")
        assert "Host refused" in body, body
        ok("security: a rebound host name gets the Host refusal")
        # The CSP holds: an inline script injected into the page does not run.
        m.go(url)
        m.wait("return document.getElementById('card-facts').textContent.includes('MARTIN')", "the page")
        ran = m.js("""
            window.__inline = false;
            const s = document.createElement('script');
            s.textContent = 'window.__inline = true;';
            document.head.appendChild(s);
            return window.__inline;
        """)
        assert ran is False, "inline script ran despite the CSP"
        ok("security: the Content-Security-Policy blocks inline script")
        # English.
        m.call("Marionette:SetContext", {"value": "chrome"})
        m.js("Services.prefs.setStringPref('intl.accept_languages', 'en-US, en');")
        m.call("Marionette:SetContext", {"value": "content"})
        m.go(url + "#card")
        m.call("WebDriver:Refresh")
        m.wait("return document.getElementById('card-facts').textContent.includes('MARTIN')", "the page")
        assert m.js("return document.documentElement.lang") == "en"
        verdicts = m.js("return [...document.querySelectorAll('#certs .verdict')].map(v => v.textContent)")
        assert all(v.startswith("valid until") for v in verdicts), verdicts
        m.shot(os.path.join(shots, "gestion-card-en.png"))
        ok("English page follows the browser's language")
        try:
            m.call("Marionette:Quit", {"flags": ["eForceQuit"]})
        except (ConnectionError, RuntimeError, OSError):
            pass
        print("all browser checks passed")
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(work, ignore_errors=True)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """The other origin's page: empty HTML."""

    def do_GET(self):
        body = b"<!DOCTYPE html><title>other site</title><p>another origin</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def wait_for_card(cps, reader, present, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run([cps, "readers", "--json"], capture_output=True, timeout=30)
        try:
            for r in json.loads(out.stdout):
                if r.get("name") == reader and bool(r.get("card_present")) == present:
                    return
        except (ValueError, AttributeError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{reader}: card {'present' if present else 'absent'} not seen")


if __name__ == "__main__":
    sys.exit(main())
