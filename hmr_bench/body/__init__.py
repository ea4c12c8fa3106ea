"""Body models: one interface over `smplx.SMPL` for the free model and for real SMPL."""

from hmr_bench.body.model import BodyModel, BodyOutput, load_body_model

__all__ = ["BodyModel", "BodyOutput", "load_body_model"]
