"""Password hashing with Argon2id (argon2-cffi), the algorithm OWASP recommends first.

Databases made before Argon2 hold Werkzeug's ``scrypt:…`` and ``pbkdf2:…`` hashes (the demo users
of existing installations). They are verified here with hashlib alone, so that the engine needs
no web library, and ``needs_rehash`` tells the caller to replace them with Argon2 at the next
successful sign-in.
"""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not-a-password")


def hash_password(password: str) -> str:
    """An Argon2id hash with a random salt, in the PHC string format."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (Argon2 or a legacy Werkzeug hash); never raises."""
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    return _verify_werkzeug(stored, password)


def verify_nothing(password: str) -> None:
    """The work of one verification, for unknown users: the answer's timing does not tell them apart."""
    verify_password(_DUMMY_HASH, password)


def needs_rehash(stored: str) -> bool:
    """True for legacy hashes and for Argon2 hashes made with weaker parameters than today's."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify_werkzeug(stored: str, password: str) -> bool:
    """Werkzeug's ``method$salt$hexdigest`` format, for ``scrypt:n:r:p`` and ``pbkdf2:name:iterations``."""
    method, _, rest = stored.partition("$")
    salt, _, digest = rest.partition("$")
    name, *args = method.split(":")
    try:
        if name == "scrypt":
            n, r, p = (int(a) for a in args) if args else (2**15, 8, 1)
            computed = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p)
        elif name == "pbkdf2" and len(args) == 2:
            computed = hashlib.pbkdf2_hmac(args[0], password.encode(), salt.encode(), int(args[1]))
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed.hex(), digest)
