"""Table 4 of the paper: number of RoIs M. M = 1..5 as in the paper, 6..8 beyond it (spec 1.2's extra table).

With M = 1 there are no pairs: L_cam is zero and L_cont has no positives, so it is switched off.
The paper gives only M = 5 (80.8 / 51.9, the full model; 55.6 FPS on an RTX 3090, batch and scope unstated) and
"accuracy improves monotonically with M".
"""

from hmr_bench.tables import Claim, Row, Table, View

rows = [Row("M1", "M = 1", {"data.num_rois": 1, "loss.weights.cont": 0.0})]
PAPER_M5 = {"mpjpe": 80.8, "pa_mpjpe": 51.9, "fps": 55.6}
rows += [Row(f"M{m}", f"M = {m}", {"data.num_rois": m}, paper=PAPER_M5 if m == 5 else {}) for m in range(2, 9)]
# The shared-backbone mode (one backbone pass over the union of the RoIs, features RoIAligned per RoI; issue 8):
# its accuracy cost against M = 5 with separate crops. Not in the paper. It trains its backbone on RGB union images,
# which the embedded profiles (proxy input, frozen cached features; see their cards) do not have: paper profile only.
rows += [Row("shared-M5", "M = 5, shared backbone (RoIAlign on the union image)", {"model.shared_backbone": True},
             profiles=("paper",))]

TABLE = Table(
    name="table4",
    title="Table 4. Number of RoIs",
    view=View(order=4, session="ablation-table4", x="data.num_rois", x_label="number of RoIs M", columns=("fps",)),
    paper_setting="trained on COCO, tested on 3DPW (MPJPE / PA-MPJPE, mm; FPS on an RTX 3090)",
    reference="M5",
    rows=tuple(rows),
    claims=tuple(Claim(f"M{m}", f"M = {m} is worse than M = 5 (accuracy improves with M).", "table4", "mpjpe", f"M{m}",
                       "M5", 1) for m in range(1, 5)),
)
