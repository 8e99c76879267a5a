"""A timestamp authority of the tests' own (RFC 3161): a throwaway CA, a TSA certificate it issued
with the critical timeStamping key purpose, and an HTTP server on the loopback that answers each
TimeStampReq with a real signed TimeStampResp, or misbehaves as a test asks (slow, an HTTP error,
garbage, a token for another imprint or nonce, a trickled answer, a signer the CA never issued)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.context import EngineContext

POLICY = "1.3.6.1.4.1.99999.1"  # a private-arc policy id: the tests' TSA vouches for nothing real
_KEY_USAGE = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                  encipher_only=False, decipher_only=False)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class Authority:
    """A CA and the TSA certificate it issued; ``respond`` signs a TimeStampResp as a TSA does."""

    def __init__(self, name: str = "ServiceFlow test TSA", time_stamping: bool = True) -> None:
        now = datetime.now(UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = (x509.CertificateBuilder().subject_name(_name(f"{name} root")).issuer_name(_name(f"{name} root"))
                   .public_key(self.ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True,
                                                **_KEY_USAGE), critical=True)
                   .sign(self.ca_key, hashes.SHA256()))
        self.key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(self.ca.subject)
                   .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                                **_KEY_USAGE), critical=True))
        if time_stamping:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        self.certificate = builder.sign(self.ca_key, hashes.SHA256())
        self.serial = 0

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    def ca_pem(self) -> bytes:
        return self.ca.public_bytes(serialization.Encoding.PEM)

    def respond(self, request_der: bytes, imprint: bytes | None = None, nonce_shift: int = 0) -> bytes:
        """A granted TimeStampResp for ``request_der`` (or for another ``imprint``, or a nonce
        off by ``nonce_shift``, as a faulty or replaying TSA would send)."""
        request = tsp.TimeStampReq.load(request_der)
        self.serial += 1
        message_imprint = request["message_imprint"]
        if imprint is not None:
            message_imprint = tsp.MessageImprint({"hash_algorithm": {"algorithm": "sha256"},
                                                  "hashed_message": imprint})
        info = tsp.TSTInfo({
            "version": "v1", "policy": POLICY, "message_imprint": message_imprint, "serial_number": self.serial,
            "gen_time": datetime.now(UTC).replace(microsecond=0), "nonce": request["nonce"].native + nonce_shift,
        })
        certificate_der = self.certificate.public_bytes(serialization.Encoding.DER)
        certificate = asn1_x509.Certificate.load(certificate_der)
        signed_attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(info.dump()).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2({"certs": [
                tsp.ESSCertIDv2({"hash_algorithm": {"algorithm": "sha256"},
                                 "cert_hash": hashlib.sha256(certificate_der).digest()})]})]}),
        ])
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
                "issuer": certificate.issuer, "serial_number": certificate.serial_number})}),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": self.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256())),
        })
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": info},
            "certificates": [certificate] if request["cert_req"].native else [],
            "signer_infos": [signer],
        })
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": cms.ContentInfo(
            {"content_type": "signed_data", "content": signed})}).dump()


@dataclasses.dataclass
class Server:
    """The TSA on the loopback; ``behaviour`` says how it answers the next requests, ``requests``
    holds every TimeStampReq it was sent (DER)."""

    authority: Authority
    url: str = ""
    behaviour: str = "grant"
    requests: list[bytes] = dataclasses.field(default_factory=list)
    released: threading.Event = dataclasses.field(default_factory=threading.Event)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            """Quiet: the tests read what the client reports, not the server's log."""

        def _send(self, status: int, body: bytes, content_type: str = "application/timestamp-reply") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            request = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            server.requests.append(request)
            behaviour = server.behaviour
            if behaviour == "slow":
                server.released.wait(10)  # past any client's timeout; released when the test ends
                return
            if behaviour == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    while not server.released.wait(0.05):  # a byte at a time, each well within a read timeout
                        self.wfile.write(b"0")
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up and closed: what the test expects of it
                return
            answers = {
                "grant": lambda: server.authority.respond(request),
                "other_imprint": lambda: server.authority.respond(request, imprint=hashlib.sha256(b"other").digest()),
                "other_nonce": lambda: server.authority.respond(request, nonce_shift=1),
                "untrusted": lambda: Authority("impostor").respond(request),  # a TSA the configured CA never issued
            }
            if behaviour == "error":
                self._send(500, b"internal error", "text/plain")
            elif behaviour == "garbage":
                self._send(200, b"<html>not a timestamp</html>", "text/html")
            elif behaviour == "huge":
                self._send(200, b"\x30" * (128 * 1024))
            else:
                self._send(200, answers[behaviour]())

    return Handler


def serve(authority: Authority) -> Iterator[Server]:
    """Run the TSA on a free loopback port until the generator is closed."""
    server = Server(authority)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/tsa"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def with_tsa(ctx: EngineContext, tmp_path: Path, server: Server, ca: bool = True, timeout: float = 1.0) -> Path:
    """Point the context's audit settings at ``server`` (its CA file too, unless ``ca`` is false);
    returns the CA file's path."""
    ca_file = tmp_path / "tsa-ca.pem"
    ca_file.write_bytes(server.authority.ca_pem())
    ctx.settings = dataclasses.replace(ctx.settings, audit=dataclasses.replace(
        ctx.settings.audit, tsa_url=server.url, tsa_ca_file=ca_file if ca else None, tsa_timeout=timeout))
    return ca_file
