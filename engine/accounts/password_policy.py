"""The password policy of OWASP ASVS 2.1: length, not the username, not a commonly used password.

ASVS asks for at least 12 characters, allows at least 64 and forbids composition rules; any
character (spaces, emoji) is allowed. The short list below holds common passwords that pass the
length rule, the ones a guesser tries first.
"""

from __future__ import annotations

from engine.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 128
TOO_SHORT = f"The password must have at least {MIN_LENGTH} characters."
TOO_LONG = f"The password may have at most {MAX_LENGTH} characters."
CONTAINS_USERNAME = "The password must not contain the username."
TOO_COMMON = "This password is too common; choose another."

COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678901234", "qwertyuiopas", "qwerty123456", "123456qwerty",
    "password1234", "password12345", "password123456", "passwordpassword", "1q2w3e4r5t6y", "1qaz2wsx3edc",
    "iloveyou1234", "abcdefghijkl", "abc123abc123", "aaaaaaaaaaaa", "111111111111", "000000000000",
    "letmein12345", "welcome12345", "administrator", "changeme1234", "trustno1trustno1", "serviceflow1",
    "serviceflow123", "qazwsxedcrfv", "zaq12wsxcde3", "football1234", "baseball1234", "superman1234",
    "starwars1234", "princess1234", "sunshine1234", "monkey123456", "dragon123456", "master123456",
})


def check_password(password: str, username: str, field: str = "new_password") -> None:
    """Raise InvalidInput naming ``field`` when the password breaks the policy."""
    problem = _problem(password, username)
    if problem is not None:
        raise InvalidInput(problem, {field: [problem]})


def _problem(password: str, username: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    if len(password) > MAX_LENGTH:
        return TOO_LONG
    folded = password.casefold()
    if username and username.casefold() in folded:
        return CONTAINS_USERNAME
    if folded in COMMON_PASSWORDS or len(set(folded)) < 4:
        return TOO_COMMON
    return None
