"""The report's sweep pages from a real optuna storage made here with the project's study API (no training): two
studies with hand-chosen trial values (complete, pruned, failed; single and multi objective), a retrain plan whose
test runs are written into the results store by hand. The pages must show the counts, the best trial (the minimum
over the complete trials' values), each trial's parameters and values, the paired retrain statistics (t CI over
seeds, computed here with scipy) and, for the study without a retrain, "not run" with a command that the sweep
CLI's own parser turns back into the study's exact spec.

A second storage holds a study whose retrain trained a trial that is no longer the best (a warning on its page; its
runs hold no compared metric, so no retrain figure) and a study with no complete trial (its defaults trial failed),
which still renders; reading the storage never writes to it."""

from __future__ import annotations

import argparse
import math
import re
import shlex

import numpy as np
import optuna
import pytest
from scipy import stats as sps

from hmr_bench.store import ResultsStore
from hmr_bench.sweep.space import build_spec, spec_differences
from hmr_bench.sweep.study import RETRAIN_ATTR, create_or_load_study, open_storage
from tests.html_elements import elements as _elements

# study "demo": λcam, λcont; trial 0 is the paper's defaults (enqueued by the project), then these
DEMO_COMPLETE = [({"lambda_cam": 2.0, "lambda_cont": 0.05}, 95.5), ({"lambda_cam": 0.5, "lambda_cont": 0.3}, 90.25)]
DEMO_DEFAULTS_VALUE = 100.0
DEMO_PRUNED = ({"lambda_cam": 5.0, "lambda_cont": 0.8}, {0: 130.0, 1: 120.0})
DEMO_FAILED = ({"lambda_cam": 7.0, "lambda_cont": 0.9}, "training failed: non-finite loss")
# retrain of "demo": test values per seed, (defaults, best)
RETRAIN = {"mpjpe": ({0: 100.0, 1: 102.0, 2: 101.0}, {0: 95.0, 1: 96.5, 2: 94.0}),
           "pa_mpjpe": ({0: 50.0, 1: 52.0, 2: 51.0}, {0: 51.0, 1: 50.0, 2: 52.5})}
# study "space-b": two objectives, a user key and a built-in with its own range, no retrain
B_VALUES = [[80.0, 40.0], [78.0, 41.0]]  # trial 0 (defaults), trial 1


def elements(html: str) -> list[dict]:
    return _elements(html, ("data-kind", "data-state", "data-trial"))


def one(found: list[dict], **attrs) -> dict:
    hits = [e for e in found if all(e.get(k.replace("_", "-")) == v for k, v in attrs.items())]
    assert len(hits) == 1, (attrs, hits)
    return hits[0]


def _demo(storage, store) -> None:
    spec = build_spec("smoke", search=["lambda_cam", "lambda_cont"], overrides={"train.epochs": 2})
    study = create_or_load_study(storage, "demo", spec)  # enqueues the paper's defaults as trial 0
    dist = {p.name: p.distribution() for p in spec.params}
    trial = study.ask(dist)
    trial.set_user_attr("config_hash", "hash-trial-0")
    study.tell(trial, [DEMO_DEFAULTS_VALUE])
    for params, value in DEMO_COMPLETE:
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dist, values=[value]))
    study.add_trial(optuna.trial.create_trial(params=DEMO_PRUNED[0], distributions=dist, intermediate_values=
                                              DEMO_PRUNED[1], state=optuna.trial.TrialState.PRUNED))
    study.add_trial(optuna.trial.create_trial(params=DEMO_FAILED[0], distributions=dist, user_attrs={
        "failure": DEMO_FAILED[1]}, state=optuna.trial.TrialState.FAIL))
    best = min(DEMO_COMPLETE + [({}, DEMO_DEFAULTS_VALUE)], key=lambda pv: pv[1])
    plan = {"seeds": [0, 1, 2], "best_trial": 2, "params": {"best": best[0], "defaults": spec.defaults()},
            "hashes": {arm: {str(s): f"retrain-{arm}-{s}" for s in (0, 1, 2)} for arm in ("best", "defaults")},
            "status": {arm: {str(s): "finished" for s in (0, 1, 2)} for arm in ("best", "defaults")}}
    for k, arm in enumerate(("defaults", "best")):
        for seed in (0, 1, 2):
            rid = store.claim_run(plan["hashes"][arm][str(seed)], "sweep:demo", arm, seed, "smoke", {}, "synthkey")
            store.log_metrics(rid, "test", "synth-test", {m: RETRAIN[m][k][seed] for m in RETRAIN})
            store.finish_run(rid, wall_time=10.0)
    study.set_user_attr(RETRAIN_ATTR, plan)


def _space_b(storage):
    spec = build_spec("smoke", search=["lambda_cont"], params=["train.lr=1e-5:1e-3:log", "lambda_cam=0.5:2"],
                      metrics=("mpjpe", "pa_mpjpe"), overrides={"train.epochs": 3, "data.n_train": 32}, seed=1,
                      sampler_seed=3)
    study = create_or_load_study(storage, "space-b", spec)
    dist = {p.name: p.distribution() for p in spec.params}
    trial = study.ask(dist)  # the enqueued defaults
    study.tell(trial, B_VALUES[0])
    study.add_trial(optuna.trial.create_trial(params={"lambda_cont": 0.2, "train.lr": 3e-4, "lambda_cam": 1.5},
                                              distributions=dist, values=B_VALUES[1]))
    return spec


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(store, storage URL, reports folder, spec of space-b): both studies, the report of the sweeps built once."""
    from hmr_bench.report import build_reports
    from hmr_bench.train.perf import threads

    root = tmp_path_factory.mktemp("sweep_report")
    with pytest.MonkeyPatch.context() as mp, threads(1):
        mp.setenv("HMR_BENCH_CACHE", str(root / "cache"))
        store = ResultsStore(f"sqlite:///{root / 'results.sqlite'}")
        url = f"sqlite:///{root / 'sweeps.sqlite'}"
        storage = open_storage(url, heartbeat=False)
        _demo(storage, store)
        spec_b = _space_b(storage)
        out = root / "reports"
        build_reports(store, out, ["sweeps"], sweep_storage=url, gallery=False, bench_dir=root / "bench")
        yield store, url, out, spec_b


# ------------------------------------------------------------------------------------------- tests

def test_a_page_per_study_and_cards_on_the_index(built):
    _, url, out, _ = built
    assert {p.name for p in out.glob("*.html")} == {"index.html", "sweep-demo.html", "sweep-space-b.html"}
    index = (out / "index.html").read_text()
    assert 'href="index.html#sweeps"' in index and 'id="sweeps"' in index
    assert 'href="sweep-demo.html"' in index and 'href="sweep-space-b.html"' in index
    # demo: 3 complete (defaults + 2), 1 pruned, 1 failed; best = min over the complete trials' values
    demo_values = [DEMO_DEFAULTS_VALUE] + [v for _, v in DEMO_COMPLETE]
    card = index.split('data-study="demo"')[1].split('data-study="space-b"')[0]
    states = {e["data-state"]: int(e["data-value"]) for e in elements(card) if "data-state" in e}
    assert states == {"COMPLETE": 3, "PRUNED": 1, "FAIL": 1}
    best = [e for e in elements(card) if e.get("data-kind") == "best-value"]
    assert [float(e["data-value"]) for e in best] == [min(demo_values)]
    assert best[0]["text"] == f"{min(demo_values):.2f}"
    weights = {e["data-param"]: float(e["data-value"]) for e in elements(card) if e.get("data-kind") == "best-param"}
    assert weights == DEMO_COMPLETE[int(np.argmin([v for _, v in DEMO_COMPLETE]))][0]
    # space-b, two objectives: the Pareto trial with the lowest first objective
    card_b = index.split('data-study="space-b"')[1]
    best_b = [float(e["data-value"]) for e in elements(card_b) if e.get("data-kind") == "best-value"]
    assert best_b == min(B_VALUES, key=lambda v: v[0])


def test_navigation_marks_the_sweeps_entry_on_a_sweep_page(built):
    _, _, out, _ = built
    html = (out / "sweep-demo.html").read_text()
    assert '<a href="index.html#sweeps" class="here">Sweeps</a>' in html
    assert re.search(r'<a class="brand" href="index.html">', html)


def test_trials_table_shows_every_parameter_and_value(built):
    _, _, out, _ = built
    found = elements((out / "sweep-demo.html").read_text())
    trials = {int(e["data-trial"]): e["data-state"] for e in found if "data-trial" in e}
    assert trials == {0: "COMPLETE", 1: "COMPLETE", 2: "COMPLETE", 3: "PRUNED", 4: "FAIL"}
    expected = {0: ({"lambda_cam": 1.0, "lambda_cont": 0.1}, DEMO_DEFAULTS_VALUE),  # the paper's defaults
                1: DEMO_COMPLETE[0], 2: DEMO_COMPLETE[1], 3: (DEMO_PRUNED[0], None), 4: (DEMO_FAILED[0], None)}
    html = (out / "sweep-demo.html").read_text()
    rows = re.findall(r'<tr data-trial="(\d+)".*?</tr>', html, re.S)
    bodies = re.findall(r'(<tr data-trial="\d+".*?</tr>)', html, re.S)
    assert [int(r) for r in rows] == sorted(expected)
    for body in bodies:
        n = int(re.search(r'data-trial="(\d+)"', body).group(1))
        params, value = expected[n]
        cells = elements(body)
        shown = {e["data-param"]: float(e["data-value"]) for e in cells if e.get("data-kind") == "param"}
        assert shown == params
        val = one(cells, data_kind="value", data_metric="mpjpe")
        assert val["data-value"] == ("" if value is None else repr(value))
    pruned = bodies[3]
    last = max(DEMO_PRUNED[1])
    assert f"{DEMO_PRUNED[1][last]:.2f} (epoch {last + 1})" in pruned
    assert DEMO_FAILED[1] in bodies[4]


def test_best_against_the_defaults_trial(built):
    _, _, out, _ = built
    found = elements((out / "sweep-demo.html").read_text())
    best_value = min([DEMO_DEFAULTS_VALUE] + [v for _, v in DEMO_COMPLETE])
    assert float(one(found, data_kind="best-value")["data-value"]) == best_value
    assert float(one(found, data_kind="defaults-value")["data-value"]) == DEMO_DEFAULTS_VALUE
    assert float(one(found, data_kind="best-minus-defaults")["data-value"]) == pytest.approx(
        best_value - DEMO_DEFAULTS_VALUE)
    assert one(found, data_kind="best-trial")["data-value"] == "2"
    assert one(found, data_kind="defaults-trial")["data-value"] == "0"
    # the paper's defaults (spec §4.7): λcam = 1, λcont = 0.1
    defaults = {e["text"]: e["data-value"] for e in found if e.get("data-kind") == "default"}
    assert sorted(defaults.values()) == ["0.1", "1.0"]


def test_retrain_statistics_by_hand(built):
    """best − defaults per seed, mean ± t(0.975, n−1)·sd/√n: mpjpe (−5, −5.5, −7) lies below 0 (best beats the
    defaults), pa_mpjpe (+1, −2, +1.5) contains 0 (no difference beyond seed noise)."""
    _, _, out, _ = built
    html = (out / "sweep-demo.html").read_text()
    assert "Retrain not run" not in html
    for metric, (dflt, best) in RETRAIN.items():
        row = re.search(rf'<tr data-dataset="synth-test" data-metric="{metric}">.*?</tr>', html, re.S).group(0)
        cells = elements(row)
        d = np.array([best[s] - dflt[s] for s in (0, 1, 2)])
        half = sps.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
        diff = one(cells, data_kind="retrain-diff")
        assert float(diff["data-value"]) == pytest.approx(d.mean(), rel=1e-12)
        assert float(diff["data-low"]) == pytest.approx(d.mean() - half, rel=1e-9)
        assert float(diff["data-high"]) == pytest.approx(d.mean() + half, rel=1e-9)
        assert diff["text"] == f"{d.mean():+.2f} ± {half:.2f}"
        for kind, arm in (("retrain-defaults", dflt), ("retrain-best", best)):
            x = np.array([arm[s] for s in (0, 1, 2)])
            h = sps.t.ppf(0.975, 2) * x.std(ddof=1) / math.sqrt(3)
            assert one(cells, data_kind=kind)["text"] == f"{x.mean():.2f} ± {h:.2f}"
        verdict = one(cells, data_kind="retrain-verdict")
        below, above = d.mean() + half < 0, d.mean() - half > 0
        assert verdict["data-value"] == ("reproduced" if below else "contradicted" if above else "inconclusive")
    assert one(elements(html), data_kind="retrain-seeds")["text"] == "0, 1, 2"


def test_retrain_figure_draws_each_seed_and_titles_the_hand_computed_difference(built):
    """The seaborn retrain figure: one panel per compared metric, titled with best − defaults and its t interval
    (computed here), 2 × 3 seed points per panel (one grey marker each) and two mean markers with CI whiskers."""
    _, _, out, _ = built
    html = (out / "sweep-demo.html").read_text()
    svg = re.search(r'<figure data-figure="retrain-synth-test">(.*?)</figure>', html, re.S).group(1)
    for metric, (dflt, best) in RETRAIN.items():
        d = np.array([best[s] - dflt[s] for s in (0, 1, 2)])
        half = sps.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
        title = f"{metric}: best − defaults {d.mean():+.2f} [{d.mean() - half:+.2f}, {d.mean() + half:+.2f}]"
        assert title in svg, title
    assert "Best weights vs the paper&#39;s defaults on synth-test (3 seeds, 95 % CI)" in svg \
        or "Best weights vs the paper's defaults on synth-test (3 seeds, 95 % CI)" in svg
    assert "paper defaults" in svg and "best (trial 2)" in svg


def test_retrain_not_run_shows_a_command_that_rebuilds_the_study_spec(built):
    """The command shown for space-b, parsed by the sweep CLI's own parser and turned into a spec as `cmd_sweep`
    does, gives the stored spec exactly (so it loads the study instead of being refused), asks for the trials the
    study already holds (nothing new is searched) and names the storage and the store."""
    from hmr_bench.config import parse_overrides
    from hmr_bench.sweep.cli import add_parser

    store, url, out, spec_b = built
    html = (out / "sweep-space-b.html").read_text()
    assert one(elements(html), data_kind="retrain-not-run")
    cmd = re.search(r'data-kind="retrain-not-run".*?<code class="cmd">([^<]*)</code>', html, re.S).group(1)
    argv = shlex.split(cmd.replace("&#39;", "'").replace("&amp;", "&"))
    assert argv[:2] == ["hmr-bench", "sweep"]
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv[1:])
    spec = build_spec(args.profile, search=None if args.search is None else args.search.split(","),
                      params=args.param, metrics=tuple(m.strip() for m in args.metric.split(",")),
                      cam_form=args.cam_form, overrides=parse_overrides(args.set), seed=args.seed,
                      sampler_seed=args.sampler_seed, pruner=args.pruner)
    assert spec_differences(spec_b.to_dict(), spec.to_dict()) == []
    assert (args.study, args.trials, args.storage, args.store) == ("space-b", len(B_VALUES), url, store.url_redacted)
    # demo's command carries the seeds of its retrain plan
    demo = (out / "sweep-demo.html").read_text()
    assert "--study demo --profile smoke --trials 4 --search lambda_cam,lambda_cont" in demo
    assert "--retrain-seeds 0,1,2" in demo


def test_no_study_no_page_and_the_index_says_how_to_run_one(built, tmp_path, one_thread):
    from hmr_bench.report import build_reports

    store, _, _, _ = built
    missing = tmp_path / "no" / "sweeps.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
        build_reports(store, tmp_path / "r", ["sweeps"], sweep_storage=str(missing), gallery=False,
                      bench_dir=tmp_path)
    assert not missing.exists() and not missing.parent.exists()  # reading creates nothing
    assert {p.name for p in (tmp_path / "r").glob("*.html")} == {"index.html"}
    index = (tmp_path / "r" / "index.html").read_text()
    assert 'id="no-sweep"' in index
    assert f"nox -s sweep -- --trials 20 --profile cpu --storage {missing}" in index


def test_cli_takes_the_sweep_storage(built, tmp_path, capsys, one_thread):
    from hmr_bench.report.cli import add_parser

    store, url, _, _ = built
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "--store", store.url_redacted, "--sweep-storage", url, "--out",
                              str(tmp_path), "--tables", "sweeps", "--no-gallery", "--bench-dir", str(tmp_path)])
    assert args.sweep_storage == url
    assert args.func(args) == 0
    assert "wrote" in capsys.readouterr().out
    assert {p.name for p in tmp_path.glob("*.html")} == {"index.html", "sweep-demo.html", "sweep-space-b.html"}


def test_sweep_pages_are_self_contained(built):
    _, _, out, _ = built
    for page in out.glob("sweep-*.html"):
        html = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), page
        assert "<link" not in html and "@import" not in html
        figures = re.findall(r'<figure data-figure="([^"]+)">', html)
        assert figures and all(re.search(rf'data-figure="{f}"><svg class="plot" ', html) for f in figures)
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids))  # every figure's element ids are its own
    figures = {page: re.findall(r'<figure data-figure="([^"]+)">', (out / f"sweep-{page}.html").read_text())
               for page in ("demo", "space-b")}
    assert figures["demo"] == ["history-mpjpe", "importances-mpjpe", "parallel-mpjpe", "slices-mpjpe",
                               "retrain-synth-test"]
    per_metric = [f"{kind}-{m}" for kind in ("history", "importances") for m in ("mpjpe", "pa_mpjpe")]
    assert figures["space-b"] == per_metric + ["parallel-mpjpe", "slices-mpjpe", "parallel-pa_mpjpe",
                                               "slices-pa_mpjpe"]


def test_stale_retrain_and_a_study_without_a_complete_trial(tmp_path, one_thread):
    """"stale": trial 0 (defaults, 100) was the best when the retrain ran (best_trial 0), trial 1 (95) is the best
    now: the retrain section warns. Its runs hold only "pve" (not a compared metric): the test set has no compared
    metric, so no retrain figure is drawn. "partial": only its defaults trial, failed: the page says no complete
    trial and no retrain, the trial row shows the failure."""
    from hmr_bench.report import build_reports

    store = ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}")
    url = f"sqlite:///{tmp_path / 'sweeps.sqlite'}"
    storage = open_storage(url, heartbeat=False)
    spec = build_spec("smoke", search=["lambda_cam", "lambda_cont"], overrides={"train.epochs": 2})
    dist = {p.name: p.distribution() for p in spec.params}
    study = create_or_load_study(storage, "stale", spec)
    trial = study.ask(dist)  # the enqueued defaults
    study.tell(trial, [100.0])
    plan = {"seeds": [0], "best_trial": 0, "params": {"best": spec.defaults(), "defaults": spec.defaults()},
            "hashes": {arm: {"0": f"stale-{arm}-0"} for arm in ("best", "defaults")},
            "status": {arm: {"0": "finished"} for arm in ("best", "defaults")}}
    for arm in ("defaults", "best"):
        rid = store.claim_run(plan["hashes"][arm]["0"], "sweep:stale", arm, 0, "smoke", {}, "synthkey")
        store.log_metrics(rid, "test", "synth-test", {"pve": 120.0})
        store.finish_run(rid, wall_time=1.0)
    study.set_user_attr(RETRAIN_ATTR, plan)
    study.add_trial(optuna.trial.create_trial(params={"lambda_cam": 0.5, "lambda_cont": 0.3}, distributions=dist,
                                              values=[95.0]))
    partial = create_or_load_study(storage, "partial", spec)
    trial = partial.ask(dist)
    trial.set_user_attr("failure", "training failed: out of memory")
    partial.tell(trial, state=optuna.trial.TrialState.FAIL)
    storage.engine.dispose()
    db = tmp_path / "sweeps.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
        before = db.read_bytes()
        build_reports(store, tmp_path / "r", ["sweeps"], sweep_storage=url, gallery=False, bench_dir=tmp_path)
        assert db.read_bytes() == before  # the report reads the storage without writing to it
    assert {p.name for p in (tmp_path / "r").glob("*.html")} == {"index.html", "sweep-stale.html",
                                                                 "sweep-partial.html"}
    html = (tmp_path / "r" / "sweep-stale.html").read_text()
    found = elements(html)
    assert one(found, data_kind="best-trial")["data-value"] == "1"
    stale = one(found, data_kind="retrain-stale")
    assert stale["data-value"] == "0" and one(found, data_kind="current-best")["text"] == "1"
    assert one(found, data_kind="retrain-incomplete")
    figures = re.findall(r'<figure data-figure="([^"]+)">', html)
    assert "history-mpjpe" in figures and not any(f.startswith("retrain-") for f in figures)
    # the demo-like case: a retrain of the current best shows no warning
    plan["best_trial"] = 1
    storage = open_storage(url, heartbeat=False)
    optuna.load_study(study_name="stale", storage=storage).set_user_attr(RETRAIN_ATTR, plan)
    storage.engine.dispose()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
        build_reports(store, tmp_path / "r2", ["sweeps"], sweep_storage=url, gallery=False, bench_dir=tmp_path)
    assert 'data-kind="retrain-stale"' not in (tmp_path / "r2" / "sweep-stale.html").read_text()

    page = (tmp_path / "r" / "sweep-partial.html").read_text()
    found = elements(page)
    assert one(found, data_kind="no-complete") and one(found, data_kind="retrain-not-run")
    assert {int(e["data-trial"]): e["data-state"] for e in found if "data-trial" in e} == {0: "FAIL"}
    row = re.search(r'<tr data-trial="0".*?</tr>', page, re.S).group(0)
    assert "paper&#39;s defaults" in row and "training failed: out of memory" in row
    assert one(elements(row), data_kind="value", data_metric="mpjpe")["data-value"] == ""
    index = (tmp_path / "r" / "index.html").read_text()
    card = index.split('data-study="partial"')[1].split('data-study="stale"')[0]
    states = {e["data-state"]: int(e["data-value"]) for e in elements(card) if "data-state" in e}
    assert states == {"COMPLETE": 0, "PRUNED": 0, "FAIL": 1} and "no complete trial yet" in card
