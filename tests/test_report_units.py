"""Pieces of the report that need no store: gallery sample choice and mesh overlay, benchmark records, the
effects implied by the paper's numbers, number formatting, SVG output and provenance."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from hmr_bench.errors import InputError
from hmr_bench.eval.stats import Interval
from hmr_bench.experiment import table_results as views
from hmr_bench.report import collect, figures, gallery, provenance
from hmr_bench.tables import load_table


def test_pick_samples_worst_first_then_median_and_best_never_nan_never_twice():
    index = np.array([10, 11, 12, 13, 14, 15, 16])
    value = np.array([5.0, np.nan, 50.0, 20.0, 1.0, 30.0, 10.0])
    # finite, sorted worst first: 12 (50), 15 (30), 13 (20), 16 (10), 10 (5), 14 (1) → median = position 3 = 16
    assert gallery.pick_samples(index, value, 3) == [("worst 1", 12), ("worst 2", 15), ("worst 3", 13),
                                                    ("median", 16), ("best", 14)]
    assert gallery.pick_samples(index[:2], value[:2], 3) == [("worst 1", 10)]  # one finite sample: picked once
    assert gallery.pick_samples(index[1:2], value[1:2]) == []


def test_overlay_paints_the_projected_square_only():
    """A 1 m square at z = 2 m seen with f = 20 px, centre (20, 20): corners project to 20 ± 20·0.5/2 = 15 … 25."""
    faces = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    verts = np.array([[-0.5, -0.5, 2.0], [0.5, -0.5, 2.0], [0.5, 0.5, 2.0], [-0.5, 0.5, 2.0]])
    image = np.zeros((40, 40, 3), np.uint8)
    out = gallery.overlay(image, verts, faces, np.zeros(2, np.int64), (20.0, 20.0, 20.0, 20.0), (1.0, 1.0, 1.0))
    painted = out.any(-1)
    assert painted[16:24, 16:24].all() and not painted[:14].any() and not painted[:, 26:].any()
    assert painted.sum() == 100  # pixel centres 15.5 … 24.5 on both axes: 10 × 10


def test_display_image_scale():
    img = np.zeros((64, 96, 3), np.uint8)
    out, s = gallery.display_image(img, 96.0, 64.0)
    assert out.shape == (gallery.DISPLAY_H, round(96 * gallery.DISPLAY_H / 64), 3) and s == gallery.DISPLAY_H / 64


def test_implied_claims_from_the_paper_numbers():
    claims = {c.id: c for c in collect.implied_claims(load_table("table2"))}
    # Table 2: no-cam 83.1 / 52.0 vs full 80.8 / 51.9
    assert claims["no-cam-mpjpe"].paper_effect == pytest.approx(2.3) and claims["no-cam-mpjpe"].direction == 1
    assert claims["no-cam-pa_mpjpe"].paper_effect == pytest.approx(0.1)
    assert claims["none-mpjpe"].paper_effect == pytest.approx(6.2)
    assert len(claims) == 8 and all(c.reference_row == "full" for c in claims.values())
    # Table 3: rel-L64 81.1 vs rel-L32 80.8 (+0.3); table4 has paper numbers on M5 (the reference) only
    t3 = {c.id: c for c in collect.implied_claims(load_table("table3"))}
    assert t3["rel-L64-mpjpe"].paper_effect == pytest.approx(0.3)
    assert collect.implied_claims(load_table("table4")) == []
    assert collect.implied_claims(load_table("discrepancies")) == []


def test_number_formats():
    iv = Interval(2.345, 1.0, 3.69, 3, 0.95, "t")
    assert views.interval(iv) == "2.3 ± 1.3" and views.signed(iv) == "+2.3 ± 1.3"
    one = Interval(-0.44, math.nan, math.nan, 1, 0.95, "t")
    assert views.signed(one) == "-0.4" and views.interval(None) == "not run" and views.signed(None) == ""
    assert views.num(None) == "" and views.num(float("nan")) == "" and views.num(55.55, 1) == "55.5"
    assert views.full(0.1) == "0.1" and views.full(None) == ""
    text = views.to_csv(pd.DataFrame([{"table": "t", "label": "a, b", "mean": math.nan, "x": 0.1 + 0.2}]))
    assert text.splitlines() == ["table,label,mean,x", 't,"a, b",,0.30000000000000004']


def test_svgs_have_their_own_ids_and_no_date():
    import matplotlib.pyplot as plt

    def fig():
        f, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, 1], "o-")
        return f

    a, b = figures.to_svg(fig(), "first"), figures.to_svg(fig(), "second")
    assert a.startswith('<svg class="plot"') and "<metadata>" not in a
    ids_a, ids_b = set(re.findall(r'id="([^"]+)"', a)), set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    assert figures.to_svg(fig(), "first") == a  # reproducible


def test_up_to_date_compares_the_config_hash():
    from hmr_bench.config import RunConfig

    cfg = RunConfig()
    run = {"run_id": "r", "config": cfg.to_dict(), "dataset_key": "k", "env": {"world_size": 1},
           "config_hash": cfg.hash("k")}
    assert provenance.up_to_date(run) is True
    assert provenance.up_to_date({**run, "config_hash": "0" * 16}) is False
    assert provenance.up_to_date({**run, "env": {"world_size": 2}, "config_hash": cfg.hash("k|world=2")}) is True
    assert provenance.up_to_date({**run, "config": {"model": {"no_such_key": 1}}}) is None
    assert provenance.duration(42) == "42 s" and provenance.duration(600) == "10.0 min"
    assert provenance.utc(0) == "1970-01-01 00:00 UTC"


def test_table_views_are_checked():
    from hmr_bench.tables import Row, Table, View

    rows = (Row("a", "A"),)
    with pytest.raises(InputError, match=r"view\.columns.*found 'speed'.*expected one of fps"):
        Table(name="t", title="T", reference="a", rows=rows, view=View(x="data.num_rois", columns=("speed",)))
    with pytest.raises(InputError, match=r"view\.x.*found None"):
        Table(name="t", title="T", reference="a", rows=rows, view=View(columns=("fps",)))
    with pytest.raises(InputError, match=r"view\.x.*found 'data.crop_size'.*number of RoIs M"):
        Table(name="t", title="T", reference="a", rows=rows, view=View(x="data.crop_size", columns=("fps",)))
    t4 = load_table("table4").view
    assert (t4.x, t4.columns) == ("data.num_rois", ("fps",))
    assert [f.name for f in load_table("table1").view.figures] == ["fig7"] and not load_table("table2").view.x
