"""AWS Signature Version 4 (``AWS4-HMAC-SHA256``), written with ``hmac``/``hashlib`` only.

Used by ``tools.pricing.sources.aws`` to sign EC2 Query API calls and by ``devnet.aws_api`` to verify
them. The steps follow AWS's "Create a signed AWS API request" guide (IAM User Guide, formerly General
Reference ``sigv4-create-canonical-request`` / ``sigv4-calculate-signature``):

1. canonical request: ``METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n
   signed headers \\n hex(sha256(payload))``; header names lower-cased, values trimmed with inner runs of
   spaces collapsed, sorted by name; query pairs URI-encoded (RFC 3986 unreserved characters kept) and
   sorted; the URI path encoded once more on top of its wire form (every service but S3);
2. string to sign: ``AWS4-HMAC-SHA256 \\n <amz date> \\n <date>/<region>/<service>/aws4_request \\n
   hex(sha256(canonical request))``;
3. signing key: ``HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")``;
   signature: ``hex(HMAC(signing key, string to sign))``.

The published example (IAM ``ListUsers`` of 2015-08-30, key ``AKIDEXAMPLE``) is a test in
``tests/pricing/test_aws_source.py``. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
_UNRESERVED = "-_.~"
_SPACES = re.compile(r"\s+")
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def amz_date(moment: datetime) -> str:
    """``20150830T123600Z``: the ``X-Amz-Date`` form of an aware datetime (UTC)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """The derived key for ``date`` (``YYYYMMDD``), region and service."""
    k_date = _hmac(("AWS4" + secret_access_key).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(k_date, region), service), TERMINATOR)


def canonical_uri(wire_path: str) -> str:
    """The path as sent (already percent-encoded once), encoded again; ``/`` when empty."""
    return quote(wire_path or "/", safe="/" + _UNRESERVED)


def canonical_query(query: str) -> str:
    """Query pairs URI-encoded and sorted by name then value (blank values kept)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((quote(k, safe=_UNRESERVED), quote(v, safe=_UNRESERVED)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_headers(headers: Mapping[str, str], signed: Sequence[str]) -> str:
    """``name:value\\n`` for each signed header, lower-case names, trimmed values, sorted by name."""
    lowered = {name.lower(): value for name, value in headers.items()}
    lines = []
    for name in sorted(signed):
        lines.append(f"{name}:{_SPACES.sub(' ', lowered[name].strip())}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    wire_path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_sha256: str,
) -> str:
    signed = sorted(h.lower() for h in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(wire_path),
            canonical_query(query),
            canonical_headers(headers, signed),
            ";".join(signed),
            payload_sha256,
        ]
    )


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/{TERMINATOR}"


def string_to_sign(amz_datetime: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, amz_datetime, scope, sha256_hex(canonical.encode("utf-8"))])


def signature(secret_access_key: str, amz_datetime: str, region: str, service: str, canonical: str) -> str:
    """Hex signature of a canonical request."""
    date = amz_datetime[:8]
    to_sign = string_to_sign(amz_datetime, credential_scope(date, region, service), canonical)
    key = signing_key(secret_access_key, date, region, service)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to add to a request so AWS accepts it: ``X-Amz-Date`` and ``Authorization``.

    Signs ``host`` (from ``url``), ``x-amz-date`` and every header in ``headers``. ``url`` is the URL as
    it goes on the wire (percent-encoded path and query).
    """
    parts = urlsplit(url)
    stamp = amz_date(now)
    to_sign = {name.lower(): value for name, value in headers.items()}
    to_sign["host"] = parts.netloc
    to_sign["x-amz-date"] = stamp
    signed = sorted(to_sign)
    canonical = canonical_request(method, parts.path, parts.query, to_sign, signed, sha256_hex(body))
    sig = signature(secret_access_key, stamp, region, service, canonical)
    scope = credential_scope(stamp[:8], region, service)
    return {
        "X-Amz-Date": stamp,
        "Authorization": (
            f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
        ),
    }


class ParsedAuthorization(NamedTuple):
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str) -> ParsedAuthorization | None:
    """Split an ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`` value;
    None when it is not that shape."""
    matched = _AUTHORIZATION.match(header.strip())
    if not matched:
        return None
    parts = matched.group("credential").split("/")
    if len(parts) != 5:
        return None
    key, date, region, service, terminator = parts
    return ParsedAuthorization(
        key,
        date,
        region,
        service,
        terminator,
        tuple(matched.group("signed").split(";")),
        matched.group("signature"),
    )
