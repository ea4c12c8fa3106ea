"""Keeps passwords out of everything the results store writes or says: rows, log messages, provenance, errors,
reports (the re-run commands carry the store's URL).

Every form of secret that SQLAlchemy and libpq accept in a URL is covered: the password of ``user:password@``,
credential query parameters (``?password=``, ``?sslpassword=``, ``?passfile=``, ``?sslkey=``, MySQL's
``?passwd=``, any ``...password``/``secret``/``token``/``api_key``) and the ``PWD=`` of an ODBC connect string.

- `redact_url(url)`: a database URL with each of those values replaced by ``***``;
- `url_secrets(url)`: those values of a URL, raw and percent-encoded, to find them in free text;
- `redact_text(text, secrets=())`: every ``scheme://user:password@`` and ``name=value`` with a credential name
  (URL query or libpq ``key=value`` string) in free text redacted, and each string of `secrets` replaced by ``***``;
- `redact_obj(obj)`: the same over nested dicts/lists (config, environment); values under keys that look
  secret (password, secret, token, api key, credentials) become ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
# scheme://user:password@  (the password may not contain '@' unencoded, and stops at the last '@' before the host)
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s/]*)(?=@)")
_SECRET_WORDS = {"password", "passwd", "pass", "pwd", "secret", "token", "apikey", "credential", "credentials"}
# parameters naming a credential file (libpq's passfile, sslkey and TLS key log; MySQL's ssl_key)
_SECRET_FILES = {"passfile", "sslkey", "ssl_key", "sslkeylogfile"}
# name=value with a credential name, in a URL query, a libpq "key=value" string or an ODBC string; the value is
# quoted ('...' / "..." / {...}) or runs to the next separator
_PARAM = re.compile(r"(?P<head>(?<![\w.\-])(?P<name>[A-Za-z_][\w\-]*)\s*=\s*)"
                    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\{[^}]*\}|[^\s&;#,'\"]*)")


def redact_url(url: object) -> str:
    """`url` (str or SQLAlchemy URL) as a string with its password and credential parameters replaced by ``***``.

    Strings that SQLAlchemy cannot parse are redacted as free text, so the function never raises.
    """
    from sqlalchemy.engine import URL, make_url

    try:
        u = url if isinstance(url, URL) else make_url(str(url))
    except Exception:  # not a URL: redact whatever looks like one inside it
        return redact_text(str(url))
    return redact_text(u.render_as_string(hide_password=True), url_secrets(u))


def url_secrets(url: object) -> tuple[str, ...]:
    """The secrets of `url` (its password, the values of its credential query parameters, an ODBC string's PWD) in
    the forms they may appear in text (raw, percent-encoded); () if none."""
    from sqlalchemy.engine import URL, make_url

    try:
        u = url if isinstance(url, URL) else make_url(str(url))
    except Exception:
        return ()
    values = [u.password] if u.password else []
    for name, value in u.query.items():
        for v in (value,) if isinstance(value, str) else value:
            if is_secret_param(name):
                values.append(v)
            else:  # e.g. odbc_connect=DRIVER=...;PWD=...
                values += [m.group("value") for m in _PARAM.finditer(v) if is_secret_param(m.group("name"))]
    out = []
    for v in map(str, values):
        out += [v, quote_plus(v), quote_plus(v).replace("+", "%20"), quote(v, safe="")]
        if len(v) > 1 and v[0] + v[-1] in ("''", '""', "{}"):
            out.append(v[1:-1])
    return tuple(dict.fromkeys(s for s in out if s))


def is_secret_param(name: str) -> bool:
    """True for a connection parameter that holds a credential or names a credential file: password,
    sslpassword, passfile, sslkey, PWD, api_key, token, ..."""
    return _is_secret_key(name) or name.lower() in _SECRET_FILES


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords (``scheme://user:pw@``), the values of credential parameters (``password=...``,
    ``sslpassword=...``, ``passfile=...``, ``PWD=...``) and every string in `secrets` replaced by ``***``."""
    out = _URL_PASSWORD.sub(lambda m: m.group("head") + (MASK if m.group("pw") else ""), str(text))
    out = _PARAM.sub(lambda m: m.group("head") + MASK if is_secret_param(m.group("name")) and m.group("value")
                     else m.group(0), out)
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
