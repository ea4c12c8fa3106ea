"""No secret of a store or sweep-storage URL reaches a report file (HTML, CSV, Markdown: the re-run commands carry
the URL), what `hmr-bench report` prints, the log, or a connection error: every form SQLAlchemy and libpq accept
(``user:pw@``, ``?password=``, ``?sslpassword=``, ``?passfile=``, ``?sslkey=``, other credential parameters)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from hmr_bench.cli import main as cli_main
from hmr_bench.errors import InputError
from hmr_bench.store import ResultsStore
from hmr_bench.store.redact import redact_text, redact_url
from tests.store import DB_URL_ENV

# one distinct value per form (SQLite in URI mode takes query parameters it does not know, so a real store opens
# with every libpq credential parameter in its URL)
QUERY_SECRETS = {"password": "pw-query-1", "sslpassword": "pw-ssl-2", "passfile": "/secret/dir/pgpass-3",
                 "sslkey": "/secret/dir/key-4.pem", "token": "tok-5", "passwd": "pw-mysql-6"}


def forms(value: str) -> set[str]:
    """The ways a secret can be written in a file: raw and percent-encoded."""
    return {value, quote(value, safe=""), quote_plus(value), quote(value)} - {""}


def store_url(tmp_path: Path) -> str:
    query = "&".join(f"{k}={v}" for k, v in QUERY_SECRETS.items())
    return f"sqlite:///file:{tmp_path / 'results.sqlite'}?uri=true&{query}"


def test_redact_url_masks_every_credential_form():
    url = ("postgresql+psycopg://hmr:pw-user-0@db.example.org:5432/results?sslmode=require&"
           + "&".join(f"{k}={quote(v, safe='')}" for k, v in QUERY_SECRETS.items()))
    shown = redact_url(url)
    assert shown == ("postgresql+psycopg://hmr:***@db.example.org:5432/results?passfile=***&passwd=***&"
                     "password=***&sslkey=***&sslmode=require&sslpassword=***&token=***")
    odbc = "mssql+pyodbc:///?odbc_connect=" + quote("DRIVER={ODBC 18};SERVER=h;UID=u;PWD={p;w-7}", safe="")
    assert "p%3Bw-7" not in redact_url(odbc) and "PWD%3D***" in redact_url(odbc)
    # libpq's key=value connection strings and URLs inside error text
    assert redact_text("host=h port=5432 password='a b' sslpassword=pw2 passfile=/x/pgpass user=u dbname=d") == \
        "host=h port=5432 password=*** sslpassword=*** passfile=*** user=u dbname=d"
    assert redact_text("bypass=1 tokenizer=bpe passes=3") == "bypass=1 tokenizer=bpe passes=3"


def test_no_secret_in_any_report_file_printed_line_or_log(tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
    url = store_url(tmp_path)
    store = ResultsStore(url)
    for variant in ("full", "no-cam"):  # two rows run, three not: their re-run commands carry the store URL
        rid = store.claim_run(f"h-{variant}", "table2", variant, 0, "smoke", {"store": url}, "synthkey")
        store.log_metrics(rid, "test", "synth-test", {"mpjpe": 90.0, "pa_mpjpe": 50.0})
        store.finish_run(rid, 1.0)
    rid = store.claim_run("h-none", "table2", "none", 0, "smoke", {}, "synthkey")
    store.fail_run(rid, f"lost the connection to {url}")
    sweeps = f"sqlite:///file:{tmp_path / 'sweeps.sqlite'}?uri=true&password=pw-sweep-8"
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "reports"
    assert cli_main(["report", "--store", url, "--out", str(out), "--sweep-storage", sweeps, "--no-gallery"]) == 0
    printed = capsys.readouterr()

    files = sorted(p for p in out.rglob("*") if p.is_file())
    kinds = {p.suffix for p in files}
    assert {".html", ".csv", ".md"} <= kinds and len(files) >= 10
    secrets = [*QUERY_SECRETS.values(), "pw-sweep-8"]
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        for s in secrets:
            assert not any(f in text for f in forms(s)), f"{s} in {path.name}"
    for where, text in (("stdout", printed.out), ("stderr", printed.err), ("log", caplog.text)):
        for s in secrets:
            assert not any(f in text for f in forms(s)), f"{s} in {where}"
    # the commands do carry the store, redacted: the test is not passing because nothing was written
    shown = redact_url(url)
    assert "password=***" in shown and "sslkey=***" in shown
    carrying = [p.name for p in files if shown in p.read_text(errors="replace") or
                shown.replace("&", "&amp;") in p.read_text(errors="replace")]
    assert {"table2.html", "table2.csv", "table2.md"} <= set(carrying), carrying


def test_connection_error_names_the_url_without_its_secrets():
    pytest.importorskip("psycopg")
    url = ("postgresql+psycopg://hmr:pw-user-0@127.0.0.1:1/results?"
           + "&".join(f"{k}={quote(v, safe='')}" for k, v in QUERY_SECRETS.items() if k != "token" and k != "passwd"))
    with pytest.raises(InputError) as e:
        ResultsStore(url, connect_timeout_s=2)
    msg = str(e.value)
    assert msg.startswith("results store URL postgresql+psycopg://hmr:***@127.0.0.1:1/results?passfile=***&")
    assert "could not be opened" in msg and "\n" not in msg
    for s in ("pw-user-0", *QUERY_SECRETS.values()):
        assert not any(f in msg for f in forms(s)), s


@pytest.mark.skipif(not os.environ.get(DB_URL_ENV), reason=f"needs a PostgreSQL URL with a password in ${DB_URL_ENV}")
def test_postgres_store_password_in_the_query_reaches_no_report_file(tmp_path, monkeypatch, capsys):
    """With a real PostgreSQL (``$HMR_BENCH_TEST_DB_URL`` = postgresql+psycopg://user:pw@host/db): the same store
    opened with its password as ``user:pw@`` and as ``?password=``; no report file holds the password."""
    from sqlalchemy.engine import make_url

    from tests.store import backend_url

    base = make_url(backend_url("url", tmp_path))
    if not base.password:
        pytest.skip("the URL has no password")
    pw = str(base.password)
    as_query = base.set(password=None).update_query_dict({"password": pw}).render_as_string(hide_password=False)
    monkeypatch.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
    for i, url in enumerate((base.render_as_string(hide_password=False), as_query)):
        store = ResultsStore(url)
        rid = store.claim_run(f"h{i}", "table2", "full", i, "smoke", {}, "synthkey")
        store.log_metrics(rid, "test", "synth-test", {"mpjpe": 90.0})
        store.finish_run(rid, 1.0)
        out = tmp_path / f"reports{i}"
        assert cli_main(["report", "--store", url, "--out", str(out), "--tables", "table2", "--no-gallery"]) == 0
        printed = capsys.readouterr()
        for path in (p for p in out.rglob("*") if p.is_file()):
            assert not any(f in path.read_text(errors="replace") for f in forms(pw)), path.name
        assert not any(f in printed.out + printed.err for f in forms(pw))
