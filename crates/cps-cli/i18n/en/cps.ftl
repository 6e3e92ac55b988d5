# The words of the `cps` command in English. The French catalogue (../fr/cps.ftl) defines the
# same messages: a test fails when one is missing. Message ids: kebab-case, grouped by where
# they are used. JSON output never uses these (stable English keys and codes).

## Secrets (src/secret.rs)

secret-pin = holder PIN
secret-new-pin = new holder PIN
secret-puk = PUK (unblocking code)
secret-fido2-pin = FIDO2 PIN
secret-fido2-new-pin = new FIDO2 PIN
secret-desfire-key = DESFire key (hex)
# A prompt on the terminal: "holder PIN:" (the code adds one space).
prompt = { $what }:
prompt-again = { $what } (again):
secret-env-missing = --pin-from env: set { $var } to the { $what }
secret-read-failed = reading the { $what }: { $error }
secret-stdin-ended = --pin-from stdin: standard input ended before the { $what }
secret-no-terminal = cannot ask the { $what } on a terminal ({ $error }): use --pin-from stdin or --pin-from env
secret-differ = the two { $what }s differ: nothing was sent to the card

## Errors and advice (src/main.rs, src/advice.rs)

error-wrong-pin = wrong PIN ({ $sw }): { $n } tries left
error-wrong-pin-now-blocked = wrong PIN ({ $sw }): 0 tries left (the PIN is now blocked)
error-pin-blocked = PIN blocked (6983)
error-wrong-puk = wrong PUK ({ $sw }): { $n } tries left
error-wrong-puk-now-blocked = wrong PUK ({ $sw }): 0 tries left (the PUK is now blocked)
error-puk-blocked = PUK blocked (6983): the PIN can no longer be unblocked
error-with-advice = { $message }: { $advice }
error-partly-unread = part of the card could not be read ({ $what })
ctrl-c = Ctrl-C: stopping after the current card command (Ctrl-C again to quit at once)
advice-pcsc-library = readers need the PC/SC library and service: install the Debian packages libpcsclite1 and pcscd (`apt-get install libpcsclite1 pcscd`); the simulated card works without them (commands without --reader)
advice-start-pcscd = start pcscd (e.g. `systemctl start pcscd.socket`)
advice-pcscd-again = start pcscd again and retry
advice-no-reader = plug one in, or use the simulator (--sim cps4)
advice-see-readers = see `cps readers`
advice-insert-card = insert the card
advice-card-reset = run the command again (it selects the application again)
advice-reinsert = reinsert the card
advice-insert-any = insert a card (see `cps readers`)
advice-not-cps = insert a CPS3 or CPS4 card, or check the reader
advice-unblock = unblock it with the PUK (cps pin unblock)
advice-ask-again = the library never retries: ask the holder again
advice-replace-card = the card must be replaced
advice-check-puk = check the unblocking code sent with the card
advice-verify-first = verify the PIN first
advice-see-certs = see the keys and certificates with `cps certs`
advice-contact-reader = insert the card in a contact reader

## Card selection (src/opts.rs)

## Where the card is (the simulator's card, or a reader named in quotes).
origin-simulator = built-in simulator ({ $generation } of { $persona }, { $interface })
origin-contact = contact
origin-contactless = contactless
origin-reader = reader { $name }

sim-notice-asked = SIMULATED CARD, not a real card: { $origin } (--sim)
sim-notice-no-pcsc = SIMULATED CARD, not a real card: { $origin }, used because no PC/SC service runs (start pcscd for a real card)
replay-notice = REPLAYED TRACE, not a card: the answers come from { $file }
wait-card-in = a card in { $reader }
wait-any-reader = a card in any reader
wait-progress = waiting for { $what }... { $elapsed } s / { $timeout } s (Ctrl-C to give up)
wait-start = waiting up to { $timeout } s for { $what }...
no-reader-found = no smart-card reader found (the PC/SC service runs): plug a reader in, or use the built-in simulated card with --sim cps4
no-card-in-readers = no card in any reader{ $readers }: insert the card (--wait waits for it), or use the built-in simulated card with --sim cps4
several-cards = { $count } readers hold a card: { $readers }; choose one with --reader NAME or --reader NUMBER (`cps readers` lists them)

## cps info, cps identity, cps pin (src/info.rs, src/pin.rs)

label-card = card
label-atr = ATR
label-interface = interface
label-generation = generation
label-family = family
label-serial = serial
label-holder = holder
label-pin = PIN
label-puk = PUK
label-certificates = certificates
label-card-family = card family
label-national-id = national id
label-profession = profession
label-speciality = speciality
label-student = student
label-situations = situations
label-situation = situation { $index }
generation-from = { $generation } (from { $source })
detected-by-atr = the ATR
detected-by-efatr = EF.ATR
detected-by-chipdoc = the ChipDoc applet answering on logical channel 1
presence-present = present, { $what }
presence-other = { $state }: { $reason }
state-absent = absent
state-not-checked = not checked
state-failed = failed
fido2-enrolled = enrolled
fido2-blank = blank
cert-unreadable = { $label }: unreadable ({ $reason })
test-pki-notice = (certificates of the cps-rs TEST PKI: never trust them outside tests)
renewal-valid = valid until { $until } ({ $days } days left)
renewal-due = valid until { $until } ({ $days } days left), RENEWAL DUE ({ $why })
renewal-expired = EXPIRED on { $until } ({ $days } days ago)
renewal-not-yet-valid = NOT YET VALID (in { $days } days)
reason-expires-soon = expires soon
reason-three-year-mark = three-year mark
usage-authentication = authentication
usage-signature = signature
usage-other = other
pin-verified = verified
pin-not-verified = not verified, { $n } tries left
pin-blocked = blocked
# Used inside sentences; English keeps "1 tries left" as before (scripts may match it).
pin-tries-left = { $n } tries left
yes = yes
national-id-type = { $id } (type { $kind })
situations-not-read = not read (billing data: `{ $command } --situations` asks the PIN)
situation-structure = , structure { $id }
pin-result-verified = PIN verified
pin-result-changed = PIN changed
pin-result-unblocked = PIN unblocked and replaced

## cps doctor (src/info.rs; the checks come typed from cps::doctor)

doctor-tag-ok = [ ok ]
doctor-tag-warning = [warn]
doctor-tag-failure = [FAIL]
doctor-tag-not-checked = [ -- ]
doctor-line = { $tag } { $item }: { $detail }
doctor-summary = { $ok } ok, { $warnings } warning(s), { $failures } failure(s), { $not_checked } not checked
doctor-item-pcsc = PC/SC service
doctor-item-readers = readers
doctor-item-reader = reader { $name }
doctor-item-contactless = contactless reader
doctor-item-card = card
doctor-item-generation = card generation
doctor-item-iasecc = IAS-ECC application
doctor-item-pin = holder PIN
doctor-item-certificates = certificates
doctor-item-certificates-readable = certificates readable
doctor-item-certificate = certificate { $label } ({ $usage })
doctor-item-fido2 = FIDO2 applet
doctor-item-desfire = DESFire
doctor-simulator = built-in simulator in use: the PC/SC stack was not used (run `cps doctor --reader auto` with the card in a reader to check it)
doctor-lost-card = lost the card: { $error }
doctor-pcscd-reachable = pcscd reachable
doctor-no-reader = no smart-card reader found
doctor-reader-card = card present, { $interface } interface
doctor-reader-empty = no card (its interface shows once a card is in it)
doctor-no-contactless = no card seen through a contactless interface: the DESFire side (building access) of the CPS4 was not reached
doctor-card-found = { $origin }, { $interface } interface
doctor-cps4 = CPS4
doctor-cps3 = CPS3: no FIDO2 applet, and its contactless side (MIFARE Classic) is not carried over to CPS4
doctor-iasecc = { $family } card { $serial } of { $holder } ({ $national_id })
doctor-pin-few-tries = { $n } tries left (wrong PINs were typed)
doctor-no-certificate = no certificate on the card
doctor-certificates-count = { $readable } readable, { $unreadable } unreadable
doctor-cert-valid = valid until { $until } ({ $days } days left)
doctor-cert-renewal-due = valid until { $until } ({ $days } days left): renewal due ({ $why })
doctor-reason-three-year-mark = three-year mark of CPS4 certificates
doctor-cert-expired = expired on { $until } ({ $days } days ago)
doctor-cert-not-yet-valid = not valid before { $from } ({ $days } days)
doctor-fido2-enrolled = enrolled ({ $tries } PIN tries left), { $versions }
doctor-fido2-blank = blank (no FIDO2 PIN yet), { $versions }
doctor-fido2-not-on-cps3 = CPS3 card: no FIDO2 applet expected ({ $why })
doctor-desfire = { $generation }, UID { $uid }, { $applications } applications
doctor-desfire-classic = { $why }; this card relies on MIFARE Classic, which CPS4 drops: a CPS3 cannot open this door, use a CPS4
doctor-action-insert-card = insert the card (or wait for it: { $command } --wait 30)
doctor-action-close-exclusive = close the application that holds the card exclusively
doctor-action-choose-reader = choose a reader listed by `cps readers`
doctor-action-check-reader = check the reader and the card, then run `{ $command }` again
doctor-action-reinsert = reinsert the card and run `{ $command }` again
doctor-action-install-pcscd = install and start pcscd: `apt-get install pcscd && systemctl start pcscd.socket`
doctor-action-plug-reader = plug in a CCID reader (contact for IAS-ECC and FIDO2, contactless for the DESFire badge)
doctor-action-present-contactless = present the CPS4 to a contactless reader and run `cps doctor --reader NAME` on it
doctor-action-order-cps4 = order the CPS4 replacement; move badge readers to DESFire
doctor-action-unblock = unblock it with the PUK: cps pin unblock
doctor-action-ask-holder = the next correct PIN resets the counter; ask the holder before trying
doctor-action-reissue = the card must be re-issued (contact the ANS)
doctor-action-insert-contact = insert a CPS3 or CPS4 card through the contact interface
doctor-action-check-cps4 = a CPS4 carries a FIDO2 applet: check that this is a CPS4 through the contact interface
doctor-action-enroll-fido2 = enroll it: cps fido2 enroll
doctor-action-replace-badge = replace the badge by a CPS4 and the door readers' MIFARE Classic keys by DESFire ones
doctor-action-present-cps4 = present a CPS4 to the contactless reader
doctor-action-present-again = present the card again, holding it still on the reader
doctor-action-renew = renew the certificates (remote update) before they expire
doctor-action-order-card = the card's certificates must be renewed: order a new card
doctor-action-check-clock = check the computer's clock

## cps certs (src/certs.rs)

label-cert-label = label
label-usage = usage
label-key = key
label-subject = subject
label-issuer = issuer
label-cert-serial = serial
label-validity = validity
label-status = status
certs-wrote = wrote { $path }
certs-chain-ok = { $label }: chain OK up to { $root }
certs-chain-invalid = { $label }: chain INVALID: { $error }
certs-verify-failed = certificate chain verification failed
certs-cannot-read = cannot read { $path }: { $error }
certs-not-a-certificate-file = { $path }: not a certificate file: { $error }
certs-cannot-create = creating { $path }: { $error }
certs-cannot-write = writing { $path }: { $error }

## cps readers (src/readers.rs)

readers-card-present = card present
readers-atr-unavailable = (ATR unavailable)
readers-no-card = no card
readers-no-card-anywhere = no card in any reader: insert a card (see `cps readers`)
readers-several-cards = { $count } readers hold a card: { $readers }; choose one with --reader NAME or --reader NUMBER

## cps sign, cps verify, cps auth-test (src/crypto.rs; label-key is that of cps certs)

label-signature = signature
label-challenge = challenge
label-response = response
label-certificate = certificate
label-result = result
crypto-file-bytes = { $path } ({ $n } bytes)
crypto-bytes = { $n } bytes
crypto-is-a-directory = cannot read { $path }: it is a directory, not a file
crypto-reading = reading { $path }: { $error }
crypto-no-certificate = no certificate for key { $key }
crypto-no-certificate-in-file = no certificate in the file
crypto-pss-needs-cps4 = --pss needs a CPS4: the CPS3 signs PKCS#1 v1.5 only
crypto-unsupported-key = the certificate's key ({ $key }) is not one CPS cards sign with
crypto-signature-ok = signature OK ({ $algorithm }) by { $signer }
crypto-signature-invalid = signature INVALID: { $error }
crypto-verify-failed = signature verification failed: { $error }
crypto-auth-ok = OK: the response verifies with the certificate
crypto-auth-failed = FAILED: { $error }
crypto-auth-test-failed = authentication test failed: { $error }

## cps update, cps update-server (src/update.rs; the progress steps come from cps-update)

update-up-to-date = up to date: the card is at update { $sequence }, nothing pending
update-updated = updated: { $steps } steps committed, the card is now at update { $sequence }
update-not-updatable = this card has no remote-update application (SELECT answered { $sw })
update-server-seeded = registered { $n } simulated cards (every persona, CPS3 and CPS4)
update-server-started = cps update-server: TEST issuer (test keys, test PKI) on { $url } — database { $db }

## cps fido2 (src/fido2.rs; fido2-result-* are also the JSON `result`, always in English)

label-fido2-versions = versions
label-fido2-extensions = extensions
label-fido2-options = options
label-fido2-pin = PIN
label-fido2-credential = credential
label-fido2-attestation = attestation
label-fido2-verified = verified
label-fido2-sign-count = sign count
fido2-true = true
fido2-false = false
fido2-pin-set = set, { $n } tries left
fido2-pin-not-set = not set (blank applet: `cps fido2 enroll`)
fido2-result-enrolled = FIDO2 PIN set
fido2-result-deleted = credential deleted
fido2-result-pin-changed = FIDO2 PIN changed
fido2-result-reset = FIDO2 applet reset: credentials and PIN erased
fido2-no-credential = no discoverable credential
fido2-not-hex = { $what } { $value } is not hex: { $error }
fido2-reset-needs-yes = `cps fido2 reset` erases every FIDO2 credential and the FIDO2 PIN: add --yes

## cps desfire (src/desfire.rs; the provisioning steps and refusal reasons come from cps-desfire)

label-desfire-storage = storage
label-desfire-applications = applications
label-desfire-door-check = door check
label-desfire-credential = credential
label-desfire-session = session
label-desfire-exchanges = exchanges
label-desfire-card-uid = card UID
label-desfire-badge = badge
label-desfire-picc-key = PICC key
label-desfire-valid = valid
desfire-storage-exact = { $n } bytes
desfire-storage-about = about { $n } bytes
desfire-apps-not-listed = not listed: { $error }
desfire-authenticated = authenticated to application { $aid } with key { $key } ({ $how })
desfire-granted = GRANTED
desfire-credential-hidden = { $n } bytes (--show-data prints them)
desfire-refused = door check refused: { $reason }
desfire-contact-side = DESFire not checked: DESFire answers through the contactless interface only: present the card to a contactless reader (simulator: --contactless)
desfire-keys-readable = warning: { $path } is readable by other users; keep the establishment keys private (chmod 600)
desfire-reading-key-file = reading the key file { $path }: { $error }
desfire-reading-profile = reading the door profile { $path }: { $error }
desfire-bad-profile = door profile { $path }: { $error }
desfire-key-not-hex = the DESFire key is not hex: { $error }
desfire-no-door-master-key = no door master key: `door-master-key = ...` in --keys FILE, or CPS_DESFIRE_DOOR_MASTER_KEY
desfire-aid-file-needed = --aid and --file are needed without --profile
desfire-dry-run = dry run: nothing is written to the card
desfire-step-done = done
desfire-step-ok = ok
desfire-step-would-do = would do
desfire-provision-stopped = provisioning stopped: { $error } (run it again to complete once the cause is fixed; nothing already written is lost)
desfire-badge-would-be-provisioned = would be provisioned
desfire-badge-provisioned = provisioned
desfire-badge-already-provisioned = already provisioned, nothing changed
desfire-badge-in = { $state } in application { $aid } file { $file }
desfire-picc-key-delivered = the delivered all-zero key (anyone can list and create applications)
desfire-picc-key-establishment = the establishment's (diversified per card)
desfire-valid-range = { $from } to { $until }
desfire-exchanges = { $n } with the card
desfire-exchanges-uid-from-reader = { $n } with the card (+ the UID from the reader, FF CA 00 00 00)
desfire-exchanges-uid-by-getversion = { $n } with the card (the reader gave no UID: read with GetVersion)

## cps sim (src/sim.rs)

sim-profiles = profiles:
sim-profile-cps3 = CPS3: IAS-ECC, T=0, RSA-2048 keys, PSO HASH finished by the card, CPS data objects
sim-profile-cps4 = CPS4: ChipDoc applet on logical channel 1, T=0, RSA-2048 (PKCS#1 v1.5, PSS), FIDO2 applet (contact, blank), DESFire EV3 (contactless)
sim-personas = personas:
sim-test-pins = holder PIN 1234, PUK 12345678 (test values)
sim-card-removed = card removed: { $apdus } APDUs answered

## cps gestion on the terminal (src/gestion/mod.rs, server.rs), cps man --dir (src/main.rs)

gestion-started = cps gestion: the card-management page is at the URL above (keep it private: it holds this run's secret); stops { $idle } s after the page is closed, or on Ctrl-C
gestion-no-browser = cps gestion: could not open the browser ({ $error }): open the URL above yourself
gestion-idle-stop = cps gestion: no page open for { $idle } s: stopping
man-written = wrote { $n } man pages into { $dir }
man-write-failed = writing the man pages into { $dir }: { $error }

## cps apdu (src/main.rs), cps replay (src/trace.rs); the status words' meanings come from cps-apdu

apdu-not-hex = { $arg } is not hex: { $error }
apdu-native-empty = { $arg }: a native frame has at least its command byte
apdu-not-valid = { $arg } is not a valid APDU: { $error }
replay-too-large = { $path }: larger than 16 MiB, not a trace
replay-exchanges = { $n } exchange(s)

## Help (src/help.rs): set on the clap command at run time

help-about = Command-line tool for the French health-professional smart card (CPS3 / CPS4)
help-usage = Usage:
help-commands = Commands
help-options = Options
help-arguments = Arguments
help-card-selection = Card selection
help-secrets = Secrets (never on the command line)
help-flag-help = Print help (-h: summary, --help: details)
help-flag-version = Print version
help-subcommand-help = Print this message or the help of the given subcommand(s)
help-global-hint = Global options (--reader, --sim, --wait, --json, --pin-from...): `cps --help`.
help-after =
    Card selection: without --reader, the card in the reader holding one (refused when several
    or none do); the built-in simulated card only with --sim cps3|cps4 (--persona, --contactless)
    or when no PC/SC service runs, and its output says so first. --reader NAME|N|PART picks a
    reader by name, number or unique part of its name; --wait [SECONDS] waits for the card.

    PINs, PUKs and keys are never taken from the command line: they are asked on the terminal
    without echo (default), or read from stdin (--pin-from stdin, one line per secret) or from
    the environment (--pin-from env: CPS_PIN, CPS_NEW_PIN, CPS_PUK, CPS_FIDO2_PIN,
    CPS_FIDO2_NEW_PIN, CPS_DESFIRE_KEY).

    Exit codes: 0 success; 1 other failure; 2 usage error (nothing sent to the card); 3 no PC/SC
    service, no reader or no card (also pulled, pcscd stopped, no answer); 4 reader busy (or the
    card reset by another application); 5 the card refused a command; 6 wrong PIN/PUK;
    7 PIN/PUK blocked; 8 verification failed (signature, chain, auth-test, DESFire); 9 `cps
    doctor` found a failure.
help-arg-json = Machine-readable output (JSON on stdout, errors included)
help-arg-verbose = More on stderr: -v the card used and a summary of the exchanges; -vv every APDU (secrets hidden) with its timing
help-arg-trace = Write the APDUs exchanged with the card to FILE, secrets hidden, with timing: a transcript for a helpdesk ticket that `cps replay FILE` reads back
help-arg-lang = Language of the messages: fr or en [default: from LC_ALL, LC_MESSAGES, LANG]
help-arg-reader = Use the card in this PC/SC reader: its name, its number in `cps readers` (0, 1...), a unique part of its name, or `auto` (the first reader holding a card). Without it: the one reader holding a card
help-arg-sim = Use the built-in simulated card, cps3 or cps4 (never chosen on its own while a PC/SC service runs)
help-arg-persona = Holder persona of the simulated card (see `cps sim list`) [default: dr-martin]
help-arg-contactless = Power the simulated card through its contactless interface (DESFire side)
help-arg-wait = Wait up to SECONDS (default 30) for a card in the reader (any reader without --reader), with a progress indicator
help-arg-timeout = Give up on a card that does not answer one command within SECONDS (PC/SC readers; default 20 for contact, 5 for contactless, 120 for on-card key generation)
help-arg-at = Evaluate certificate validity at this date (YYYY-MM-DD, UTC) instead of now
help-arg-pin-from = prompt: ask on the terminal without echo; stdin: one line per secret, in the order the command asks them; env: CPS_PIN, CPS_NEW_PIN, CPS_PUK, CPS_FIDO2_PIN, CPS_FIDO2_NEW_PIN, CPS_DESFIRE_KEY
help-cmd-info = The card: generation, family, serial, ATR, applications, PIN tries, certificates
help-cmd-identity = The holder: name, identifiers, profession; with --situations the practice situations (billing data, needs the PIN)
help-cmd-certs = The card's certificates: list (default), export, verify the chain
help-cmd-pin = The holder PIN: status, verify, change, unblock with the PUK
help-cmd-sign = Sign a file with the card (SHA-256 of the file, signed by the card's key)
help-cmd-verify = Verify a signature made by `cps sign`, with a certificate file or the card's
help-cmd-auth-test = Challenge-response with the authentication key, verified with its certificate
help-cmd-fido2 = The FIDO2 applet of the CPS4 (contact interface)
help-cmd-desfire = The DESFire side of the CPS4 (contactless interface)
help-cmd-doctor = The CPS4 migration checklist for this machine and this card
help-cmd-update = Remote update ("télé mise à jour"): relay the card's pending update (new practice situations, renewed certificates) from an update service, with a progress bar. Safe to interrupt: nothing changes on the card before the final commit; run it again to resume
help-cmd-update-server = The reference update authority (TEST keys and TEST PKI) over HTTP, its records and pending updates in SQLite; prints its URL and serves until interrupted. The JSON API is in docs/remote-update.md
help-cmd-gestion = The card-management page: a local web page (French or English) showing the card and its certificates, changing or unblocking the PIN, running the remote update and enrolling FIDO2. Prints the page's URL (with this run's secret) first, opens the browser, and stops once the page has been closed for a while. See docs/gestion.md
help-cmd-readers = List PC/SC readers, card presence, ATR and interface
help-cmd-apdu = Send raw APDUs (hex) and print the responses with decoded status words
help-cmd-sim = The simulated CPS cards (test cards without a physical card)
help-cmd-completions = Shell completions on stdout, e.g. `cps completions bash > /etc/bash_completion.d/cps`
help-cmd-man = Man pages generated from this command line: `cps man` prints cps(1) on stdout; `--dir DIR` writes cps.1 and one page per command (cps-info.1, ...) into DIR
help-cmd-replay = Read back a trace (`--trace FILE`): without COMMAND, its exchanges decoded; with COMMAND (`cps replay FILE info`), that command run with the trace as the card (a secret is matched by length: give one of the same length)
help-cmd-pin-status = PIN and PUK state, without spending a try (exit code 7 when the PIN is blocked)
help-cmd-pin-verify = Verify the holder PIN (one try)
help-cmd-pin-change = Change the holder PIN (asks the current PIN, then the new one)
help-cmd-pin-unblock = Unblock the holder PIN with the PUK and set a new PIN (asks the PUK, then the new PIN)
help-cmd-sim-list = List the simulated card profiles and holder personas
help-cmd-certs-list = List the certificates with their validity and renewal status (default)
help-cmd-certs-export = Write the certificates to files (one per certificate, named after its label)
help-cmd-certs-verify = Verify each holder certificate's chain up to a trusted root
help-cmd-fido2-info = getInfo: versions, options, AAGUID, whether a PIN is set, PIN tries left
help-cmd-fido2-enroll = Set the first FIDO2 PIN of a blank applet
help-cmd-fido2-register = Register a credential for a relying party (makeCredential, ES256)
help-cmd-fido2-authenticate = Get assertions for a relying party (getAssertion)
help-cmd-fido2-credentials = List the discoverable credentials (needs the FIDO2 PIN)
help-cmd-fido2-delete = Delete a discoverable credential
help-cmd-fido2-change-pin = Change the FIDO2 PIN (asks the current one, then the new one)
help-cmd-fido2-reset = Erase every FIDO2 credential and the FIDO2 PIN
help-cmd-desfire-info = GetVersion (generation, UID, storage) and the application IDs
help-cmd-desfire-auth = Authenticate with an application key (EV2First for AES, ISO for DES/3DES)
help-cmd-desfire-read = Read a data file (authenticating first unless --no-auth)
help-cmd-desfire-door-check = The access-control check: authenticate (AN10922-diversified key with --diversify) and read the credential file. With --profile, the establishment's badge as its doors read it: UID from the reader, select, authenticate, read — 4 card exchanges. Exit code 8 when the card is refused
help-cmd-desfire-provision = Badge provisioning as an establishment does it: authenticate to the card with the PICC master key (the delivered all-zero key, or the establishment's), create the establishment's application with AES keys diversified per card (AN10922), create and write the badge file (holder, validity), check it as a door does, optionally replace the PICC master key. Safe to interrupt: run it again to complete
help-cmd-sim-serve = Insert a simulated card into pcscd's virtual reader (vsmartcard-vpcd) so that any PC/SC application (OpenSC, your software) sees it; runs until interrupted. The holder is --persona; --contactless presents its contactless interface

# Options of each command: help-opt-COMMAND-OPTION (the English is the doc comment of the
# option in the code, a test keeps them equal).
help-opt-identity-situations = Also read the practice situations (EF.DAM, billing data): asks the PIN
help-opt-certs-export-out = Directory to write to (created if missing)
help-opt-certs-export-format = File format
help-opt-certs-verify-root = The trusted root certificate(s): PEM (one or more) or DER file
help-opt-certs-verify-intermediates = Intermediate CA certificates (PEM bundle or DER), besides those on the card
help-opt-sign-key = Which key signs
help-opt-sign-input = The file to sign (its SHA-256 is signed)
help-opt-sign-out = Where to write the signature (default: FILE.sig): RSA PKCS#1 v1.5 (what `openssl dgst -verify` reads), or RSA-PSS with --pss
help-opt-sign-cert-out = Also write the signer's certificate (PEM) here, for `cps verify --cert`
help-opt-sign-pss = RSA-PSS (salt = hash length) instead of PKCS#1 v1.5: CPS4 only. Check it with `cps verify --pss`, or `openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify`
help-opt-verify-input = The signed file
help-opt-verify-sig = The signature file (default: FILE.sig)
help-opt-verify-cert = The signer's certificate (PEM or DER). Without it, the card's certificate of --key is used
help-opt-verify-key = Which card certificate, without --cert
help-opt-verify-pss = The signature is RSA-PSS (salt 32, MGF1-SHA-256), as `cps sign --pss` makes it
help-opt-fido2-register-rp = Relying-party identifier (a domain)
help-opt-fido2-register-user = User name
help-opt-fido2-register-resident = Store the credential on the card (discoverable)
help-opt-fido2-register-no-pin = Register without the PIN (no user verification)
help-opt-fido2-authenticate-rp = Relying-party identifier
help-opt-fido2-authenticate-credentials = Credential IDs (hex) to allow; none: the discoverable credentials of the RP
help-opt-fido2-authenticate-no-pin = Without the PIN (no user verification)
help-opt-fido2-delete-credential = Credential ID (hex), as `cps fido2 credentials` shows it
help-opt-fido2-reset-yes = Confirm: the credentials cannot be recovered
help-opt-desfire-auth-aid = Application ID (6 hex digits, as `cps desfire info` lists them; 000000 = PICC)
help-opt-desfire-auth-key-no = Key number in the application
help-opt-desfire-auth-key-type = Key type (the key itself is read as a secret: CPS_DESFIRE_KEY with --pin-from env)
help-opt-desfire-read-aid = Application ID (6 hex digits, as `cps desfire info` lists them; 000000 = PICC)
help-opt-desfire-read-key-no = Key number in the application
help-opt-desfire-read-key-type = Key type (the key itself is read as a secret: CPS_DESFIRE_KEY with --pin-from env)
help-opt-desfire-read-file = File number
help-opt-desfire-read-offset = Offset
help-opt-desfire-read-length = Length (0: to the end of the file)
help-opt-desfire-read-no-auth = Read without authenticating (free-access files)
help-opt-desfire-door-check-profile = Door profile file (AID, badge file, key number, communication mode, diversification): what the door knows in advance. The door master key comes from --keys or CPS_DESFIRE_DOOR_MASTER_KEY
help-opt-desfire-door-check-keys = Key file holding `door-master-key = ...` (with --profile)
help-opt-desfire-door-check-aid = Application ID (6 hex digits; without --profile)
help-opt-desfire-door-check-key-no = Key number in the application (without --profile)
help-opt-desfire-door-check-key-type = Key type (the key itself is read as a secret: CPS_DESFIRE_KEY with --pin-from env)
help-opt-desfire-door-check-file = Credential file number (without --profile)
help-opt-desfire-door-check-diversify = Diversify the master key with the card UID (AN10922)
help-opt-desfire-door-check-system-id = AN10922 system identifier (hex) after UID ‖ AID
help-opt-desfire-door-check-comm = The credential file's communication mode, when known: saves the GetFileSettings exchange (without --profile)
help-opt-desfire-door-check-show-data = Print the credential bytes (hidden by default)
help-opt-desfire-provision-profile = Door profile file (AID, badge file, door key number, communication mode, diversification)
help-opt-desfire-provision-keys = Establishment key file (`app-master-key`, `door-master-key`, optional `picc-master-key`, `key-version`); without it: CPS_DESFIRE_APP_MASTER_KEY, CPS_DESFIRE_DOOR_MASTER_KEY, CPS_DESFIRE_PICC_MASTER_KEY, CPS_DESFIRE_KEY_VERSION
help-opt-desfire-provision-holder = Holder identifier written in the badge (e.g. the RPPS number)
help-opt-desfire-provision-valid-from = First day the badge opens doors (YYYY-MM-DD)
help-opt-desfire-provision-valid-until = Last day the badge opens doors (YYYY-MM-DD)
help-opt-desfire-provision-change-picc-key = Replace the PICC master key by the establishment's (diversified per card)
help-opt-desfire-provision-dry-run = Change nothing: read the card and print what a run would do
help-opt-update-server = The update service, e.g. http://127.0.0.1:8700 (`cps update-server`)
help-opt-update-server-listen = Address to listen on (port 0: any free port)
help-opt-update-server-db = SQLite database file (created if missing)
help-opt-update-server-seed-test-cards = Register the simulated cards of every persona (CPS3 and CPS4)
help-opt-update-server-admin-key-file = File with the administration key (64 hex digits): the `/v1/cards` API then answers requests carrying a token signed with it (`cps-update-server admin-token`); without it, administration over HTTP is refused
help-opt-gestion-listen = Address to serve the page on (port 0: a free port). A non-loopback address makes the page reachable from the network: the secret in the URL is then its only protection
help-opt-gestion-no-browser = Print the URL only; do not open the browser
help-opt-gestion-update-server = The update service the Update page offers (e.g. http://127.0.0.1:8700)
help-opt-gestion-idle-exit = Stop when no page has asked anything for SECONDS (the page asks twice a second while open; browsers slow background tabs down to about once a minute)
help-opt-apdu-exclusive = Connect in exclusive mode
help-opt-apdu-raw = Send bytes exactly as given: no GET RESPONSE, no Le correction
help-opt-apdu-check = Exit with code 5 if a response status word is not 9000 (91 00 for DESFire, a native status 00)
help-opt-apdu-native = Native DESFire frames (`60` GetVersion, `AF`, `5A 43 50 53`...): sent exactly as given, of any length; the answer's first byte is decoded as a DESFire status
help-opt-apdu-apdus = APDUs in hex (spaces and colons allowed inside one argument when quoted)
help-opt-sim-serve-profile = Card profile: cps3 or cps4 (the CPS4: ChipDoc on logical channel 1) [default: the global --sim, else cps4]
help-opt-sim-serve-port = vpcd port: 35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01"
help-opt-sim-serve-reconnect-for = When pcscd stops, wait up to SECONDS for it to come back (then insert the same card again); 0 exits at once. Exit code 3 when it does not come back
help-opt-sim-serve-pull-at = Fault injection (tests): the card executes APDU N, then leaves the reader before answering; it is reinserted 1 s later (same card state)
help-opt-sim-serve-freeze-at = Fault injection (tests): the card stops answering at APDU N
help-opt-completions-shell = The shell
help-opt-man-dir = Write every page into this directory
help-opt-replay-file = The trace file
help-opt-replay-command = A card command and its options

# Possible values of options (help-val-OPTION-VALUE) and clap's words around them, used in
# French only (English keeps clap's own rendering: these equal the doc comments).
help-default = [default: { $value }]
help-possible-values-inline = [possible values: { $values }]
help-possible-values = Possible values:
help-val-comm-full = Enciphered
help-val-comm-mac = MACed
help-val-comm-plain = Plain
help-val-format-der = DER (binary)
help-val-format-pem = PEM (text, `-----BEGIN CERTIFICATE-----`)
help-val-key-auth = The authentication key (CPS3: INTERNAL AUTHENTICATE; CPS4: PSO DECIPHER of the padded DigestInfo)
help-val-key-sign = The signature key (PSO COMPUTE DIGITAL SIGNATURE)
help-val-key-type-2k3des = 2-key 3DES (16 bytes)
help-val-key-type-3k3des = 3-key 3DES (24 bytes)
help-val-key-type-aes = AES-128 (16 bytes)
help-val-key-type-des = Single DES (8 bytes)
help-val-pin-from-env = Environment variables
help-val-pin-from-prompt = Ask on the terminal, without echo
help-val-pin-from-stdin = One line per secret on standard input

## The gestion page (src/gestion/i18n.rs): `page-KEY` fills `{{KEY}}` of assets/index.html
## and the words of assets/app.js (its t('KEY')); app.js replaces { $n }, { $date }...

page-title = CPS card management
page-tab_card = Card
page-tab_pin = PIN
page-tab_update = Update
page-tab_fido2 = FIDO2
page-no_card = No card: insert the CPS card.
page-loading = Reading the card…
page-generation = Generation
page-family = Card type
page-serial = Card number
page-holder = Holder
page-national_id = National identifier
page-profession = Profession
page-speciality = Speciality
page-pin_state = PIN
page-puk_state = Unblocking code (PUK)
page-tries_left = { $n } tries left
page-verified = verified
page-blocked = BLOCKED
page-certificates = Certificates
page-timeline_issued = issued
page-timeline_renewal = renewal
page-timeline_expiry = expiry
page-timeline_today = today
page-valid_until = valid until { $date }
page-renewal_due = renewal available (valid until { $date })
page-expired = expired (on { $date })
page-not_yet_valid = not yet valid (from { $date })
page-test_pki = TEST certificates (never in production)
page-situations = Practice situations
page-situations_help = Read with the PIN (billing data).
page-show_situations = Show
page-structure = Structure
page-practice_mode = Practice mode
page-sector = Activity sector
page-city = City
page-pin = PIN
page-new_pin = New PIN (4 to 8 digits)
page-new_pin_again = New PIN, again
page-puk = Unblocking code (PUK)
page-change_pin = Change the PIN
page-unblock_pin = Unblock the PIN
page-pin_changed = PIN changed.
page-pin_unblocked = PIN unblocked and replaced.
page-pins_differ = The two new PINs differ: nothing was sent to the card.
page-pin_format = The PIN must have 4 to 8 digits: nothing was sent to the card.
page-wrong_pin = Wrong code: { $n } tries left.
page-now_blocked = Code blocked.
page-pin_once = The code goes to the card once; it is never stored nor shown.
page-update_service = Update service
page-usage_authentication = authentication
page-usage_signature = signature
page-start_update = Start the update
page-update_help = You may close the page or pull the card: the next update resumes.
page-up_to_date = The card is up to date (update { $seq }).
page-updated = Update done: { $steps } step(s), the card is at update { $seq }.
page-update_running = Update running…
page-fido2_absent = No FIDO2 applet on this card (CPS4 only).
page-fido2_blank = Blank FIDO2 applet: choose its PIN.
page-fido2_enrolled = FIDO2 PIN set, { $n } tries left.
page-fido2_pin = FIDO2 PIN
page-fido2_new_pin = New FIDO2 PIN (4 characters or more)
page-enroll = Enrol (set the PIN)
page-enrolled_ok = FIDO2 PIN set.
page-list_credentials = List the credentials
page-no_credentials = No credential stored.
page-delete = Delete
page-deleted = Credential deleted.
page-reset = Reset the FIDO2 applet
page-reset_confirm = Type ERASE to confirm: every credential and the FIDO2 PIN will be lost.
page-reset_word = ERASE
page-reset_done = FIDO2 applet reset.
page-error = Error
page-simulated = SIMULATED CARD
page-closed = The service stopped: run `cps gestion` again.
