"""Who may sign in to the web chat: password hashes, the users file, and the proxy's user header.

No Chainlit here (``ui/accounts.py`` wires this into the chat; ``necto user add`` writes the file).

A user entry is ``name:pbkdf2_sha256$<iterations>$<salt>$<hash>`` (Django's layout; salt and hash in
unpadded base64). Entries come from ``NECTO_AUTH_USERS`` (comma- or newline-separated) and from the
users file (one per line, ``#`` comments), which must not be readable by group or others. Plaintext
passwords are never stored or logged; hashes are compared in constant time, and an unknown name costs
the same hashing work as a known one, so timing does not tell which names exist.

The name a user signs in with is the ``owner`` of their jobs, plans and wallets. ``local`` is reserved:
it is the owner the CLI and the no-sign-in chat use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from tools.errors import NectoError

log = logging.getLogger("necto.accounts")

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
SALT_BYTES = 16
MAX_PASSWORD_CHARS = 1024
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
RESERVED_NAMES = frozenset({"local"})
PROXY_SECRET_HEADER = "X-Necto-Proxy-Secret"


class AccountError(NectoError):
    """The accounts configuration (users, the users file) is unusable as given."""


# ------------------------------------------------------------------------------------------------ hashing
def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$iterations$salt$hash`` for ``password`` with a fresh random salt."""
    if not password:
        raise AccountError("The password is empty.", hint="Choose a password of at least 12 characters.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"The password is longer than {MAX_PASSWORD_CHARS} characters.",
                           hint="Choose a shorter password.")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def _parse_hash(encoded: str) -> tuple[int, bytes, bytes]:
    algorithm, iterations, salt, digest = encoded.split("$")
    if algorithm != ALGORITHM or not iterations.isdigit() or int(iterations) < 1:
        raise ValueError("not a pbkdf2_sha256 hash")
    return int(iterations), _unb64(salt), _unb64(digest)


def is_password_hash(encoded: str) -> bool:
    try:
        _parse_hash(encoded)
    except ValueError:
        return False
    return True


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; False for a wrong password or a malformed hash."""
    try:
        iterations, salt, expected = _parse_hash(encoded)
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password[:MAX_PASSWORD_CHARS].encode("utf-8"), salt, iterations)
    return hmac.compare_digest(candidate, expected)


# ------------------------------------------------------------------------------------------------ names
def check_name(name: str) -> str:
    """``name`` if it can be a user (and so an owner); else an AccountError saying what is allowed."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise AccountError(
            f"{name[:40]!r} cannot be a user name.",
            hint="Use up to 128 letters, digits and . _ @ + - (starting with a letter or digit).",
        )
    if name in RESERVED_NAMES:
        raise AccountError(f"{name!r} is reserved: it is the CLI's own owner.", hint="Choose another name.")
    return name


def _valid_name(name: str) -> bool:
    try:
        check_name(name)
    except AccountError:
        return False
    return True


# ------------------------------------------------------------------------------------------------ users
def parse_users(text: str, *, source: str) -> dict[str, str]:
    """``{name: hash}`` from ``name:hash`` entries separated by newlines or commas (``#`` starts a comment)."""
    users: dict[str, str] = {}
    entries = (entry for line in text.splitlines() for entry in line.split("#", 1)[0].split(","))
    for number, raw in enumerate(entries, start=1):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, encoded = entry.partition(":")
        name, encoded = name.strip(), encoded.strip()
        if not sep or not _valid_name(name) or not is_password_hash(encoded):
            # The entry itself is not echoed: it may hold a hash (or a pasted password).
            raise AccountError(
                f"Entry {number} of {source} is not a valid name:pbkdf2_sha256$... user.",
                hint="Create entries with `necto user add NAME`, which writes the users file for you.",
            )
        users[name] = encoded
    return users


def read_users_file(path: Path) -> dict[str, str]:
    """The users in ``path`` ({} when it does not exist); refuses a file that others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & 0o077:
        raise AccountError(
            f"The users file {path} can be read by other accounts on this machine.",
            hint=f"Run `chmod 600 {path}`, then start Necto again.",
        )
    return parse_users(path.read_text(encoding="utf-8"), source=str(path))


def write_users_file(path: Path, users: Mapping[str, str]) -> None:
    """Replace ``path`` atomically with ``users`` (file 0600, its folder created 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = "# Necto web chat users (`necto user add NAME`). Hashes only, never passwords.\n"
    body += "".join(f"{check_name(name)}:{users[name]}\n" for name in sorted(users))
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)


def configured_users(settings) -> dict[str, str]:
    """Users from the users file and ``NECTO_AUTH_USERS`` (an entry in the setting wins)."""
    users = read_users_file(settings.effective_users_file)
    if settings.auth_users is not None:
        users.update(parse_users(settings.auth_users.get_secret_value(), source="NECTO_AUTH_USERS"))
    return users


class UserDirectory:
    """The users who may sign in with a password, and the check itself."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)
        # Unknown names are checked against this, at the dearest cost configured, so they take as long.
        cost = max((_parse_hash(h)[0] for h in self._users.values()), default=ITERATIONS)
        self._decoy = hash_password(secrets.token_urlsafe(16), iterations=cost)

    @classmethod
    def from_settings(cls, settings) -> UserDirectory:
        return cls(configured_users(settings))

    def __len__(self) -> int:
        return len(self._users)

    def names(self) -> list[str]:
        return sorted(self._users)

    def authenticate(self, name: str, password: str) -> str | None:
        """The user's name when ``password`` is theirs, else None (same work either way)."""
        encoded = self._users.get(name) if isinstance(name, str) else None
        if encoded is None or not isinstance(password, str):
            verify_password(password if isinstance(password, str) else "", self._decoy)
            return None
        return name if verify_password(password, encoded) else None


# ------------------------------------------------------------------------------------------------ header
def header_identity(headers: Mapping[str, str], *, header: str, proxy_secret: str | None) -> str | None:
    """The user a trusted proxy names in ``header``, or None.

    With ``proxy_secret`` set, the request must also carry it in X-Necto-Proxy-Secret (constant-time
    compare): the proxy adds it, so a client that reaches the chat directly cannot claim a name.
    """
    if proxy_secret:
        given = headers.get(PROXY_SECRET_HEADER) or ""
        if not hmac.compare_digest(given.encode("utf-8"), proxy_secret.encode("utf-8")):
            return None
    name = (headers.get(header) or "").strip()
    return name if _valid_name(name) else None
