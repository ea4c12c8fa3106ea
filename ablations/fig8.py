"""Fig. 8 of the paper: RoI-aware fusion vs self-attention over the M RoI tokens, per-epoch validation curves.

`self-attention` is the baseline as the paper describes it; `self-attention-as-run` is the official `HMR_msa`
as it ran (spec §8 item 17): its regressor row b·M+m receives the box codes of sample (b·M+m) mod B.
"""

from hmr_bench.tables import Claim, Row, Table, View

TABLE = Table(
    name="fig8",
    title="Fig. 8. RAF vs self-attention fusion",
    view=View(order=6, session="fig8"),
    paper_setting="trained on COCO, validation curves on 3DPW",
    reference="raf",
    curves=True,
    rows=(
        Row("raf", "RAF (relative PE)", {}),
        Row("self-attention", "Self-attention on h_m ⊕ Γ(B_m)", {"model.fusion": "self-attention"}),
        # spec §8.17: the official HMR_msa mixes the regressor's box codes across samples; the curve was trained so
        Row("self-attention-as-run", "Self-attention, box codes mixed (as run)",
            {"model.fusion": "self-attention", "model.box_input": "all-mixed"}),
    ),
    claims=(Claim("sa", "RAF is better than self-attention.", "fig8", "mpjpe", "self-attention", "raf", 1),),
)
