"""Fig. 8 of the paper: RoI-aware fusion vs self-attention over the M RoI tokens, per-epoch validation curves."""

from hmr_bench.tables import Claim, Row, Table

TABLE = Table(
    name="fig8",
    title="Fig. 8. RAF vs self-attention fusion",
    paper_setting="trained on COCO, validation curves on 3DPW",
    reference="raf",
    curves=True,
    rows=(
        Row("raf", "RAF (relative PE)", {}),
        Row("self-attention", "Self-attention on h_m ⊕ Γ(B_m)", {"model.fusion": "self-attention"}),
    ),
    claims=(Claim("sa", "RAF is better than self-attention.", "fig8", "mpjpe", "self-attention", "raf", 1),),
)
