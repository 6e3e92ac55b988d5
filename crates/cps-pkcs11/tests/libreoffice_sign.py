#!/usr/bin/python3
"""Signs a Writer document with the CPS card's signature certificate, through LibreOffice's UNO API.

Run by crates/cps-pkcs11/tests/libreoffice.rs with Debian's python3 (python3-uno), against a
headless soffice started by the test with `--accept=pipe,name=<PIPE>;urp;` and
MOZILLA_CERTIFICATE_FOLDER set to an NSS database holding our PKCS#11 module.

    libreoffice_sign.py PIPE DOCUMENT.odt HOLDER UNZIPPED

1. writes a small Writer document to DOCUMENT.odt (filter writer8);
2. lists the personal certificates of LibreOffice's security environment
   (SEInitializer.createSecurityContext().getSecurityEnvironment().getPersonalCertificates()),
   the ones that have a private key in a token;
3. takes the one whose subject names HOLDER and whose key usage has nonRepudiation (the card's
   signature certificate; its authentication certificate has digitalSignature);
4. signs the document content with it (DocumentDigitalSignatures.signDocumentWithCertificate
   on the document's file opened as a plain ZIP storage, committed to DOCUMENT.odt);
5. reopens the file and asks LibreOffice to verify its signatures
   (verifyDocumentContentSignatures);
6. without LibreOffice (zipfile, ElementTree): extracts the package to the directory UNZIPPED
   and reads the certificates, signature method, references and signature value length of
   META-INF/documentsignatures.xml.

Prints one JSON object on stdout (the test checks it); exits non-zero on any failure.
"""

import base64
import json
import sys
import time

import xml.etree.ElementTree as ET
import zipfile

import uno
from com.sun.star.beans import PropertyValue

DSIG = "http://www.w3.org/2000/09/xmldsig#"
# com.sun.star.embed.ElementModes
READ = 1
WRITE = 4
# NSS's key usage bit as XCertificate.getCertificateUsage() gives it (KU_NON_REPUDIATION in NSS
# certt.h: the first byte of the X.509 KeyUsage bit string; digitalSignature is 0x80).
KU_NON_REPUDIATION = 0x40


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def connect(pipe, seconds=60):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + seconds
    while True:
        try:
            return resolver.resolve(
                "uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
        except Exception:  # NoConnectException until soffice listens
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def zip_storage(factory, url, mode):
    """The document's file as a plain ZIP storage (META-INF visible), as LibreOffice's own
    signing code opens it (SfxMedium::GetZipStorageToSign_Impl: StorageFormat ZipFormat)."""
    props = uno.Any("[]com.sun.star.beans.PropertyValue", (prop("StorageFormat", "ZipFormat"),))
    return uno.invoke(factory, "createInstanceWithArguments", ((url, mode, props),))


def describe(cert):
    return {
        "subject": cert.SubjectName,
        "issuer": cert.IssuerName,
        "usage": cert.getCertificateUsage(),
        "der_hex": bytes(cert.Encoded.value).hex(),
    }


def main():
    pipe, path, holder, unzipped = sys.argv[1:5]
    ctx = connect(pipe)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    try:
        return sign_and_verify(ctx, desktop, path, holder, unzipped)
    finally:
        try:
            desktop.terminate()
        except Exception:  # the bridge closes as soffice exits
            pass


def sign_and_verify(ctx, desktop, path, holder, unzipped):
    smgr = ctx.ServiceManager
    url = uno.systemPathToFileUrl(path)
    out = {}

    # 1. The document.
    doc = desktop.loadComponentFromURL(
        "private:factory/swriter", "_blank", 0, (prop("Hidden", True),))
    doc.Text.setString("Ordonnance de test, signée par la CPS simulée (cps-rs).")
    doc.storeToURL(url, (prop("FilterName", "writer8"),))
    doc.close(True)

    # 2. The personal certificates (the NSS database of MOZILLA_CERTIFICATE_FOLDER).
    started = time.monotonic()
    se = smgr.createInstanceWithContext("com.sun.star.xml.crypto.SEInitializer", ctx)
    env = se.createSecurityContext("").getSecurityEnvironment()
    certs = env.getPersonalCertificates()
    out["personal_certificates"] = [describe(c) for c in certs]
    out["list_seconds"] = time.monotonic() - started

    # 3. The card's signature certificate.
    chosen = [c for c in certs
              if holder in c.SubjectName and c.getCertificateUsage() & KU_NON_REPUDIATION]
    if len(chosen) != 1:
        out["error"] = "expected one %s certificate with nonRepudiation, found %d" % (
            holder, len(chosen))
        print(json.dumps(out))
        return 1
    cert = chosen[0]
    out["chosen"] = describe(cert)

    # 4. Sign (ODF 1.2 signatures: XAdES, META-INF/documentsignatures.xml).
    signer = smgr.createInstanceWithArgumentsAndContext(
        "com.sun.star.security.DocumentDigitalSignatures", ("1.2",), ctx)
    storage_factory = smgr.createInstanceWithContext("com.sun.star.embed.StorageFactory", ctx)
    storage = zip_storage(storage_factory, url, READ | WRITE)
    started = time.monotonic()
    try:
        out["signed"] = bool(signer.signDocumentWithCertificate(cert, storage, None))
    except Exception as e:  # reported, then the file is checked as it is
        out["signed"] = False
        out["sign_error"] = repr(e)
    out["sign_seconds"] = time.monotonic() - started
    storage.dispose()

    # 5. Verify, on the file as stored.
    verifier = smgr.createInstanceWithArgumentsAndContext(
        "com.sun.star.security.DocumentDigitalSignatures", ("1.2",), ctx)
    storage = zip_storage(storage_factory, url, READ)
    infos = verifier.verifyDocumentContentSignatures(storage, None)
    out["signatures"] = [{
        "valid": bool(i.SignatureIsValid),
        "certificate_status": i.CertificateStatus,
        "partial": bool(i.PartialDocumentSignature),
        "signer": describe(i.Signer) if i.Signer is not None else None,
    } for i in infos]
    storage.dispose()

    # 6. Without LibreOffice: the package's files extracted to UNZIPPED (for xmlsec1, run by
    # the test) and the certificates in the XML signature.
    with zipfile.ZipFile(path) as package:
        package.extractall(unzipped)
        names = package.namelist()
        signatures = ET.fromstring(package.read("META-INF/documentsignatures.xml")
                                   if "META-INF/documentsignatures.xml" in names
                                   else "<none/>")
    out["xml_signatures"] = [{
        "x509_certificates": [base64.b64decode(c.text).hex()
                              for c in s.iter("{%s}X509Certificate" % DSIG)],
        "signature_method": [m.get("Algorithm")
                             for m in s.iter("{%s}SignatureMethod" % DSIG)],
        "references": [r.get("URI") for r in s.iter("{%s}Reference" % DSIG)],
        "signature_value_bytes": [len(base64.b64decode("".join((v.text or "").split())))
                                  for v in s.iter("{%s}SignatureValue" % DSIG)],
    } for s in signatures.iter("{%s}Signature" % DSIG)]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
