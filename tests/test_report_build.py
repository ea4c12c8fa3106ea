"""The HTML reports built from a real store: a tiny smoke run of Table 2 and Table 4 (trained here, once per
session) plus rows written through the store's API (several seeds for CIs, missing rows and seeds, a failed run,
validation curves). Every number on the pages and in the CSV is compared with values computed here from the
store's rows with numpy/scipy; missing runs show as "not run" with their command; a headless Chromium screenshot
of a page is not blank."""

from __future__ import annotations

import base64
import csv
import io
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from hmr_bench.errors import InputError
from hmr_bench.store import ResultsStore
from tests.train import make_cache, synth_root_fixture, tiny  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
# table3 rows written by hand (profile "cpu", three seeds): test MPJPE / PA-MPJPE per seed
HAND = {
    "rel-L32": {0: (90.0, 50.0), 1: (91.0, 51.5), 2: (92.5, 50.5)},  # the reference
    "null": {0: (100.0, 56.0), 1: (104.0, 55.0), 2: (99.0, 57.5)},  # claim "relative": reproduced
    "absolute-pe": {0: (85.0, 49.0), 1: (86.0, 52.0), 2: (84.0, 50.0)},  # claim "absolute": contradicted
    "rel-L64": {0: (90.5, 50.2), 1: (92.0, 51.0)},  # seed 2 missing
}
CURVES = {"raf": {0: [120.0, 100.0, 95.0], 1: [118.0, 104.0, 93.0]},
          "self-attention": {0: [125.0, 110.0, 101.0], 1: [121.0, 108.0]}}  # seed 1 stopped after 2 epochs


def _hand_rows(store: ResultsStore) -> None:
    rng = np.random.default_rng(0)
    for row, seeds in HAND.items():
        for seed, (mpjpe, pa) in seeds.items():
            rid = store.claim_run(f"hand-{row}-{seed}", "table3", row, seed, "cpu", {}, "synthkey")
            store.log_metrics(rid, "test", "synth-test", {"mpjpe": mpjpe, "pa_mpjpe": pa})
            if row == "null" and seed == 0:  # per-sample errors for the breakdown
                err = rng.uniform(50, 150, 6)
                store.log_samples(rid, "test", "synth-test", np.arange(6), ["walk", "sit"] * 3,
                                  {"mpjpe": err}, per_joint=rng.uniform(0, 200, (6, 14)))
            store.finish_run(rid, wall_time=60.0 + seed)
    rid = store.claim_run("hand-M2-0", "table4", "M2", 0, "smoke", {}, "synthkey")  # a config without data.num_rois
    store.log_metrics(rid, "test", "synth-test", {"mpjpe": 500.0, "pa_mpjpe": 250.0})
    store.finish_run(rid, wall_time=1.0)
    # the shared-backbone row exists in the paper profile only (ablations/table4.py)
    rid = store.claim_run("hand-shared-M5-0", "table4", "shared-M5", 0, "paper", {}, "synthkey")
    store.log_metrics(rid, "test", "synth-test", {"mpjpe": 480.0, "pa_mpjpe": 240.0})
    store.finish_run(rid, wall_time=1.0)
    rid = store.claim_run("hand-rel-L0-0", "table3", "rel-L0", 0, "cpu", {}, "synthkey")
    store.fail_run(rid, "non-finite loss: keypoint is NaN")
    for row, seeds in CURVES.items():
        for seed, vals in seeds.items():
            rid = store.claim_run(f"hand-fig8-{row}-{seed}", "fig8", row, seed, "cpu", {}, "synthkey")
            for epoch, v in enumerate(vals):
                store.log_metrics(rid, "val", "synth-test", {"mpjpe": v, "pa_mpjpe": v / 2}, epoch=epoch)
            store.log_metrics(rid, "test", "synth-test", {"mpjpe": vals[-1], "pa_mpjpe": vals[-1] / 2})
            store.finish_run(rid, wall_time=30.0)


@pytest.fixture(scope="session")
def built(tmp_path_factory, synth_root):  # noqa: F811
    """(store, cache, reports folder): smoke runs trained here + hand-written rows, the report built once."""
    from hmr_bench.bench.results import write_records
    from hmr_bench.experiment.runner import run_table
    from hmr_bench.report import build_reports

    root = tmp_path_factory.mktemp("report")
    cache = make_cache(root / "cache", synth_root)
    url = f"sqlite:///{root / 'results.sqlite'}"
    bench = root / "bench"
    write_records([{"benchmark": f"M{m}", "scope": "end-to-end", "mode": "crops", "name": f"cnn-tiny-M{m}",
                    "num_rois": m, "backbone": "cnn-tiny", "batch": 8, "device": "cpu", "figure": "samples_per_s",
                    "value": fps} for m, fps in ((1, 410.5), (3, 160.25), (5, 97.0))], "hand", bench)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMR_BENCH_CACHE", str(cache))
        kw = dict(store_url=url, overrides=tiny(), progress=False, seeds=[0])
        run_table("table2", "smoke", variants=["no-cam", "full"], **kw)
        # not M5: with these overrides it is table2's "full" config (same hash), counted for table4 through the
        # store's alias (tests/experiment/test_runner.py), which would make this fixture's hand-written rows ambiguous
        run_table("table4", "smoke", variants=["M1", "M3"], **kw)
        store = ResultsStore(url)
        _hand_rows(store)
        out = root / "reports"
        build_reports(store, out, bench_dir=bench)
        yield store, cache, out


# ------------------------------------------------------------------------------------------- helpers

class Cells(HTMLParser):
    """Every element with a data-kind attribute: its attributes and text."""

    def __init__(self):
        super().__init__()
        self.cells, self._open = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._open.append(a if "data-kind" in a or "data-claim" in a else None)

    def handle_endtag(self, tag):
        if self._open:
            a = self._open.pop()
            if a is not None:
                self.cells.append(a)

    def handle_data(self, data):
        for a in self._open:
            if a is not None:
                a["text"] = a.get("text", "") + data


def cells(path: Path) -> list[dict]:
    p = Cells()
    p.feed(path.read_text())
    for c in p.cells:
        c["text"] = " ".join(c.get("text", "").split())
    return p.cells


def t_interval(x) -> tuple[float, float]:
    """Mean and 95 % Student-t half-width of x, computed here (NaN half-width for one value)."""
    x = np.asarray(x, float)
    if len(x) < 2:
        return float(x.mean()), math.nan
    return float(x.mean()), float(sps.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def shown(mean: float, half: float) -> str:
    return f"{mean:.1f}" if math.isnan(half) else f"{mean:.1f} ± {half:.1f}"


def per_seed(store, table: str, metric: str, profile: str | None = None) -> dict[str, dict[int, float]]:
    """variant → seed → final test value, from the store's rows (of one profile, or all)."""
    runs = {r["run_id"]: r for r in store.runs(table=table, status="finished") if profile in (None, r["profile"])}
    out: dict = {}
    for m in store.metrics(list(runs), split="test"):
        if m["name"] == metric:
            out.setdefault(m["variant"], {})[m["seed"]] = m["value"]
    return out


# ------------------------------------------------------------------------------------------- numbers

@pytest.mark.parametrize("table", ["table2", "table3", "table4", "fig8"])
def test_every_number_on_the_page_and_in_the_csv_equals_the_store(built, table):
    store, _, out = built
    page = cells(out / f"{table}.html")
    rows = list(csv.DictReader(io.StringIO((out / f"{table}.csv").read_text())))
    checked = 0
    for metric in ("mpjpe", "pa_mpjpe"):
        # table4's hand-written shared-M5 run is of the paper profile (its only one): its own section, no diff
        values = per_seed(store, table, metric, "smoke" if table == "table4" else None)
        ref = {"table2": "full", "table3": "rel-L32", "table4": "M5", "fig8": "raf"}[table]
        for variant, seeds in values.items():
            mean, half = t_interval(list(seeds.values()))
            cell = next(c for c in page if c.get("data-row") == variant and c.get("data-metric") == metric
                        and c.get("data-kind") == "mean" and c["data-value"])  # the profile section that ran it
            assert float(cell["data-value"]) == pytest.approx(mean, rel=1e-12)
            assert cell["text"] == shown(mean, half)
            rec = next(r for r in rows if r["row"] == variant and r["metric"] == metric and r["mean"])
            assert float(rec["mean"]) == pytest.approx(mean, rel=1e-12)
            assert rec["n_seeds"] == str(len(seeds))
            if not math.isnan(half):
                assert float(rec["ci_high"]) - mean == pytest.approx(half, rel=1e-9)
            if variant != ref and ref in values:
                shared = sorted(set(seeds) & set(values[ref]))
                d_mean, d_half = t_interval([seeds[s] - values[ref][s] for s in shared])
                diff = next(c for c in page if c.get("data-row") == variant and c.get("data-metric") == metric
                            and c.get("data-kind") == "diff" and c["data-value"])
                assert float(diff["data-value"]) == pytest.approx(d_mean, rel=1e-12, abs=1e-12)
                assert diff["text"] == ("+" if d_mean >= 0 else "") + shown(d_mean, d_half)
                assert float(rec["diff_mean"]) == pytest.approx(d_mean, rel=1e-12, abs=1e-12)
            checked += 1
    assert checked >= 4
    from hmr_bench.tables import load_table

    declared = load_table(table)
    papers = [c for c in page if c.get("data-kind") == "paper"]
    for c in papers:  # the paper's numbers as ablations/<table>.py declares them
        want = declared.row(c["data-row"]).paper.get(c["data-metric"])
        assert (c["data-value"], c["text"]) == (("", "") if want is None else (repr(want), f"{want:.1f}"))
    sections = {r["profile"] for r in rows}  # one section per profile with runs, each showing its rows
    assert len(papers) == (0 if table == "fig8" else 2 * sum(len(declared.rows_for(p)) for p in sections))


def test_verdicts_by_hand(built):
    """table3 by hand: null − rel-L32 = (10, 13, 6.5) mm → CI above 0 → the claim 'relative' is reproduced;
    absolute-pe − rel-L32 = (−5, −5, −8.5): mean −6.17, half-width 4.303·2.021/√3 = 5.02 → CI below 0 →
    'absolute' is contradicted."""
    _, _, out = built
    page = cells(out / "table3.html")
    claims = {c["data-claim"]: c["data-verdict"] for c in page if "data-claim" in c}
    assert claims["relative"] == "reproduced" and claims["absolute"] == "contradicted"
    assert claims["pe"] == "not run"
    diff = next(c for c in page if c.get("data-row") == "absolute-pe" and c.get("data-metric") == "mpjpe"
                and c.get("data-kind") == "diff")
    assert diff["data-verdict"] == "contradicted" and diff["text"] == "-6.2 ± 5.0"
    assert float(diff["data-high"]) == pytest.approx(-6.1667 + 5.0198, abs=1e-3)
    html = (out / "table3.html").read_text()
    assert re.search(r'class="num v-contradicted" data-row="absolute-pe" data-metric="mpjpe"', html)
    assert re.search(r'class="num v-reproduced" data-row="null" data-metric="mpjpe"', html)


def test_missing_rows_and_seeds_show_not_run_with_their_command(built):
    store, _, out = built
    html = (out / "table3.html").read_text()
    page = cells(out / "table3.html")
    mean = next(c for c in page if c.get("data-row") == "rel-L0" and c.get("data-kind") == "mean")
    assert mean["text"] == "not run" and mean["data-value"] == ""
    suffix = f" --store {store.url_redacted}"
    assert f"hmr-bench run table3 --profile cpu --variants rel-L0 --seeds 0,1,2{suffix}" in html
    assert f"hmr-bench run table3 --profile cpu --variants rel-L64 --seeds 2{suffix}" in html
    assert "1 failed" in html  # rel-L0's failed run is shown, not hidden
    rows = list(csv.DictReader(io.StringIO((out / "table3.csv").read_text())))
    status = {r["row"]: r["status"] for r in rows}
    assert status == {"null": "ok", "absolute-pe": "ok", "rel-L0": "not run", "rel-L32": "ok",
                      "rel-L64": "missing seeds 2"}
    # a table nothing was run for: one section of not-run rows, never an empty table or a crash
    t1 = cells(out / "table1.html")
    means = [c for c in t1 if c.get("data-kind") == "mean"]
    assert len(means) == 3 * 3 and {c["text"] for c in means} == {"not run"}  # 3 cpu rows × 3 metrics
    t1_html = (out / "table1.html").read_text()
    assert f"hmr-bench run table1 --profile cpu --seeds 0,1,2,3,4,5,6,7{suffix}</code>" in t1_html  # the whole table
    t1_rows = list(csv.DictReader(io.StringIO((out / "table1.csv").read_text())))
    assert {r["command"] for r in t1_rows if r["row"] == "hmr"} == {
        f"hmr-bench run table1 --profile cpu --variants hmr --seeds 0,1,2,3,4,5,6,7{suffix}"}
    assert "Not run" in (out / "fig7.html").read_text()


def test_commands_carry_the_overrides_the_runs_were_made_with(built):
    """The smoke runs used the TINY overrides: the command shown for a finished run, run through the CLI's own
    parsing, gives back that run's config hash (so it re-makes the row), and a not-run row's command carries the
    same overrides (so it joins the same table)."""
    import shlex

    from hmr_bench.config import parse_overrides
    from hmr_bench.experiment.jobs import table_jobs
    from hmr_bench.tables import load_table

    store, _, out = built
    html = (out / "table2.html").read_text().replace("&#39;", "'")
    run = next(r for r in store.runs(table="table2") if r["variant"] == "no-cam")
    cmd = re.search(r"<code>(hmr-bench run table2 --profile smoke --variants no-cam --seeds 0 [^<]*)</code>",
                    html).group(1)
    argv = shlex.split(cmd)
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    assert argv[argv.index("--store") + 1] == store.url_redacted
    job = table_jobs(load_table("table2"), "smoke", seeds=[0], overrides=parse_overrides(sets), variants=["no-cam"])[0]
    assert job.cfg.hash(run["dataset_key"]) == run["config_hash"]
    assert "data.n_train=32" in sets and "model.fc1_dim=64" in sets
    missing = re.search(r"hmr-bench run table2 --profile smoke --variants none --seeds 0 ([^<]*)", html).group(1)
    assert sorted(shlex.split(missing)[1::2][:len(sets)]) == sorted(sets)


def test_curves_and_breakdown_csv_match_the_rows(built):
    store, _, out = built
    curves = list(csv.DictReader(io.StringIO((out / "fig8_curves.csv").read_text())))
    for row, seeds in CURVES.items():
        for epoch in range(3):
            vals = [v[epoch] for v in seeds.values() if len(v) > epoch]
            rec = next(r for r in curves if r["row"] == row and r["metric"] == "mpjpe" and r["epoch"] == str(epoch))
            assert float(rec["mean"]) == pytest.approx(np.mean(vals))
            assert (float(rec["low"]), float(rec["high"]), int(rec["n"])) == (min(vals), max(vals), len(vals))
    run = next(r for r in store.runs(table="table3") if r["variant"] == "null" and r["seed"] == 0)
    s = store.samples(run["run_id"], "test", "mpjpe")
    bd = list(csv.DictReader(io.StringIO((out / "table3_breakdown.csv").read_text())))
    for action in ("walk", "sit"):
        rec = next(r for r in bd if r["row"] == "null" and r["name"] == action)
        assert float(rec["mpjpe"]) == pytest.approx(s["value"][s["action"] == action].mean())
    rec = next(r for r in bd if r["row"] == "null" and r["name"] == "head_top")
    assert float(rec["mpjpe"]) == pytest.approx(s["per_joint"][:, 13].astype(float).mean(), rel=1e-6)


def test_table4_fps_from_the_benchmark_file(built, tmp_path):
    from hmr_bench.report import build_reports

    store, cache, out = built
    page = cells(out / "table4.html")
    fps = {c.get("data-value") for c in page if c.get("data-kind") == "fps"}
    assert {"410.5", "160.25", "97.0", ""} <= fps  # every row whose M has a record; M6–M8 have none
    assert next(c for c in page if c.get("data-kind") == "fps" and c["data-value"] == "")["text"] == "not measured"
    assert any(c.get("data-kind") == "fps-paper" and c["data-value"] == "55.6" for c in page)
    # the shared-backbone row (M = 5 too) gets neither the paper's separate-crops FPS nor the crops record
    shared_paper = [c for c in page if c.get("data-kind") == "fps-paper" and c["data-row"] == "shared-M5"]
    assert shared_paper and all(c["data-value"] == "" for c in shared_paper)
    assert "shared mode: see the speed page" in {c["text"] for c in page if c.get("data-kind") == "fps"}
    html = (out / "table4.html").read_text()
    assert "FPS cnn-tiny · cpu · batch 8" in html and html.count("<svg") >= 4  # forest, M plot, FPS plot, bars
    assert (out / "table4_fps.csv").read_text().count(",cnn-tiny,8,") == 3
    # without a benchmark file: "not measured — run `nox -s bench`"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMR_BENCH_CACHE", str(cache))
        build_reports(store, tmp_path, ["table4"], bench_dir=tmp_path / "none", gallery=False)
    assert "not measured — run `nox -s bench`" in (tmp_path / "table4.html").read_text()


def test_gallery_draws_the_meshes_where_the_person_is(built):
    """The ground-truth tile differs from the plain image where the person's visible keypoints are (the mesh
    lies over them, placed by the annotation's camera), on a small part of the image only; each finished row with
    a checkpoint has a column."""
    import cv2

    _, _, out = built
    html = (out / "table2.html").read_text()
    m = re.search(r'<table class="gallery">(.*?)</table>', html, re.S)
    assert m, "no gallery on the Table 2 page"
    heads = re.findall(r"<th>([^<]*)</th>", m.group(1).split("</thead>")[0])
    assert heads[1:] == ["image", "ground truth", "no-cam (seed 0)", "full (seed 0)"]
    first = m.group(1).split("</thead>")[1].split("</tr>")[0]
    index = int(re.search(r"#(\d+)", first).group(1))
    imgs = [cv2.imdecode(np.frombuffer(base64.b64decode(s), np.uint8), cv2.IMREAD_COLOR).astype(int)
            for s in re.findall(r'src="data:image/jpeg;base64,([^"]+)"', first)]
    assert len(imgs) == 4
    plain, gt = imgs[0], imgs[1]
    from hmr_bench.data.spin_format import read_annotations
    from hmr_bench.data.synth.generate import synth_root

    ann = None
    for folder in Path(synth_root()).glob("*"):
        if (folder / "test.npz").exists():
            ann = read_annotations(folder / "test.npz")
    s = plain.shape[0] / float(ann["img_h"][index])
    kp = ann["part"][index]
    vis = kp[:, 2] > 0
    diff = np.abs(gt - plain).sum(-1)
    on = [diff[min(int(y * s), diff.shape[0] - 1), min(int(x * s), diff.shape[1] - 1)] for x, y in kp[vis, :2]]
    assert np.mean(np.array(on) > 30) >= 0.6, on
    assert np.median(on) > 60
    assert 0.002 < (diff > 30).mean() < 0.4  # a person, not the whole image


def test_gallery_says_when_a_checkpoint_is_missing(built, tmp_path):
    from hmr_bench.report import build_reports

    store, cache, _ = built
    run = next(r for r in store.runs(table="table2") if r["variant"] == "no-cam")
    best = cache / "runs" / run["config_hash"] / "best.pt"
    moved = tmp_path / "best.pt"
    shutil.move(best, moved)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HMR_BENCH_CACHE", str(cache))
            build_reports(store, tmp_path / "r", ["table2"])
    finally:
        shutil.move(moved, best)
    html = (tmp_path / "r" / "table2.html").read_text()
    assert "no-cam: no checkpoint" in html and "full (seed 0)</th>" in html and "no-cam (seed 0)</th>" not in html


def test_gallery_says_when_a_checkpoint_is_refused(built, tmp_path):
    """A damaged best.pt is named with the reason it was refused, not reported as missing; with no row left to
    draw, the page says so and why for each row."""
    import html as html_lib

    from hmr_bench.report import build_reports

    store, cache, _ = built
    runs = {r["variant"]: r for r in store.runs(table="table2")}
    best = {v: cache / "runs" / runs[v]["config_hash"] / "best.pt" for v in ("no-cam", "full")}
    kept = {v: tmp_path / f"{v}.pt" for v in best}
    for v in best:
        shutil.copy(best[v], kept[v])
    garbage = bytes(range(256))[::-1]  # not a zip archive; its first byte is no pickle opcode torch allows
    best["no-cam"].write_bytes(garbage)
    best["full"].unlink()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HMR_BENCH_CACHE", str(cache))
            build_reports(store, tmp_path / "r", ["table2"])
    finally:
        for v in best:
            shutil.copy(kept[v], best[v])
    text = " ".join(html_lib.unescape((tmp_path / "r" / "table2.html").read_text()).split())
    assert (f"No gallery: no row can be drawn: no-cam: its checkpoint was refused ({best['no-cam']}: found data that "
            f"safe loading refuses (Unsupported operand {garbage[0]}); expected a checkpoint") in text
    assert f"full: no checkpoint ({best['full']})" in text
    assert "no run has a checkpoint" not in text


def test_pages_are_self_contained(built):
    _, _, out = built
    for page in out.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), page
        assert "<link" not in html and "@import" not in html and "url(http" not in html, page
    index = (out / "index.html").read_text()
    for name in ("table1", "table2", "table3", "table4", "fig7", "fig8", "discrepancies"):
        assert f'href="{name}.html"' in index
    md = (out / "table3.md").read_text()
    assert "| absolute-pe |" in md and "-6.2 ± 5.0 (contradicted)" in md


def test_cli_report_command(built, tmp_path, capsys):
    import argparse

    from hmr_bench.report.cli import add_parser

    store, cache, _ = built
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "--store", store.url_redacted, "--out", str(tmp_path), "--tables",
                              "table3,fig8", "--no-gallery"])
    assert args.func(args) == 0
    assert "wrote" in capsys.readouterr().out
    assert {p.name for p in tmp_path.glob("*.html")} == {"table3.html", "fig8.html", "index.html"}
    args = parser.parse_args(["report", "--store", store.url_redacted, "--out", str(tmp_path), "--tables", "tabel3"])
    with pytest.raises(InputError, match="tabel3.*did you mean 'table3'"):
        args.func(args)
    args = parser.parse_args(["report", "--store", store.url_redacted, "--out", str(tmp_path), "--profiles", "gpu"])
    with pytest.raises(InputError, match="--profiles.*found gpu; expected .*cpu, paper, smoke"):
        args.func(args)


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed (CI installs chromium)")
def test_page_renders_in_headless_chromium(built, tmp_path):
    from PIL import Image

    _, _, out = built
    png = tmp_path / "table2.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1280,2000",
           (out / "table2.html").resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.exists(), "chromium wrote no screenshot"
    img = np.asarray(Image.open(png).convert("RGB"), float)
    assert img.shape[:2] == (2000, 1280)
    non_white = (img < 235).any(-1).mean()
    assert non_white > 0.08 and img.std() > 20, (non_white, img.std())
    # the header bar is dark and the verdict colours are there: the CSS was applied
    assert img[:30].mean() < 80


def test_trivial_baseline_on_the_page_equals_the_store(built):
    store, _, out = built
    (run,) = [r for r in store.runs(table="trivial") if r["status"] == "finished"]
    expected = {m["name"]: m["value"] for m in store.metrics([run["run_id"]], split="test")}
    html = (out / "table2.html").read_text()
    shown = dict(re.findall(r'data-trivial="(\w+)">([\d.]+)<', html))
    assert set(shown) == {"mpjpe", "pa_mpjpe", "pve"}
    for metric, text in shown.items():
        assert float(text) == pytest.approx(expected[metric], abs=0.05)
