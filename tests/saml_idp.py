"""A SAML 2.0 identity provider over HTTP, for the tests of Tessera as a SAML service provider.

Run as `python tests/saml_idp.py` (with pysaml2 installed, and the xmlsec1 binary, which pysaml2
runs to sign): it listens on a free port of 127.0.0.1, prints the one line
`listening http://127.0.0.1:PORT` to stdout, then serves until it is killed; logs go to stderr.
Its entity id is http://127.0.0.1:PORT/metadata. At start-up it makes, in a temporary directory,
its signing key and self-signed certificate (RSA-2048, SHA-256), published in its metadata, and a
second, unrelated "rogue" key and certificate that are never published.

  GET  /metadata  its metadata: the signing certificate and the HTTP-Redirect SSO endpoint /sso.
  POST /sp        body: an SP's metadata XML. Registers that SP (entity id, HTTP-POST
                  AssertionConsumerService); the same entity id again replaces it. 204.
  GET  /sso       SAMLRequest (and RelayState) of the HTTP-Redirect binding: a sign-in page whose
                  form posts to /login. 400 for an unknown SP or a malformed request.
  POST /login     SAMLRequest, RelayState, email, name, subject, variant: a page whose form posts
                  the SAMLResponse (HTTP-POST binding) and RelayState to the SP's ACS, by itself
                  when JavaScript runs, with the button "Continue" otherwise.

The Response carries one bearer assertion for the NameID `subject` (persistent; the email when
left empty), with the attributes mail (urn:oid:0.9.2342.19200300.100.1.3) and, when a name is
given, displayName (urn:oid:2.16.840.1.113730.3.1.241); the assertion and the Response are both
signed (RSA-SHA256, exclusive c14n). `variant` picks a realistic attack or fault instead: see
VARIANTS below.
"""

import base64
import html
import re
import shutil
import signal
import sys
import tempfile
import uuid
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

# pysaml2 reaches for cipher modes that cryptography has deprecated; that is pysaml2's business.
warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"saml2\.")

from saml2 import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    extension_element_from_string,
    saml,
    samlp,
    xmldsig,
)
from saml2.config import IdPConfig
from saml2.mdstore import InMemoryMetaData
from saml2.server import Server
from saml2.sigver import pre_signature_part

ASSERTION = f"{saml.NAMESPACE}:Assertion"
RESPONSE = f"{samlp.NAMESPACE}:Response"
PREFIXES = {"samlp": samlp.NAMESPACE, "saml": saml.NAMESPACE, "ds": xmldsig.NAMESPACE}
MAIL = "urn:oid:0.9.2342.19200300.100.1.3"
DISPLAY_NAME = "urn:oid:2.16.840.1.113730.3.1.241"
PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
MALLORY = "mallory@attacker.example"
OTHER_SP = "https://another-sp.example"
EVIL_IDP = "https://evil-idp.example/metadata"
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)


class BadRequest(Exception):
    """Answered with 400 and the message as text."""


@dataclass(frozen=True)
class KeyPair:
    key_file: str
    cert_file: str
    cert_base64: str  # the DER certificate, as in ds:X509Certificate


def make_key_pair(directory: Path, name: str) -> KeyPair:
    """A new RSA-2048 key and a self-signed certificate for it (SHA-256), as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Tessera test IdP ({name})")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der = cert.public_bytes(serialization.Encoding.DER)
    return KeyPair(str(key_file), str(cert_file), base64.b64encode(der).decode())


@dataclass(frozen=True)
class Facts:
    """What a Response states; the variants change some of it."""

    issuer: str
    recipient: str  # the Response's Destination and the SubjectConfirmationData's Recipient
    in_response_to: str
    audience: str
    subject: str
    email: str
    name: str
    issued: datetime  # IssueInstant and AuthnInstant
    not_before: datetime
    not_on_or_after: datetime  # of the Conditions and of the SubjectConfirmationData


def new_id() -> str:
    return f"_{uuid.uuid4().hex}"


def instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def signature_template(node_id: str, key: KeyPair | None) -> xmldsig.Signature | None:
    """The ds:Signature that xmlsec1 fills in later (see IdP.sign); None for an unsigned element."""
    if key is None:
        return None
    return pre_signature_part(
        node_id, key.cert_base64, sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256
    )


def uri_attribute(name: str, friendly_name: str, value: str) -> saml.Attribute:
    return saml.Attribute(
        name=name,
        friendly_name=friendly_name,
        name_format=saml.NAME_FORMAT_URI,
        attribute_value=[saml.AttributeValue(text=value)],
    )


def build_assertion(facts: Facts, assertion_id: str, key: KeyPair | None) -> saml.Assertion:
    attributes = [uri_attribute(MAIL, "mail", facts.email)]
    if facts.name:
        attributes.append(uri_attribute(DISPLAY_NAME, "displayName", facts.name))
    return saml.Assertion(
        id=assertion_id,
        version="2.0",
        issue_instant=instant(facts.issued),
        issuer=saml.Issuer(text=facts.issuer, format=saml.NAMEID_FORMAT_ENTITY),
        signature=signature_template(assertion_id, key),
        subject=saml.Subject(
            name_id=saml.NameID(text=facts.subject, format=saml.NAMEID_FORMAT_PERSISTENT),
            subject_confirmation=[
                saml.SubjectConfirmation(
                    method=saml.SCM_BEARER,
                    subject_confirmation_data=saml.SubjectConfirmationData(
                        recipient=facts.recipient,
                        in_response_to=facts.in_response_to,
                        not_on_or_after=instant(facts.not_on_or_after),
                    ),
                )
            ],
        ),
        conditions=saml.Conditions(
            not_before=instant(facts.not_before),
            not_on_or_after=instant(facts.not_on_or_after),
            audience_restriction=[
                saml.AudienceRestriction(audience=[saml.Audience(text=facts.audience)])
            ],
        ),
        authn_statement=[
            saml.AuthnStatement(
                authn_instant=instant(facts.issued),
                session_index=new_id(),
                authn_context=saml.AuthnContext(
                    authn_context_class_ref=saml.AuthnContextClassRef(
                        text=PASSWORD_PROTECTED_TRANSPORT
                    )
                ),
            )
        ],
        attribute_statement=[saml.AttributeStatement(attribute=attributes)],
    )


def build_response(
    facts: Facts,
    response_id: str,
    key: KeyPair | None,
    assertions: list[saml.Assertion],
    status: str = samlp.STATUS_SUCCESS,
    extensions: samlp.Extensions | None = None,
) -> samlp.Response:
    return samlp.Response(
        id=response_id,
        version="2.0",
        issue_instant=instant(facts.issued),
        destination=facts.recipient,
        in_response_to=facts.in_response_to,
        issuer=saml.Issuer(text=facts.issuer, format=saml.NAMEID_FORMAT_ENTITY),
        signature=signature_template(response_id, key),
        extensions=extensions,
        status=samlp.Status(status_code=samlp.StatusCode(value=status)),
        assertion=assertions,
    )


# The variants. Each builds the whole document with its signature templates in place, then has
# xmlsec1 sign the elements innermost first, so that no change follows a signature unless the
# variant is about breaking one.


def signed(idp: "IdP", facts: Facts, sign_assertion=True, sign_response=True, key=None) -> str:
    """A Response as the facts say, with the chosen signatures, by the IdP's key unless told."""
    key = key or idp.key
    assertion_id, response_id = new_id(), new_id()
    assertion = build_assertion(facts, assertion_id, key if sign_assertion else None)
    response = build_response(facts, response_id, key if sign_response else None, [assertion])
    to_sign = ([(ASSERTION, assertion_id)] if sign_assertion else []) + (
        [(RESPONSE, response_id)] if sign_response else []
    )
    return idp.sign(response, to_sign, key)


def tampered(idp: "IdP", facts: Facts) -> str:
    """A valid Response whose email attribute is changed after signing."""
    xml, count = re.subn(
        rf'(Name="{re.escape(MAIL)}".*?<saml:AttributeValue[^>]*>)[^<]*',
        rf"\g<1>{MALLORY}",
        signed(idp, facts),
        count=1,
        flags=re.DOTALL,
    )
    assert count == 1
    return xml


def wrapped(idp: "IdP", facts: Facts, how: str) -> str:
    """Signature wrapping: an assertion for the typed user, signed by the IdP's key, and an unsigned
    one for mallory, which the signed one is put beside or inside so that its signature still
    verifies."""
    evil = build_assertion(replace(facts, subject="mallory", email=MALLORY), new_id(), None)
    original_id = new_id()
    original = build_assertion(facts, original_id, idp.key)
    to_sign = [(ASSERTION, original_id)]
    if how == "sibling":
        response = build_response(facts, new_id(), None, [evil, original])
    elif how == "nested":
        evil.advice = saml.Advice(assertion=[original])
        response = build_response(facts, new_id(), None, [evil])
    else:  # "response": the whole signed Response inside an unsigned one's Extensions
        inner_id = new_id()
        inner = build_response(facts, inner_id, idp.key, [original]).to_string(PREFIXES)
        extensions = samlp.Extensions(extension_elements=[extension_element_from_string(inner)])
        response = build_response(facts, new_id(), None, [evil], extensions=extensions)
        to_sign.append((RESPONSE, inner_id))
    return idp.sign(response, to_sign, idp.key)


def status_error(idp: "IdP", facts: Facts) -> str:
    """A signed Response with the status Responder and no assertion."""
    response_id = new_id()
    response = build_response(facts, response_id, idp.key, [], status=samlp.STATUS_RESPONDER)
    return idp.sign(response, [(RESPONSE, response_id)], idp.key)


# name: (what the sign-in page says of it, how it is made)
VARIANTS = {
    "valid": ("assertion and Response signed", lambda idp, f: signed(idp, f)),
    "assertion-only": (
        "only the assertion signed",
        lambda idp, f: signed(idp, f, sign_response=False),
    ),
    "unsigned": (
        "no signature at all",
        lambda idp, f: signed(idp, f, sign_assertion=False, sign_response=False),
    ),
    "tampered": ("email changed to mallory's after signing", tampered),
    "xsw-sibling": (
        "unsigned assertion for mallory before the signed one (wrapping)",
        lambda idp, f: wrapped(idp, f, "sibling"),
    ),
    "xsw-nested": (
        "signed assertion in the Advice of an unsigned one for mallory (wrapping)",
        lambda idp, f: wrapped(idp, f, "nested"),
    ),
    "xsw-response": (
        "signed Response in the Extensions of an unsigned one for mallory (wrapping)",
        lambda idp, f: wrapped(idp, f, "response"),
    ),
    "expired": (
        "issued an hour ago, expired 30 minutes ago",
        lambda idp, f: signed(
            idp,
            replace(
                f,
                issued=f.issued - HOUR,
                not_before=f.not_before - HOUR,
                not_on_or_after=f.issued - 30 * MINUTE,
            ),
        ),
    ),
    "not-yet-valid": (
        "NotBefore an hour from now",
        lambda idp, f: signed(idp, replace(f, not_before=f.issued + HOUR)),
    ),
    "audience": (
        "for another SP's audience",
        lambda idp, f: signed(idp, replace(f, audience=f"{OTHER_SP}/metadata")),
    ),
    "recipient": (
        "Destination and Recipient another SP's ACS",
        lambda idp, f: signed(idp, replace(f, recipient=f"{OTHER_SP}/acs")),
    ),
    "in-response-to": (
        "InResponseTo another request",
        lambda idp, f: signed(idp, replace(f, in_response_to="_not-the-request-id")),
    ),
    "rogue-key": (
        "signed by a key not in the metadata",
        lambda idp, f: signed(idp, f, key=idp.rogue_key),
    ),
    "status-error": ("status Responder, no assertion", status_error),
    "other-issuer": (
        "signed, but issued by another IdP",
        lambda idp, f: signed(idp, replace(f, issuer=EVIL_IDP)),
    ),
}


METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" \
xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" \
protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data>
        <ds:X509Certificate>{cert}</ds:X509Certificate>
      </ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleSignOnService Binding="{binding}" Location="{sso}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


class IdP:
    def __init__(self, base_url: str, directory: Path):
        self.entity_id = f"{base_url}/metadata"
        self.key = make_key_pair(directory, "signing")
        self.rogue_key = make_key_pair(directory, "rogue")
        sso = f"{base_url}/sso"
        config = IdPConfig().load(
            {
                "entityid": self.entity_id,
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(sso, BINDING_HTTP_REDIRECT)]},
                        "want_authn_requests_signed": False,
                    }
                },
                "key_file": self.key.key_file,
                "cert_file": self.key.cert_file,
                "xmlsec_binary": shutil.which("xmlsec1"),
            }
        )
        self.server = Server(config=config)
        self.sps: dict[str, list[str]] = {}  # entity id: its HTTP-POST ACS URLs, the default first
        self.metadata = METADATA.format(
            entity_id=self.entity_id,
            cert=self.key.cert_base64,
            binding=BINDING_HTTP_REDIRECT,
            sso=sso,
        )

    def register_sp(self, xml: str) -> str:
        """Registers the SP whose metadata this is, in place of any with its entity id."""
        try:
            metadata = InMemoryMetaData(self.server.config.attribute_converters, xml)
            metadata.load()
        except Exception as error:
            raise BadRequest(f"unreadable SP metadata: {error}") from error
        entity_ids = list(metadata.keys())
        services = len(entity_ids) == 1 and metadata.service(
            entity_ids[0], "spsso_descriptor", "assertion_consumer_service", BINDING_HTTP_POST
        )
        if not services:
            raise BadRequest(
                "expected the metadata of one SP with an HTTP-POST AssertionConsumerService"
            )
        # the default ACS first
        services.sort(key=lambda service: service.get("is_default") != "true")
        self.sps[entity_ids[0]] = [service["location"] for service in services]
        return entity_ids[0]

    def read_request(self, saml_request: str | None) -> tuple[samlp.AuthnRequest, str]:
        """The AuthnRequest of the HTTP-Redirect binding from a registered SP, and its ACS URL."""
        if not saml_request:
            raise BadRequest("SAMLRequest is missing")
        try:
            request = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message
        except Exception as error:
            raise BadRequest(f"malformed AuthnRequest: {error!r}") from error
        locations = self.sps.get(request.issuer.text if request.issuer else None)
        if not locations:
            raise BadRequest("AuthnRequest from an unknown SP")
        if request.protocol_binding not in (None, BINDING_HTTP_POST):
            raise BadRequest(f"unsupported ProtocolBinding {request.protocol_binding}")
        acs = request.assertion_consumer_service_url or locations[0]
        if acs not in locations:
            raise BadRequest(f"AssertionConsumerServiceURL {acs} is not in the SP's metadata")
        return request, acs

    def sign(self, response: samlp.Response, to_sign: list[tuple[str, str]], key: KeyPair) -> str:
        """The Response as XML, with the elements of these (element name, ID) signed in turn."""
        xml = response.to_string(PREFIXES).decode()
        for node_name, node_id in to_sign:
            xml = self.server.sec.sign_statement(
                xml, node_name, key_file=key.key_file, node_id=node_id
            )
        return xml

    def response(self, variant: str, request: samlp.AuthnRequest, acs: str, form: dict) -> str:
        """The SAMLResponse XML that the sign-in form asks for."""
        if variant not in VARIANTS:
            raise BadRequest(f"unknown variant {variant!r}")
        email = form.get("email", "").strip()
        if not email:
            raise BadRequest("email is required")
        now = datetime.now(UTC).replace(microsecond=0)
        facts = Facts(
            issuer=self.entity_id,
            recipient=acs,
            in_response_to=request.id,
            audience=request.issuer.text,
            subject=form.get("subject", "").strip() or email,
            email=email,
            name=form.get("name", "").strip(),
            issued=now,
            not_before=now - timedelta(seconds=30),
            not_on_or_after=now + 5 * MINUTE,
        )
        return VARIANTS[variant][1](self, facts)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def hidden(name: str, value: str | None) -> str:
    if value is None:
        return ""
    return f'<input type="hidden" name="{name}" value="{html.escape(value)}">\n'


def sign_in_page(request: samlp.AuthnRequest, saml_request: str, relay_state: str | None) -> str:
    options = "".join(
        f'<option value="{name}"{" selected" * (name == "valid")}>{name}: {html.escape(label)}'
        "</option>\n"
        for name, (label, _) in VARIANTS.items()
    )
    body = f"""<p>Signing in to <code>{html.escape(request.issuer.text)}</code>.</p>
<form method="post" action="/login">
{hidden("SAMLRequest", saml_request)}{hidden("RelayState", relay_state)}\
<p><label for="email">Email</label> <input type="text" id="email" name="email" required
 autocomplete="email"></p>
<p><label for="name">Name</label> <input type="text" id="name" name="name" autocomplete="name"
 aria-describedby="name-hint"> <span id="name-hint">optional</span></p>
<p><label for="subject">Subject (NameID)</label> <input type="text" id="subject" name="subject"
 aria-describedby="subject-hint"> <span id="subject-hint">optional; the email when empty</span></p>
<p><label for="variant">Response</label> <select id="variant" name="variant">
{options}</select></p>
<p><button type="submit">Sign in</button></p>
</form>"""
    return PAGE.format(title="Test IdP sign-in", body=body)


def post_page(acs: str, saml_response: str, relay_state: str | None) -> str:
    encoded = base64.b64encode(saml_response.encode()).decode()
    body = f"""<form method="post" action="{html.escape(acs)}">
{hidden("SAMLResponse", encoded)}{hidden("RelayState", relay_state)}\
<p><button type="submit">Continue</button></p>
</form>
<script>document.forms[0].submit();</script>"""
    return PAGE.format(title="Test IdP: back to the service", body=body)


class Handler(BaseHTTPRequestHandler):
    idp: IdP  # set in main()

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/metadata":
            self.reply(200, "application/samlmetadata+xml", self.idp.metadata)
        elif url.path == "/sso":
            self.answer(lambda: self.sso(parse_qs(url.query, keep_blank_values=True)))
        else:
            self.reply(404, "text/plain", "not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        path = urlsplit(self.path).path
        if path == "/sp":
            self.answer(lambda: self.register(body))
        elif path == "/login":
            self.answer(lambda: self.login(parse_qs(body, keep_blank_values=True)))
        else:
            self.reply(404, "text/plain", "not found")

    def answer(self, handle):
        try:
            handle()
        except BadRequest as error:
            self.log_message("400: %s", error)
            self.reply(400, "text/plain", str(error))

    def register(self, body: str):
        self.log_message("registered the SP %s", self.idp.register_sp(body))
        self.reply(204, None, "")

    def sso(self, query: dict):
        saml_request, relay_state = first(query, "SAMLRequest"), first(query, "RelayState")
        request, _ = self.idp.read_request(saml_request)
        self.reply(200, "text/html", sign_in_page(request, saml_request, relay_state))

    def login(self, form: dict):
        request, acs = self.idp.read_request(first(form, "SAMLRequest"))
        variant = first(form, "variant") or "valid"
        fields = {name: first(form, name) or "" for name in ("email", "name", "subject")}
        saml_response = self.idp.response(variant, request, acs, fields)
        self.log_message("%s Response to %s for %s", variant, acs, request.id)
        self.reply(200, "text/html", post_page(acs, saml_response, first(form, "RelayState")))

    def reply(self, status: int, content_type: str | None, text: str):
        body = text.encode()
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def first(values: dict, name: str) -> str | None:
    return values.get(name, [None])[0]


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that the key directory is removed
    with (
        tempfile.TemporaryDirectory(prefix="saml-idp-") as directory,
        ThreadingHTTPServer(("127.0.0.1", 0), Handler) as httpd,
    ):
        base_url = f"http://127.0.0.1:{httpd.server_port}"
        Handler.idp = IdP(base_url, Path(directory))
        print(f"listening {base_url}", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
