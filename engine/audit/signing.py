"""The Ed25519 key that signs checkpoints. It is kept outside the database (a file or an
environment variable) because a signature only proves something if the people who can rewrite the
database cannot also make one; auditors keep the public key."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.config import AuditSettings, ConfigError

log = logging.getLogger("serviceflow.audit")


def _private_from_pem(pem: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where} does not hold an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{where} must hold an Ed25519 key, not {type(key).__name__}")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _create(path: Path) -> None:
    """A new key, written once (O_EXCL: two processes starting together cannot both write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem(Ed25519PrivateKey.generate()))
    log.warning("created the checkpoint signing key %s for this development instance; in production "
                "set SERVICEFLOW_AUDIT_KEY_FILE (or SERVICEFLOW_AUDIT_KEY) to a key the database "
                "administrators cannot read", path)


def signing_key(settings: AuditSettings) -> Ed25519PrivateKey:
    """The configured private key; the development default is created on first use."""
    if settings.key:
        return _private_from_pem(settings.key.encode(), "SERVICEFLOW_AUDIT_KEY")
    if settings.key_file is None:
        raise ConfigError("no checkpoint signing key: set SERVICEFLOW_AUDIT_KEY_FILE or SERVICEFLOW_AUDIT_KEY")
    if settings.create_key and not settings.key_file.exists():
        _create(settings.key_file)
    try:
        pem = settings.key_file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"SERVICEFLOW_AUDIT_KEY_FILE {settings.key_file} cannot be read: {exc.strerror}") from exc
    return _private_from_pem(pem, f"SERVICEFLOW_AUDIT_KEY_FILE {settings.key_file}")


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: bytes, where: str) -> Ed25519PublicKey:
    """An auditor's public key; ValueError naming ``where`` when it is not an Ed25519 one."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where} does not hold a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{where} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key: short enough to compare by eye against the one kept."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()


def signature_valid(key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
