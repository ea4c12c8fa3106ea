"""The regime a table's numbers come from, and each row's ratio to the trivial baseline, above the results (text
and HTML), with the CI half-width of each claim beside its verdict."""

from __future__ import annotations

import re

import pytest

from hmr_bench.eval.trivial import TRIVIAL_TABLE
from hmr_bench.experiment.table_results import format_text, table_result
from hmr_bench.store import ResultsStore
from hmr_bench.tables import load_table

CONFIG = {"data": {"n_train": 2000, "input": "proxy"}, "train": {"batch_size": 32, "epochs": 5, "backbone": "frozen",
                                                                "max_steps_per_epoch": None},
          "model": {"pretrained": "synth-proxy-cnn-small", "backbone": "cnn-small"}, "loss": {"vertex_stride": 8}}
TRIVIAL = {"mpjpe": 300.0, "pa_mpjpe": 150.0}
# per seed (mpjpe, pa_mpjpe): full is in the learned regime (≤ 0.60 / 0.70 × trivial), none is not (pa 0.75)
ROWS = {"full": {0: (150.0, 90.0), 1: (152.0, 92.0)}, "none": {0: (160.0, 112.0), 1: (161.0, 113.0)},
        "no-cont": {0: (150.0, 90.0), 1: (152.0, 92.0)}}  # the same runs as full (L_cont with a frozen backbone)


@pytest.fixture()
def store(tmp_path):
    s = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    rid = s.claim_run("triv", TRIVIAL_TABLE, "mean-params", 0, "cpu", {}, "key")
    s.log_metrics(rid, "test", "synth-test", TRIVIAL)
    s.finish_run(rid, wall_time=1.0)
    for row, seeds in ROWS.items():
        for seed, (mpjpe, pa) in seeds.items():
            rid = s.claim_run(f"{row}-{seed}", "table2", row, seed, "cpu", CONFIG, "key")
            s.log_metrics(rid, "test", "synth-test", {"mpjpe": mpjpe, "pa_mpjpe": pa})
            s.finish_run(rid, wall_time=1.0)
    return s


def test_ratios_and_regime_in_the_text_table(store):
    res = table_result(store, load_table("table2"), "cpu")
    full = next(r for r in res.rows if r.name == "full")
    assert res.ratio(full, "mpjpe") == pytest.approx(151.0 / 300.0)
    assert res.ratio(full, "pa_mpjpe") == pytest.approx(91.0 / 150.0)
    text = format_text(res)
    assert re.search(r"full\s+mpjpe/trivial 0\.50\s+pa_mpjpe/trivial 0\.61\s+learned", text)
    assert re.search(r"none\s+mpjpe/trivial 0\.54\s+pa_mpjpe/trivial 0\.75\s+NOT in the learned regime", text)
    assert ("2000 training images, 5 epochs × 62 steps of 32 samples (310 steps); proxy input (2D-keypoint heatmaps "
            "per RoI); backbone cnn-small from synth-proxy-cnn-small; backbone frozen") in res.regime
    assert "vertex loss on every 8th vertex; seeds 0, 1." in res.regime
    # the claim "removing all three raises MPJPE the most": none − full = +10.0, +9.0 → mean 9.5, t-CI with
    # n = 2: half-width t(0.975, 1) · sd / √2 = 12.706 · 0.7071 / 1.4142 = 6.35 mm (wider than 1.5 mm)
    assert re.search(r"measured \+9\.50 mm, 95% CI ±6\.35 mm \(wider than 1\.5 mm", text)
    assert "Removing L_cont raises MPJPE (+2.6 mm).  measured +0.00 mm in every seed: the row's runs equal" in text
    # a claim between two rows other than the reference: none − no-cont, paired over seeds = the same +9.50 ± 6.35
    assert ("[reproduced] Removing all three raises MPJPE more than removing L_cont alone (+3.6 mm in the paper).  "
            "measured +9.50 mm, 95% CI ±6.35 mm") in text
    assert "[not run] Removing all three raises MPJPE more than removing RAF alone" in text


def test_regime_ratios_and_card_link_on_the_page(store, tmp_path):
    from hmr_bench.report import build_reports

    out = tmp_path / "reports"
    build_reports(store, out, tables=["table2"], gallery=False)
    html = (out / "table2.html").read_text()
    assert "Regime.</strong> 2000 training images" in html
    assert re.search(r'data-row="full">.*?data-ratio="mpjpe">0\.50<.*?data-ratio="pa_mpjpe">0\.61<.*?learned', html,
                     re.S)
    assert re.search(r'data-row="none">.*?data-ratio="pa_mpjpe">0\.75<.*?not learned', html, re.S)
    link = re.search(r'<a href="([^"]+)">the cpu profile\'s card</a>', html).group(1)
    assert (out / link).resolve().name == "cpu.md" and (out / link).resolve().exists()
    assert re.search(r"CI half-width <span data-halfwidth>6\.35</span> mm \(wider than 1\.5 mm", html)
    assert html.count("<strong>not testable here:</strong>") == 2  # both L_cont claims (MPJPE and PA-MPJPE)
