# Les mots de la commande `cps` en français. Le catalogue anglais (../en/cps.ftl) définit les
# mêmes messages : un test échoue s'il en manque un. La sortie JSON ne les utilise jamais.

## Secrets (src/secret.rs)

secret-pin = code PIN du porteur
secret-new-pin = nouveau code PIN du porteur
secret-puk = code de déblocage (PUK)
secret-fido2-pin = code PIN FIDO2
secret-fido2-new-pin = nouveau code PIN FIDO2
secret-desfire-key = clé DESFire (hexadécimal)
prompt = { $what } :
prompt-again = { $what } (à nouveau) :
secret-env-missing = --pin-from env : définissez { $var } ({ $what })
secret-read-failed = lecture impossible ({ $what }) : { $error }
secret-stdin-ended = --pin-from stdin : l'entrée standard s'est terminée avant la saisie attendue ({ $what })
secret-no-terminal = impossible de demander sur un terminal : { $what } ({ $error }) ; utilisez --pin-from stdin ou --pin-from env
secret-differ = les deux saisies diffèrent ({ $what }) : rien n'a été envoyé à la carte

## Erreurs et conseils (src/main.rs, src/advice.rs)

error-wrong-pin = code PIN erroné ({ $sw }) : { $n ->
        [one] { $n } essai restant
       *[other] { $n } essais restants
    }
error-wrong-pin-now-blocked = code PIN erroné ({ $sw }) : 0 essai restant (le code PIN est maintenant bloqué)
error-pin-blocked = code PIN bloqué (6983)
error-wrong-puk = code PUK erroné ({ $sw }) : { $n ->
        [one] { $n } essai restant
       *[other] { $n } essais restants
    }
error-wrong-puk-now-blocked = code PUK erroné ({ $sw }) : 0 essai restant (le PUK est maintenant bloqué)
error-puk-blocked = PUK bloqué (6983) : le code PIN ne peut plus être débloqué
error-with-advice = { $message } : { $advice }
error-partly-unread = une partie de la carte n'a pas pu être lue ({ $what })
ctrl-c = Ctrl-C : arrêt après la commande en cours sur la carte (Ctrl-C à nouveau pour quitter tout de suite)
advice-pcsc-library = les lecteurs ont besoin de la bibliothèque et du service PC/SC : installez les paquets Debian libpcsclite1 et pcscd (`apt-get install libpcsclite1 pcscd`) ; la carte simulée fonctionne sans eux (commandes sans --reader)
advice-start-pcscd = démarrez pcscd (par exemple `systemctl start pcscd.socket`)
advice-pcscd-again = redémarrez pcscd et réessayez
advice-no-reader = branchez un lecteur, ou utilisez le simulateur (--sim cps4)
advice-see-readers = voir `cps readers`
advice-insert-card = insérez la carte
advice-card-reset = relancez la commande (elle sélectionne à nouveau l'application)
advice-reinsert = réinsérez la carte
advice-insert-any = insérez une carte (voir `cps readers`)
advice-not-cps = insérez une carte CPS3 ou CPS4, ou vérifiez le lecteur
advice-unblock = débloquez-le avec le PUK (cps pin unblock)
advice-ask-again = la bibliothèque ne réessaie jamais : redemandez le code au porteur
advice-replace-card = la carte doit être remplacée
advice-check-puk = vérifiez le code de déblocage envoyé avec la carte
advice-verify-first = vérifiez d'abord le code PIN
advice-see-certs = voir les clés et certificats avec `cps certs`
advice-contact-reader = insérez la carte dans un lecteur à contact

## Choix de la carte (src/opts.rs)

## Où est la carte (la carte du simulateur, ou un lecteur nommé entre guillemets).
origin-simulator = simulateur intégré ({ $generation } de { $persona }, { $interface })
origin-contact = contact
origin-contactless = sans contact
origin-reader = lecteur { $name }

sim-notice-asked = CARTE SIMULÉE, pas une vraie carte : { $origin } (--sim)
sim-notice-no-pcsc = CARTE SIMULÉE, pas une vraie carte : { $origin }, utilisée car aucun service PC/SC ne tourne (démarrez pcscd pour une vraie carte)
replay-notice = TRACE REJOUÉE, pas une carte : les réponses viennent de { $file }
wait-card-in = une carte dans { $reader }
wait-any-reader = une carte dans un lecteur
wait-progress = attente d'{ $what }... { $elapsed } s / { $timeout } s (Ctrl-C pour abandonner)
wait-start = attente d'{ $what } pendant { $timeout } s au plus...
no-reader-found = aucun lecteur de carte trouvé (le service PC/SC tourne) : branchez un lecteur, ou utilisez la carte simulée avec --sim cps4
no-card-in-readers = aucune carte dans les lecteurs{ $readers } : insérez la carte (--wait l'attend), ou utilisez la carte simulée avec --sim cps4
several-cards = { $count } lecteurs contiennent une carte : { $readers } ; choisissez-en un avec --reader NOM ou --reader NUMÉRO (`cps readers` les liste)

## cps info, cps identity, cps pin (src/info.rs, src/pin.rs)

label-card = carte
label-atr = ATR
label-interface = interface
label-generation = génération
label-family = type
label-serial = numéro
label-holder = porteur
label-pin = code PIN
label-puk = PUK
label-certificates = certificats
label-card-family = type de carte
label-national-id = identifiant national
label-profession = profession
label-speciality = spécialité
label-student = étudiant
label-situations = situations
label-situation = situation { $index }
generation-from = { $generation } (d'après { $source })
detected-by-atr = l'ATR
detected-by-efatr = EF.ATR
detected-by-chipdoc = l'applet ChipDoc qui répond sur le canal logique 1
presence-present = présente, { $what }
presence-other = { $state } : { $reason }
state-absent = absente
state-not-checked = non vérifiée
state-failed = en échec
fido2-enrolled = enrôlée
fido2-blank = vierge
cert-unreadable = { $label } : illisible ({ $reason })
test-pki-notice = (certificats de l'IGC de TEST de cps-rs : ne jamais leur faire confiance hors des tests)
renewal-valid = valide jusqu'au { $until } ({ $days } jours restants)
renewal-due = valide jusqu'au { $until } ({ $days } jours restants), RENOUVELLEMENT À FAIRE ({ $why })
renewal-expired = EXPIRÉ le { $until } (il y a { $days } jours)
renewal-not-yet-valid = PAS ENCORE VALIDE (dans { $days } jours)
reason-expires-soon = expire bientôt
reason-three-year-mark = cap des trois ans
usage-authentication = authentification
usage-signature = signature
usage-other = autre
pin-verified = vérifié
pin-not-verified = non vérifié, { pin-tries-left }
pin-blocked = bloqué
pin-tries-left = { $n ->
        [one] { $n } essai restant
       *[other] { $n } essais restants
    }
yes = oui
national-id-type = { $id } (type { $kind })
situations-not-read = non lues (données de facturation : `{ $command } --situations` demande le code PIN)
situation-structure = , structure { $id }
pin-result-verified = Code PIN vérifié
pin-result-changed = Code PIN changé
pin-result-unblocked = Code PIN débloqué et remplacé

## cps doctor (src/info.rs ; les vérifications viennent typées de cps::doctor)

doctor-tag-ok = [ ok ]
doctor-tag-warning = [ !! ]
doctor-tag-failure = [ÉCHEC]
doctor-tag-not-checked = [ -- ]
doctor-line = { $tag } { $item } : { $detail }
doctor-summary = { $ok } ok, { $warnings } avertissement(s), { $failures } échec(s), { $not_checked } non vérifié(s)
doctor-item-pcsc = service PC/SC
doctor-item-readers = lecteurs
doctor-item-reader = lecteur { $name }
doctor-item-contactless = lecteur sans contact
doctor-item-card = carte
doctor-item-generation = génération de la carte
doctor-item-iasecc = application IAS-ECC
doctor-item-pin = code PIN du porteur
doctor-item-certificates = certificats
doctor-item-certificates-readable = certificats lisibles
doctor-item-certificate = certificat { $label } ({ $usage })
doctor-item-fido2 = applet FIDO2
doctor-item-desfire = DESFire
doctor-simulator = simulateur intégré utilisé : la pile PC/SC n'a pas servi (lancez `cps doctor --reader auto` avec la carte dans un lecteur pour la vérifier)
doctor-lost-card = carte perdue : { $error }
doctor-pcscd-reachable = pcscd répond
doctor-no-reader = aucun lecteur de carte trouvé
doctor-reader-card = carte présente, interface { $interface }
doctor-reader-empty = pas de carte (son interface s'affiche une fois la carte insérée)
doctor-no-contactless = aucune carte vue par une interface sans contact : le côté DESFire (accès aux bâtiments) de la CPS4 n'a pas été atteint
doctor-card-found = { $origin }, interface { $interface }
doctor-cps4 = CPS4
doctor-cps3 = CPS3 : pas d'applet FIDO2, et son côté sans contact (MIFARE Classic) n'est pas repris par la CPS4
doctor-iasecc = carte { $family } n° { $serial } de { $holder } ({ $national_id })
doctor-pin-few-tries = { pin-tries-left } (des codes erronés ont été saisis)
doctor-no-certificate = aucun certificat sur la carte
doctor-certificates-count = { $readable } lisible(s), { $unreadable } illisible(s)
doctor-cert-valid = valide jusqu'au { $until } ({ $days } jours restants)
doctor-cert-renewal-due = valide jusqu'au { $until } ({ $days } jours restants) : renouvellement à faire ({ $why })
doctor-reason-three-year-mark = cap des trois ans des certificats CPS4
doctor-cert-expired = expiré le { $until } (il y a { $days } jours)
doctor-cert-not-yet-valid = pas valide avant le { $from } (dans { $days } jours)
doctor-fido2-enrolled = enrôlée ({ $tries } essais de code PIN restants), { $versions }
doctor-fido2-blank = vierge (pas encore de code PIN FIDO2), { $versions }
doctor-fido2-not-on-cps3 = carte CPS3 : pas d'applet FIDO2 attendue ({ $why })
doctor-desfire = { $generation }, UID { $uid }, { $applications } application(s)
doctor-desfire-classic = { $why } ; cette carte repose sur MIFARE Classic, abandonné par la CPS4 : une CPS3 ne peut pas ouvrir cette porte, utilisez une CPS4
doctor-action-insert-card = insérez la carte (ou attendez-la : { $command } --wait 30)
doctor-action-close-exclusive = fermez l'application qui tient la carte en exclusivité
doctor-action-choose-reader = choisissez un lecteur listé par `cps readers`
doctor-action-check-reader = vérifiez le lecteur et la carte, puis relancez `{ $command }`
doctor-action-reinsert = réinsérez la carte et relancez `{ $command }`
doctor-action-install-pcscd = installez et démarrez pcscd : `apt-get install pcscd && systemctl start pcscd.socket`
doctor-action-plug-reader = branchez un lecteur CCID (à contact pour IAS-ECC et FIDO2, sans contact pour le badge DESFire)
doctor-action-present-contactless = présentez la CPS4 à un lecteur sans contact et lancez `cps doctor --reader NOM` sur celui-ci
doctor-action-order-cps4 = commandez la CPS4 de remplacement ; passez les lecteurs de badge à DESFire
doctor-action-unblock = débloquez-le avec le PUK : cps pin unblock
doctor-action-ask-holder = le prochain code correct rétablit tous les essais ; demandez au porteur avant d'essayer
doctor-action-reissue = la carte doit être rééditée (contactez l'ANS)
doctor-action-insert-contact = insérez une carte CPS3 ou CPS4 par l'interface à contact
doctor-action-check-cps4 = une CPS4 porte une applet FIDO2 : vérifiez qu'il s'agit bien d'une CPS4, par l'interface à contact
doctor-action-enroll-fido2 = enrôlez-la : cps fido2 enroll
doctor-action-replace-badge = remplacez le badge par une CPS4 et les clés MIFARE Classic des lecteurs de porte par des clés DESFire
doctor-action-present-cps4 = présentez une CPS4 au lecteur sans contact
doctor-action-present-again = présentez la carte à nouveau, sans la bouger sur le lecteur
doctor-action-renew = renouvelez les certificats (mise à jour à distance) avant leur expiration
doctor-action-order-card = les certificats de la carte doivent être renouvelés : commandez une nouvelle carte
doctor-action-check-clock = vérifiez l'horloge de l'ordinateur

## cps certs (src/certs.rs)

label-cert-label = libellé
label-usage = usage
label-key = clé
label-subject = sujet
label-issuer = émetteur
label-cert-serial = n° de série
label-validity = validité
label-status = état
certs-wrote = fichier écrit : { $path }
certs-chain-ok = { $label } : chaîne de certification valide jusqu'à { $root }
certs-chain-invalid = { $label } : chaîne de certification INVALIDE : { $error }
certs-verify-failed = échec de la vérification de la chaîne de certification
certs-cannot-read = lecture impossible de { $path } : { $error }
certs-not-a-certificate-file = { $path } : ce n'est pas un fichier de certificat : { $error }
certs-cannot-create = création impossible de { $path } : { $error }
certs-cannot-write = écriture impossible de { $path } : { $error }

## cps readers (src/readers.rs)

readers-card-present = carte présente
readers-atr-unavailable = (ATR indisponible)
readers-no-card = pas de carte
readers-no-card-anywhere = aucune carte dans les lecteurs : insérez une carte (voir `cps readers`)
readers-several-cards = { $count } lecteurs contiennent une carte : { $readers } ; choisissez-en un avec --reader NOM ou --reader NUMÉRO

## cps sign, cps verify, cps auth-test (src/crypto.rs ; label-key est celui de cps certs)

label-signature = signature
label-challenge = défi
label-response = réponse
label-certificate = certificat
label-result = résultat
crypto-file-bytes = { $path } ({ $n } octets)
crypto-bytes = { $n } octets
crypto-is-a-directory = lecture impossible de { $path } : c'est un répertoire, pas un fichier
crypto-reading = lecture de { $path } : { $error }
crypto-no-certificate = pas de certificat pour la clé { $key }
crypto-no-certificate-in-file = pas de certificat dans le fichier
crypto-pss-needs-cps4 = --pss demande une CPS4 : la CPS3 ne signe qu'en PKCS#1 v1.5
crypto-unsupported-key = la clé du certificat ({ $key }) n'est pas de celles avec lesquelles signent les cartes CPS
crypto-signature-ok = signature valide ({ $algorithm }) de { $signer }
crypto-signature-invalid = signature INVALIDE : { $error }
crypto-verify-failed = échec de la vérification de la signature : { $error }
crypto-auth-ok = OK : la réponse se vérifie avec le certificat
crypto-auth-failed = ÉCHEC : { $error }
crypto-auth-test-failed = échec du test d'authentification : { $error }

## cps update, cps update-server (src/update.rs ; les étapes de la progression viennent de cps-update)

update-up-to-date = à jour : la carte est à la mise à jour { $sequence }, rien en attente
update-updated = mise à jour faite : { $steps } étapes validées, la carte est maintenant à la mise à jour { $sequence }
update-not-updatable = cette carte n'a pas d'application de télé mise à jour (réponse au SELECT : { $sw })
update-server-seeded = { $n } cartes simulées enregistrées (tous les porteurs, CPS3 et CPS4)
update-server-started = cps update-server : émetteur de TEST (clés de test, IGC de test) sur { $url } — base { $db }

## cps fido2 (src/fido2.rs ; fido2-result-* sont aussi le `result` JSON, toujours en anglais)

label-fido2-versions = versions
label-fido2-extensions = extensions
label-fido2-options = options
label-fido2-pin = code PIN
label-fido2-credential = identifiant
label-fido2-attestation = attestation
label-fido2-verified = vérifié
label-fido2-sign-count = compteur
fido2-true = oui
fido2-false = non
fido2-pin-set = { $n ->
        [one] défini, { $n } essai restant
       *[other] défini, { $n } essais restants
    }
fido2-pin-not-set = non défini (applet vierge : `cps fido2 enroll`)
fido2-result-enrolled = code PIN FIDO2 défini
fido2-result-deleted = identifiant supprimé
fido2-result-pin-changed = code PIN FIDO2 changé
fido2-result-reset = applet FIDO2 réinitialisée : identifiants et code PIN effacés
fido2-no-credential = aucun identifiant découvrable
fido2-not-hex = { $what } { $value } n'est pas de l'hexadécimal : { $error }
fido2-reset-needs-yes = `cps fido2 reset` efface tous les identifiants FIDO2 et le code PIN FIDO2 : ajoutez --yes

## cps desfire (src/desfire.rs ; les étapes de préparation et les motifs de refus viennent de cps-desfire)

label-desfire-storage = mémoire
label-desfire-applications = applications
label-desfire-door-check = contrôle porte
label-desfire-credential = accréditation
label-desfire-session = session
label-desfire-exchanges = échanges
label-desfire-card-uid = UID carte
label-desfire-badge = badge
label-desfire-picc-key = clé PICC
label-desfire-valid = validité
desfire-storage-exact = { $n } octets
desfire-storage-about = environ { $n } octets
desfire-apps-not-listed = non listées : { $error }
desfire-authenticated = authentifié auprès de l'application { $aid } avec la clé { $key } ({ $how })
desfire-granted = ACCORDÉ
desfire-credential-hidden = { $n } octets (--show-data les affiche)
desfire-refused = contrôle porte refusé : { $reason }
desfire-contact-side = DESFire non vérifié : DESFire ne répond que par l'interface sans contact : présentez la carte à un lecteur sans contact (simulateur : --contactless)
desfire-keys-readable = attention : { $path } est lisible par d'autres utilisateurs ; gardez les clés de l'établissement privées (chmod 600)
desfire-reading-key-file = lecture du fichier de clés { $path } : { $error }
desfire-reading-profile = lecture du profil de porte { $path } : { $error }
desfire-bad-profile = profil de porte { $path } : { $error }
desfire-key-not-hex = la clé DESFire n'est pas de l'hexadécimal : { $error }
desfire-no-door-master-key = pas de clé maîtresse de porte : `door-master-key = ...` dans --keys FICHIER, ou CPS_DESFIRE_DOOR_MASTER_KEY
desfire-aid-file-needed = --aid et --file sont nécessaires sans --profile
desfire-dry-run = essai à blanc : rien n'est écrit sur la carte
desfire-step-done = fait
desfire-step-ok = ok
desfire-step-would-do = serait fait
desfire-provision-stopped = préparation interrompue : { $error } (relancez-la pour terminer une fois la cause corrigée ; rien de ce qui est déjà écrit n'est perdu)
desfire-badge-would-be-provisioned = serait préparé
desfire-badge-provisioned = préparé
desfire-badge-already-provisioned = déjà préparé, rien n'a changé
desfire-badge-in = { $state } dans l'application { $aid }, fichier { $file }
desfire-picc-key-delivered = la clé nulle de livraison (n'importe qui peut lister et créer des applications)
desfire-picc-key-establishment = celle de l'établissement (diversifiée par carte)
desfire-valid-range = du { $from } au { $until }
desfire-exchanges = { $n } avec la carte
desfire-exchanges-uid-from-reader = { $n } avec la carte (+ l'UID donné par le lecteur, FF CA 00 00 00)
desfire-exchanges-uid-by-getversion = { $n } avec la carte (le lecteur n'a pas donné d'UID : lu par GetVersion)

## cps sim (src/sim.rs)

sim-profiles = profils de carte :
sim-profile-cps3 = CPS3 : IAS-ECC, T=0, clés RSA-2048, PSO HASH terminé par la carte, objets de données CPS
sim-profile-cps4 = CPS4 : applet ChipDoc sur le canal logique 1, T=0, RSA-2048 (PKCS#1 v1.5, PSS), applet FIDO2 (contact, vierge), DESFire EV3 (sans contact)
sim-personas = porteurs :
sim-test-pins = code PIN du porteur 1234, PUK 12345678 (valeurs de test)
sim-card-removed = carte retirée : { $apdus } APDU traitées

## cps gestion sur le terminal (src/gestion/mod.rs, server.rs), cps man --dir (src/main.rs)

gestion-started = cps gestion : la page de gestion de la carte est à l'URL ci-dessus (gardez-la privée : elle contient le secret de cette exécution) ; arrêt { $idle } s après la fermeture de la page, ou sur Ctrl-C
gestion-no-browser = cps gestion : impossible d'ouvrir le navigateur ({ $error }) : ouvrez vous-même l'URL ci-dessus
gestion-idle-stop = cps gestion : aucune page ouverte depuis { $idle } s : arrêt
man-written = { $n } pages de manuel écrites dans { $dir }
man-write-failed = écriture des pages de manuel dans { $dir } : { $error }

## cps apdu (src/main.rs), cps replay (src/trace.rs) ; le sens des mots d'état vient de cps-apdu

apdu-not-hex = { $arg } n'est pas de l'hexadécimal : { $error }
apdu-native-empty = { $arg } : une trame native a au moins son octet de commande
apdu-not-valid = { $arg } n'est pas une APDU valide : { $error }
replay-too-large = { $path } : plus de 16 Mio, ce n'est pas une trace
replay-exchanges = { $n ->
        [one] { $n } échange
       *[other] { $n } échanges
    }

## Aide (src/help.rs) : posée sur la commande clap à l'exécution

help-about = Outil en ligne de commande pour la carte des professionnels de santé (CPS3 / CPS4)
help-usage = Utilisation :
help-commands = Commandes
help-options = Options
help-arguments = Arguments
help-card-selection = Choix de la carte
help-secrets = Secrets (jamais sur la ligne de commande)
help-flag-help = Afficher l'aide (-h : résumé, --help : détails)
help-flag-version = Afficher la version
help-subcommand-help = Afficher ce message ou l'aide des commandes données
help-global-hint = Options globales (--reader, --sim, --wait, --json, --pin-from...) : `cps --help`.
help-after =
    Choix de la carte : sans --reader, la carte du lecteur qui en contient une (refusé si
    plusieurs lecteurs en contiennent ou aucun) ; la carte simulée intégrée seulement avec
    --sim cps3|cps4 (--persona, --contactless) ou quand aucun service PC/SC ne tourne, et sa
    sortie le dit en premier. --reader NOM|N|PARTIE choisit un lecteur par son nom, son numéro
    ou une partie unique de son nom ; --wait [SECONDES] attend la carte.

    Les codes PIN, PUK et les clés ne sont jamais pris sur la ligne de commande : ils sont
    demandés sur le terminal sans écho (par défaut), ou lus sur l'entrée standard (--pin-from
    stdin, une ligne par secret) ou dans l'environnement (--pin-from env : CPS_PIN, CPS_NEW_PIN,
    CPS_PUK, CPS_FIDO2_PIN, CPS_FIDO2_NEW_PIN, CPS_DESFIRE_KEY).

    Codes de sortie : 0 succès ; 1 autre échec ; 2 erreur d'utilisation (rien n'est envoyé à la
    carte) ; 3 pas de service PC/SC, de lecteur ou de carte (aussi carte retirée, pcscd arrêté,
    pas de réponse) ; 4 lecteur occupé (ou carte réinitialisée par une autre application) ; 5 la
    carte a refusé une commande ; 6 code PIN/PUK erroné ; 7 code PIN/PUK bloqué ; 8 vérification
    en échec (signature, chaîne, auth-test, DESFire) ; 9 `cps doctor` a trouvé un échec.
help-arg-json = Sortie pour les programmes (JSON sur la sortie standard, erreurs comprises)
help-arg-verbose = Plus de détails sur la sortie d'erreur : -v la carte utilisée et un résumé des échanges ; -vv chaque APDU (secrets masqués) avec sa durée
help-arg-trace = Écrire les APDU échangées avec la carte dans FICHIER, secrets masqués, avec leur durée : une transcription pour un ticket d'assistance, que `cps replay FICHIER` relit
help-arg-lang = Langue des messages : fr ou en [par défaut : d'après LC_ALL, LC_MESSAGES, LANG]
help-arg-reader = Utiliser la carte de ce lecteur PC/SC : son nom, son numéro dans `cps readers` (0, 1...), une partie unique de son nom, ou `auto` (le premier lecteur qui contient une carte). Sans cette option : le seul lecteur qui contient une carte
help-arg-sim = Utiliser la carte simulée intégrée, cps3 ou cps4 (jamais choisie d'elle-même quand un service PC/SC tourne)
help-arg-persona = Porteur de la carte simulée (voir `cps sim list`) [par défaut : dr-martin]
help-arg-contactless = Alimenter la carte simulée par son interface sans contact (côté DESFire)
help-arg-wait = Attendre une carte dans le lecteur jusqu'à SECONDES (30 par défaut ; dans n'importe quel lecteur sans --reader), avec un indicateur de progression
help-arg-timeout = Abandonner une carte qui ne répond pas à une commande en SECONDES (lecteurs PC/SC ; par défaut 20 à contact, 5 sans contact, 120 pour une génération de clé sur la carte)
help-arg-at = Évaluer la validité des certificats à cette date (AAAA-MM-JJ, UTC) au lieu de maintenant
help-arg-pin-from = prompt : demander sur le terminal sans écho ; stdin : une ligne par secret, dans l'ordre où la commande les demande ; env : CPS_PIN, CPS_NEW_PIN, CPS_PUK, CPS_FIDO2_PIN, CPS_FIDO2_NEW_PIN, CPS_DESFIRE_KEY
help-cmd-info = La carte : génération, type, numéro, ATR, applications, essais du code PIN, certificats
help-cmd-identity = Le porteur : nom, identifiants, profession ; avec --situations les situations d'exercice (données de facturation, demande le code PIN)
help-cmd-certs = Les certificats de la carte : liste (par défaut), export, vérification de la chaîne
help-cmd-pin = Le code PIN du porteur : état, vérification, changement, déblocage avec le PUK
help-cmd-sign = Signer un fichier avec la carte (SHA-256 du fichier, signé par la clé de la carte)
help-cmd-verify = Vérifier une signature faite par `cps sign`, avec un fichier de certificat ou celui de la carte
help-cmd-auth-test = Défi-réponse avec la clé d'authentification, vérifié avec son certificat
help-cmd-fido2 = L'applet FIDO2 de la CPS4 (interface à contact)
help-cmd-desfire = Le côté DESFire de la CPS4 (interface sans contact)
help-cmd-doctor = La liste de contrôle de la migration vers la CPS4 pour ce poste et cette carte
help-cmd-update = Télé mise à jour : relaie la mise à jour en attente de la carte (nouvelles situations d'exercice, certificats renouvelés) depuis un service de mise à jour, avec une barre de progression. Interruption sans risque : rien ne change sur la carte avant la validation finale ; relancez pour reprendre
help-cmd-update-server = L'autorité de mise à jour de référence (clés de TEST et IGC de TEST) en HTTP, ses enregistrements et mises à jour en attente dans SQLite ; affiche son URL et sert jusqu'à interruption. L'API JSON est décrite dans docs/remote-update.md
help-cmd-gestion = La page de gestion de la carte : une page web locale (en français ou en anglais) qui montre la carte et ses certificats, change ou débloque le code PIN, lance la mise à jour à distance et enrôle FIDO2. Affiche d'abord l'URL de la page (avec le secret de cette exécution), ouvre le navigateur, et s'arrête quand la page est fermée depuis un moment. Voir docs/gestion.fr.md
help-cmd-readers = Lister les lecteurs PC/SC, la présence d'une carte, l'ATR et l'interface
help-cmd-apdu = Envoyer des APDU brutes (hexadécimal) et afficher les réponses avec leurs mots d'état décodés
help-cmd-sim = Les cartes CPS simulées (cartes de test sans carte physique)
help-cmd-completions = Complétions du shell sur la sortie standard, par exemple `cps completions bash > /etc/bash_completion.d/cps`
help-cmd-man = Pages de manuel générées depuis cette ligne de commande : `cps man` affiche cps(1) ; `--dir DOSSIER` écrit cps.1 et une page par commande (cps-info.1, ...) dans DOSSIER
help-cmd-replay = Relire une trace (`--trace FICHIER`) : sans COMMANDE, ses échanges décodés ; avec COMMANDE (`cps replay FICHIER info`), cette commande exécutée avec la trace comme carte (un secret est reconnu à sa longueur : donnez-en un de même longueur)
help-cmd-pin-status = État du code PIN et du PUK, sans consommer d'essai (code de sortie 7 si le code PIN est bloqué)
help-cmd-pin-verify = Vérifier le code PIN du porteur (un essai)
help-cmd-pin-change = Changer le code PIN du porteur (demande le code actuel, puis le nouveau)
help-cmd-pin-unblock = Débloquer le code PIN du porteur avec le PUK et choisir un nouveau code (demande le PUK, puis le nouveau code)
help-cmd-sim-list = Lister les profils de cartes simulées et les porteurs
help-cmd-certs-list = Lister les certificats avec leur validité et l'état de leur renouvellement (par défaut)
help-cmd-certs-export = Écrire les certificats dans des fichiers (un par certificat, nommé d'après son libellé)
help-cmd-certs-verify = Vérifier la chaîne de chaque certificat du porteur jusqu'à une racine de confiance
help-cmd-fido2-info = getInfo : versions, options, AAGUID, code PIN défini ou non, essais restants
help-cmd-fido2-enroll = Définir le premier code PIN FIDO2 d'une applet vierge
help-cmd-fido2-register = Enregistrer un identifiant pour une partie utilisatrice (makeCredential, ES256)
help-cmd-fido2-authenticate = Obtenir des assertions pour une partie utilisatrice (getAssertion)
help-cmd-fido2-credentials = Lister les identifiants découvrables (demande le code PIN FIDO2)
help-cmd-fido2-delete = Supprimer un identifiant découvrable
help-cmd-fido2-change-pin = Changer le code PIN FIDO2 (demande le code actuel, puis le nouveau)
help-cmd-fido2-reset = Effacer tous les identifiants FIDO2 et le code PIN FIDO2
help-cmd-desfire-info = GetVersion (génération, UID, mémoire) et les identifiants d'application
help-cmd-desfire-auth = S'authentifier avec une clé d'application (EV2First pour AES, ISO pour DES/3DES)
help-cmd-desfire-read = Lire un fichier de données (après authentification, sauf avec --no-auth)
help-cmd-desfire-door-check = Le contrôle d'accès : s'authentifier (clé diversifiée AN10922 avec --diversify) et lire le fichier d'accréditation. Avec --profile, le badge de l'établissement tel que ses portes le lisent : UID du lecteur, sélection, authentification, lecture — 4 échanges avec la carte. Code de sortie 8 quand la carte est refusée
help-cmd-desfire-provision = Préparer le badge comme le fait un établissement : s'authentifier auprès de la carte avec la clé maîtresse PICC (la clé nulle de livraison, ou celle de l'établissement), créer l'application de l'établissement avec des clés AES diversifiées par carte (AN10922), créer et écrire le fichier du badge (porteur, validité), le contrôler comme une porte, et en option remplacer la clé maîtresse PICC. Interruption sans risque : relancez la commande pour terminer
help-cmd-sim-serve = Insérer une carte simulée dans le lecteur virtuel de pcscd (vsmartcard-vpcd) pour que toute application PC/SC (OpenSC, votre logiciel) la voie ; tourne jusqu'à interruption. Le porteur est --persona ; --contactless présente son interface sans contact

# Options de chaque commande : help-opt-COMMANDE-OPTION.
help-opt-identity-situations = Lire aussi les situations d'exercice (EF.DAM, données de facturation) : demande le code PIN
help-opt-certs-export-out = Répertoire où écrire (créé s'il n'existe pas)
help-opt-certs-export-format = Format des fichiers
help-opt-certs-verify-root = Le ou les certificats racines de confiance : fichier PEM (un ou plusieurs) ou DER
help-opt-certs-verify-intermediates = Certificats d'AC intermédiaires (lot PEM ou DER), en plus de ceux de la carte
help-opt-sign-key = La clé qui signe
help-opt-sign-input = Le fichier à signer (son SHA-256 est signé)
help-opt-sign-out = Où écrire la signature (par défaut : FICHIER.sig) : RSA PKCS#1 v1.5 (ce que lit `openssl dgst -verify`), ou RSA-PSS avec --pss
help-opt-sign-cert-out = Écrire aussi ici le certificat du signataire (PEM), pour `cps verify --cert`
help-opt-sign-pss = RSA-PSS (sel de la longueur du condensé) au lieu de PKCS#1 v1.5 : CPS4 seulement. À vérifier avec `cps verify --pss`, ou `openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify`
help-opt-verify-input = Le fichier signé
help-opt-verify-sig = Le fichier de signature (par défaut : FICHIER.sig)
help-opt-verify-cert = Le certificat du signataire (PEM ou DER). Sans lui, le certificat de la carte pour --key est utilisé
help-opt-verify-key = Quel certificat de la carte, sans --cert
help-opt-verify-pss = La signature est RSA-PSS (sel de 32, MGF1-SHA-256), telle que la produit `cps sign --pss`
help-opt-fido2-register-rp = Identifiant de la partie utilisatrice (un domaine)
help-opt-fido2-register-user = Nom d'utilisateur
help-opt-fido2-register-resident = Enregistrer l'identifiant sur la carte (découvrable)
help-opt-fido2-register-no-pin = Enregistrer sans le code PIN (sans vérification de l'utilisateur)
help-opt-fido2-authenticate-rp = Identifiant de la partie utilisatrice
help-opt-fido2-authenticate-credentials = Identifiants de clé (hex) autorisés ; aucun : les identifiants découvrables de la partie utilisatrice
help-opt-fido2-authenticate-no-pin = Sans le code PIN (sans vérification de l'utilisateur)
help-opt-fido2-delete-credential = Identifiant de clé (hex), tel que `cps fido2 credentials` l'affiche
help-opt-fido2-reset-yes = Confirmer : les identifiants ne pourront pas être récupérés
help-opt-desfire-auth-aid = Identifiant d'application (6 chiffres hex, comme les liste `cps desfire info` ; 000000 = PICC)
help-opt-desfire-auth-key-no = Numéro de clé dans l'application
help-opt-desfire-auth-key-type = Type de clé (la clé elle-même est lue comme un secret : CPS_DESFIRE_KEY avec --pin-from env)
help-opt-desfire-read-aid = Identifiant d'application (6 chiffres hex, comme les liste `cps desfire info` ; 000000 = PICC)
help-opt-desfire-read-key-no = Numéro de clé dans l'application
help-opt-desfire-read-key-type = Type de clé (la clé elle-même est lue comme un secret : CPS_DESFIRE_KEY avec --pin-from env)
help-opt-desfire-read-file = Numéro de fichier
help-opt-desfire-read-offset = Position de départ
help-opt-desfire-read-length = Longueur (0 : jusqu'à la fin du fichier)
help-opt-desfire-read-no-auth = Lire sans s'authentifier (fichiers en accès libre)
help-opt-desfire-door-check-profile = Fichier de profil de porte (AID, fichier du badge, numéro de clé, mode de communication, diversification) : ce que la porte connaît d'avance. La clé maîtresse de porte vient de --keys ou de CPS_DESFIRE_DOOR_MASTER_KEY
help-opt-desfire-door-check-keys = Fichier de clés contenant `door-master-key = ...` (avec --profile)
help-opt-desfire-door-check-aid = Identifiant d'application (6 chiffres hex ; sans --profile)
help-opt-desfire-door-check-key-no = Numéro de clé dans l'application (sans --profile)
help-opt-desfire-door-check-key-type = Type de clé (la clé elle-même est lue comme un secret : CPS_DESFIRE_KEY avec --pin-from env)
help-opt-desfire-door-check-file = Numéro du fichier d'accréditation (sans --profile)
help-opt-desfire-door-check-diversify = Diversifier la clé maîtresse avec l'UID de la carte (AN10922)
help-opt-desfire-door-check-system-id = Identifiant système AN10922 (hex) après UID ‖ AID
help-opt-desfire-door-check-comm = Le mode de communication du fichier d'accréditation, s'il est connu : évite l'échange GetFileSettings (sans --profile)
help-opt-desfire-door-check-show-data = Afficher les octets de l'accréditation (masqués par défaut)
help-opt-desfire-provision-profile = Fichier de profil de porte (AID, fichier du badge, numéro de clé de porte, mode de communication, diversification)
help-opt-desfire-provision-keys = Fichier de clés de l'établissement (`app-master-key`, `door-master-key`, `picc-master-key` facultative, `key-version`) ; sans lui : CPS_DESFIRE_APP_MASTER_KEY, CPS_DESFIRE_DOOR_MASTER_KEY, CPS_DESFIRE_PICC_MASTER_KEY, CPS_DESFIRE_KEY_VERSION
help-opt-desfire-provision-holder = Identifiant du porteur écrit dans le badge (par exemple le numéro RPPS)
help-opt-desfire-provision-valid-from = Premier jour où le badge ouvre les portes (AAAA-MM-JJ)
help-opt-desfire-provision-valid-until = Dernier jour où le badge ouvre les portes (AAAA-MM-JJ)
help-opt-desfire-provision-change-picc-key = Remplacer la clé maîtresse PICC par celle de l'établissement (diversifiée par carte)
help-opt-desfire-provision-dry-run = Ne rien changer : lire la carte et afficher ce que ferait une exécution
help-opt-update-server = Le service de mise à jour, par exemple http://127.0.0.1:8700 (`cps update-server`)
help-opt-update-server-listen = Adresse d'écoute (port 0 : n'importe quel port libre)
help-opt-update-server-db = Fichier de base SQLite (créé s'il n'existe pas)
help-opt-update-server-seed-test-cards = Enregistrer les cartes simulées de tous les profils de porteur (CPS3 et CPS4)
help-opt-update-server-admin-key-file = Fichier de la clé d'administration (64 chiffres hex) : l'API `/v1/cards` répond alors aux requêtes portant un jeton signé avec elle (`cps-update-server admin-token`) ; sans lui, l'administration par HTTP est refusée
help-opt-gestion-listen = Adresse où servir la page (port 0 : un port libre). Une adresse autre que la boucle locale rend la page accessible depuis le réseau : le secret de l'URL est alors sa seule protection
help-opt-gestion-no-browser = Afficher seulement l'URL ; ne pas ouvrir le navigateur
help-opt-gestion-update-server = Le service de mise à jour que propose la page Mise à jour (par exemple http://127.0.0.1:8700)
help-opt-gestion-idle-exit = S'arrêter quand aucune page n'a rien demandé depuis SECONDES (la page demande deux fois par seconde tant qu'elle est ouverte ; les navigateurs ralentissent les onglets en arrière-plan jusqu'à environ une fois par minute)
help-opt-apdu-exclusive = Se connecter en mode exclusif
help-opt-apdu-raw = Envoyer les octets tels quels : pas de GET RESPONSE, pas de correction de Le
help-opt-apdu-check = Sortir avec le code 5 si un mot d'état de réponse n'est pas 9000 (91 00 pour DESFire, un état natif 00)
help-opt-apdu-native = Trames DESFire natives (`60` GetVersion, `AF`, `5A 43 50 53`...) : envoyées telles quelles, de toute longueur ; le premier octet de la réponse est décodé comme un état DESFire
help-opt-apdu-apdus = APDU en hex (espaces et deux-points permis dans un argument entre guillemets)
help-opt-sim-serve-profile = Profil de carte : cps3 ou cps4 (la CPS4 : ChipDoc sur le canal logique 1) [par défaut : le --sim global, sinon cps4]
help-opt-sim-serve-port = Port vpcd : 35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01"
help-opt-sim-serve-reconnect-for = Quand pcscd s'arrête, attendre jusqu'à SECONDES son retour (puis réinsérer la même carte) ; 0 sort aussitôt. Code de sortie 3 s'il ne revient pas
help-opt-sim-serve-pull-at = Injection de panne (tests) : la carte exécute l'APDU N, puis quitte le lecteur avant de répondre ; elle est réinsérée 1 s plus tard (même état)
help-opt-sim-serve-freeze-at = Injection de panne (tests) : la carte cesse de répondre à l'APDU N
help-opt-completions-shell = Le shell
help-opt-man-dir = Écrire toutes les pages dans ce répertoire
help-opt-replay-file = Le fichier de trace
help-opt-replay-command = Une commande de carte et ses options

# Valeurs possibles des options (help-val-OPTION-VALEUR) et les mots de clap autour d'elles.
help-default = [par défaut : { $value }]
help-possible-values-inline = [valeurs possibles : { $values }]
help-possible-values = Valeurs possibles :
help-val-comm-full = Chiffré
help-val-comm-mac = Avec MAC
help-val-comm-plain = En clair
help-val-format-der = DER (binaire)
help-val-format-pem = PEM (texte, `-----BEGIN CERTIFICATE-----`)
help-val-key-auth = La clé d'authentification (CPS3 : INTERNAL AUTHENTICATE ; CPS4 : PSO DECIPHER du DigestInfo complété)
help-val-key-sign = La clé de signature (PSO COMPUTE DIGITAL SIGNATURE)
help-val-key-type-2k3des = 3DES à 2 clés (16 octets)
help-val-key-type-3k3des = 3DES à 3 clés (24 octets)
help-val-key-type-aes = AES-128 (16 octets)
help-val-key-type-des = DES simple (8 octets)
help-val-pin-from-env = Variables d'environnement
help-val-pin-from-prompt = Demander sur le terminal, sans écho
help-val-pin-from-stdin = Une ligne par secret sur l'entrée standard

## La page de gestion (src/gestion/i18n.rs) : `page-CLÉ` remplit `{{CLÉ}}` de assets/index.html
## et les mots de assets/app.js (son t('CLÉ')) ; app.js remplace { $n }, { $date }...

page-title = Gestion de la carte CPS
page-tab_card = Carte
page-tab_pin = Code PIN
page-tab_update = Mise à jour
page-tab_fido2 = FIDO2
page-no_card = Aucune carte : insérez la carte CPS.
page-loading = Lecture de la carte…
page-generation = Génération
page-family = Type de carte
page-serial = Numéro de carte
page-holder = Titulaire
page-national_id = Identifiant national
page-profession = Profession
page-speciality = Spécialité
page-pin_state = Code PIN
page-puk_state = Code de déblocage (PUK)
page-tries_left = { $n } essai(s) restant(s)
page-verified = vérifié
page-blocked = BLOQUÉ
page-certificates = Certificats
page-timeline_issued = émis
page-timeline_renewal = renouvellement
page-timeline_expiry = expiration
page-timeline_today = aujourd'hui
page-valid_until = valide jusqu'au { $date }
page-renewal_due = renouvellement disponible (valide jusqu'au { $date })
page-expired = expiré (le { $date })
page-not_yet_valid = pas encore valide (à partir du { $date })
page-test_pki = certificats de TEST (jamais en production)
page-situations = Situations d'exercice
page-situations_help = Lues avec le code PIN (données de facturation).
page-show_situations = Afficher
page-structure = Structure
page-practice_mode = Mode d'exercice
page-sector = Secteur d'activité
page-city = Ville
page-pin = Code PIN
page-new_pin = Nouveau code PIN (4 à 8 chiffres)
page-new_pin_again = Nouveau code PIN, à nouveau
page-puk = Code de déblocage (PUK)
page-change_pin = Changer le code PIN
page-unblock_pin = Débloquer le code PIN
page-pin_changed = Code PIN changé.
page-pin_unblocked = Code PIN débloqué et remplacé.
page-pins_differ = Les deux nouveaux codes diffèrent : rien n'a été envoyé à la carte.
page-pin_format = Le code doit comporter 4 à 8 chiffres : rien n'a été envoyé à la carte.
page-wrong_pin = Code erroné : { $n } essai(s) restant(s).
page-now_blocked = Code bloqué.
page-pin_once = Le code est envoyé une seule fois à la carte ; il n'est ni enregistré ni affiché.
page-update_service = Service de mise à jour
page-usage_authentication = authentification
page-usage_signature = signature
page-start_update = Lancer la mise à jour
page-update_help = Vous pouvez fermer la page ou retirer la carte : la prochaine mise à jour reprendra.
page-up_to_date = Carte à jour (mise à jour n° { $seq }).
page-updated = Mise à jour terminée : { $steps } étape(s), la carte est à la mise à jour n° { $seq }.
page-update_running = Mise à jour en cours…
page-fido2_absent = Pas d'applet FIDO2 sur cette carte (CPS4 uniquement).
page-fido2_blank = Applet FIDO2 vierge : choisissez son code PIN.
page-fido2_enrolled = Code PIN FIDO2 défini, { $n } essai(s) restant(s).
page-fido2_pin = Code PIN FIDO2
page-fido2_new_pin = Nouveau code PIN FIDO2 (4 caractères ou plus)
page-enroll = Enrôler (définir le code PIN)
page-enrolled_ok = Code PIN FIDO2 défini.
page-list_credentials = Lister les identifiants
page-no_credentials = Aucun identifiant enregistré.
page-delete = Supprimer
page-deleted = Identifiant supprimé.
page-reset = Réinitialiser l'applet FIDO2
page-reset_confirm = Tapez EFFACER pour confirmer : tous les identifiants et le code PIN FIDO2 seront perdus.
page-reset_word = EFFACER
page-reset_done = Applet FIDO2 réinitialisée.
page-error = Erreur
page-simulated = CARTE SIMULÉE
page-closed = Le service s'est arrêté : relancez « cps gestion ».
