"""Keeps passwords out of everything the results store writes or says: rows, log messages, provenance, errors.

- `redact_url(url)`: a database URL with its password replaced by ``***``;
- `redact_text(text, secrets=())`: every ``scheme://user:password@`` in free text redacted, and each string of
  `secrets` (e.g. the store's own password, raw and percent-encoded) replaced by ``***``;
- `redact_obj(obj)`: the same over nested dicts/lists (config, environment); values under keys that look
  secret (password, secret, token, api key, credentials) become ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote_plus

MASK = "***"
# scheme://user:password@  (the password may not contain '@' unencoded, and stops at the last '@' before the host)
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s/]*)(?=@)")
_SECRET_WORDS = {"password", "passwd", "pass", "pwd", "secret", "token", "apikey", "credential", "credentials"}


def redact_url(url: object) -> str:
    """`url` (str or SQLAlchemy URL) as a string with its password replaced by ``***``.

    Strings that SQLAlchemy cannot parse are redacted as free text, so the function never raises.
    """
    from sqlalchemy.engine import URL, make_url

    try:
        u = url if isinstance(url, URL) else make_url(str(url))
    except Exception:  # not a URL: redact whatever looks like one inside it
        return redact_text(str(url))
    return u.render_as_string(hide_password=True)


def url_secrets(url: object) -> tuple[str, ...]:
    """The password of `url` in the forms it may appear in text (raw, percent-encoded); () if none."""
    from sqlalchemy.engine import URL, make_url

    try:
        u = url if isinstance(url, URL) else make_url(str(url))
    except Exception:
        return ()
    pw = u.password
    if not pw:
        return ()
    pw = str(pw)
    return tuple(dict.fromkeys((pw, quote_plus(pw), quote_plus(pw).replace("+", "%20"))))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords (``scheme://user:pw@``) and every string in `secrets` replaced by ``***``."""
    out = _URL_PASSWORD.sub(lambda m: m.group("head") + (MASK if m.group("pw") else ""), str(text))
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        out = out.replace(s, MASK)
    return out


def redact_obj(obj, secrets: Iterable[str] = ()):
    """A copy of nested dicts/lists/tuples with strings redacted (`redact_text`) and secret-looking keys masked."""
    secrets = tuple(secrets)
    if isinstance(obj, dict):
        return {k: (MASK if isinstance(k, str) and _is_secret_key(k) and v not in (None, "")
                    else redact_obj(v, secrets)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_obj(v, secrets) for v in obj)
    if isinstance(obj, str):
        return redact_text(obj, secrets)
    return obj


def _is_secret_key(key: str) -> bool:
    """True for keys such as ``password``, ``PGPASSWORD``, ``db_secret``, ``api_key``, ``auth-token``."""
    low = key.lower()
    parts = [p for p in re.split(r"[^a-z0-9]+", low) if p]
    return (any(p in _SECRET_WORDS for p in parts) or low.endswith(("password", "passwd", "secret"))
            or "api_key" in low or "apikey" in low or "private_key" in low)
