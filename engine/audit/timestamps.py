"""RFC 3161 timestamps on signed checkpoints.

A checkpoint's Ed25519 signature proves who signed it, not when: its ``created_at`` is whatever
the signer wrote, so whoever holds the signing key could sign a rewritten history later and date
it back. A timestamp authority (TSA) outside the deployment signs the SHA-256 of the checkpoint's
statement (the exact bytes the Ed25519 signature covers) together with its own clock's time,
which fixes that the checkpoint existed by then.

The TSA is asked over HTTP (RFC 3161 §3.4) with a nonce and ``certReq``, within a bounded time
and a bounded answer size, and its answer is kept only once it verifies: status granted, the
imprint and the nonce ours, and, given the TSA's CA certificates, a signature that chains to them
from a certificate with the critical timeStamping key purpose (rfc3161-client checks the CMS
signature). The answer is kept as the TSA sent it (a DER TimeStampResp, as ``.tsr`` files hold
it), so that auditors can check it with any RFC 3161 tool, ``openssl ts -verify`` among them.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from engine.errors import ServiceFlowError

MAX_RESPONSE_BYTES = 64 * 1024  # a token with a long certificate chain takes a few KiB
SHA256 = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
REQUEST_TYPE = "application/timestamp-query"


class TimestampError(ServiceFlowError):
    """No timestamp could be had from the TSA: unreachable, too slow, an HTTP error, or an answer
    that does not verify. The checkpoint is kept unstamped; the message names the TSA's fault."""


class TimestampInvalid(ServiceFlowError):
    """A timestamp does not verify for the statement it is kept with; the message says why."""


@dataclass(frozen=True)
class Stamp:
    """A verified timestamp: ``time`` is the TSA's genTime (UTC); ``trusted`` says whether its
    signature was checked against CA certificates (without them only what it covers is known)."""

    response: bytes
    time: datetime
    tsa: str
    serial: int
    trusted: bool


def load_roots(path: Path, where: str) -> list[x509.Certificate]:
    """The CA certificates (PEM, one or more) a TSA's tokens must chain to; ValueError naming
    ``where`` when the file cannot be read or holds no certificate."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{where} {path} cannot be read: {exc.strerror}") from exc
    try:
        roots = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"{where} {path} does not hold PEM certificates: {exc}") from exc
    return roots


def _signer(response: TimeStampResponse) -> str:
    """The subject of the certificate that signed the token (what names the TSA to a reader)."""
    signers = list(response.signed_data.signer_infos)
    for der in response.signed_data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if any(cert.issuer == s.issuer and cert.serial_number == s.serial_number for s in signers):
            return cert.subject.rfc4514_string()
    return ""


def read_stamp(response: bytes, statement: bytes, roots: Sequence[x509.Certificate] | None,
               nonce: int | None = None) -> Stamp:
    """The timestamp in ``response`` once it verifies as covering ``statement`` (and answering
    ``nonce``, when the request's is known); TimestampInvalid saying why it does not."""
    try:
        parsed = decode_timestamp_response(response)
    except ValueError as exc:
        raise TimestampInvalid(f"it is not an RFC 3161 TimeStampResp: {exc}") from exc
    if parsed.status != PKIStatus.GRANTED:
        said = "; ".join(parsed.status_string)
        raise TimestampInvalid(f"its status is {_status_name(parsed.status)}, not granted"
                               + (f" ({said})" if said else ""))
    try:
        info = parsed.tst_info
        imprint = info.message_imprint
        signer = _signer(parsed)
    except ValueError as exc:
        raise TimestampInvalid(f"its token cannot be read: {exc}") from exc
    if imprint.hash_algorithm != SHA256:
        raise TimestampInvalid(f"it stamps a digest of algorithm {imprint.hash_algorithm.dotted_string}, not SHA-256")
    digest = hashlib.sha256(statement).digest()
    if imprint.message != digest:
        raise TimestampInvalid(f"it covers another statement (its SHA-256 imprint is {imprint.message.hex()}, "
                               f"the statement's is {digest.hex()})")
    if nonce is not None and info.nonce != nonce:
        raise TimestampInvalid("its nonce is not the request's (a replayed or misdirected answer)")
    if roots:
        verifier = VerifierBuilder()
        for root in roots:
            verifier = verifier.add_root_certificate(root)
        try:
            verifier.build().verify(parsed, digest)
        except (VerificationError, ValueError) as exc:
            raise TimestampInvalid(f"its signature does not verify against the TSA's CA certificates: {exc}") from exc
    return Stamp(response=response, time=info.gen_time, tsa=signer, serial=info.serial_number, trusted=bool(roots))


def _status_name(status: int) -> str:
    try:
        return PKIStatus(status).name.lower()
    except ValueError:
        return f"unknown status {status}"


def request_stamp(url: str, statement: bytes, roots: Sequence[x509.Certificate] | None, timeout: float) -> Stamp:
    """Ask the TSA at ``url`` to stamp ``statement``: at most ``timeout`` seconds in all and
    ``MAX_RESPONSE_BYTES`` of answer; TimestampError naming what went wrong."""
    request = (TimestampRequestBuilder().data(statement).hash_algorithm(HashAlgorithm.SHA256)
               .nonce(nonce=True).cert_request(cert_request=True).build())
    status, content_type, body = _post(url, request.as_bytes(), timeout)
    if status != 200:
        raise TimestampError(f"the TSA {url} answered HTTP {status}")
    try:
        return read_stamp(body, statement, roots, request.nonce)
    except TimestampInvalid as exc:
        raise TimestampError(f"the TSA {url} answered {len(body)} bytes ({content_type or 'no Content-Type'}) "
                             f"that do not verify: {exc.message}") from exc


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                           context=ssl.create_default_context()), target
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout), target


def _post(url: str, body: bytes, timeout: float) -> tuple[int, str, bytes]:
    """POST ``body`` and read the answer in a thread given at most ``timeout`` seconds in all: a
    socket timeout bounds each read, not a TSA that trickles its answer a byte at a time, so the
    socket is shut down once the time is up (which ends the thread's blocked read)."""
    connection, target = _connection(url, timeout)
    outcome: dict[str, object] = {}

    def exchange() -> None:
        try:
            connection.request("POST", target, body=body, headers={
                "Content-Type": REQUEST_TYPE, "Accept": "application/timestamp-reply"})
            answer = connection.getresponse()
            data = answer.read(MAX_RESPONSE_BYTES + 1)
            outcome["answer"] = (answer.status, answer.getheader("Content-Type", ""), data)
        except (OSError, http.client.HTTPException) as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    worker = threading.Thread(target=exchange, name="tsa-request", daemon=True)
    worker.start()
    worker.join(timeout)
    timed_out = worker.is_alive()
    if timed_out:
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the thread in the meantime
    error = outcome.get("error")
    if timed_out or isinstance(error, TimeoutError):  # a socket timeout is the same time running out
        raise TimestampError(f"the TSA {url} did not answer within {timeout:g} s")
    if error is not None:
        raise TimestampError(f"the TSA {url} could not be asked: {str(error) or type(error).__name__}")
    status, content_type, data = outcome["answer"]  # type: ignore[misc]
    if len(data) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"the TSA {url} answered more than {MAX_RESPONSE_BYTES} bytes")
    return status, content_type, data
