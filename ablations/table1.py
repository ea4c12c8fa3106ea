"""Table 1 of the paper, in hmr-bench's setting: HMR, CLIFF and Multi-RoI with the same backbone and harness.

The paper's numbers come from full mixed-data training on real datasets (3DPW / H36M); on SynthHMR they are
shown for orientation only. HRNet-W48 rows run only in the paper profile.
"""

from hmr_bench.tables import Claim, Figure, Row, Table, View, load_baseline

HMR, CLIFF = load_baseline("hmr"), load_baseline("cliff")

TABLE = Table(
    name="table1",
    title="Table 1. Comparison with HMR and CLIFF (same backbone, same data)",
    view=View(order=1, session="table1",
              figures=(Figure("fig7", "Fig. 7. Per-action and per-joint MPJPE", order=5),)),
    paper_setting="mixed real data; 3DPW test (MPJPE / PA-MPJPE / PVE, mm)",
    reference="multiroi",
    metrics=("mpjpe", "pa_mpjpe", "pve"),
    rows=(
        Row("hmr", "HMR", HMR, paper={"mpjpe": 116.5, "pa_mpjpe": 72.6}),
        Row("cliff", "CLIFF", CLIFF, paper={"mpjpe": 71.4, "pa_mpjpe": 45.4, "pve": 84.2}),
        Row("multiroi", "Multi-RoI (ours)", {}, paper={"mpjpe": 68.2, "pa_mpjpe": 43.2, "pve": 81.9}),
        Row("cliff-h48", "CLIFF H48", {**CLIFF, "model.backbone": "hrnet_w48"},
            paper={"mpjpe": 69.0, "pa_mpjpe": 43.0, "pve": 81.2}, profiles=("paper",)),
        Row("multiroi-h48", "Multi-RoI H48", {"model.backbone": "hrnet_w48"},
            paper={"mpjpe": 64.1, "pa_mpjpe": 40.4, "pve": 78.6}, profiles=("paper",)),
    ),
    claims=(
        Claim("cliff", "Multi-RoI beats CLIFF (−3.2 mm MPJPE).", "table1", "mpjpe", "cliff", "multiroi", 1, 3.2),
        Claim("hmr", "Multi-RoI beats HMR by far.", "table1", "mpjpe", "hmr", "multiroi", 1, 48.3),
    ),
)
