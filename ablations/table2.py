"""Table 2 of the paper: component ablation (RAF, L_cam, L_cont). Paper setting: train COCO, test 3DPW."""

from hmr_bench.tables import Claim, Row, Table, View

OFF = 0.0
TABLE = Table(
    name="table2",
    title="Table 2. Component ablation",
    view=View(order=2, session="ablation-table2"),
    paper_setting="trained on COCO, tested on 3DPW (MPJPE / PA-MPJPE, mm)",
    reference="full",
    rows=(
        Row("none", "RAF ✗  L_cam ✗  L_cont ✗",
            {"model.fusion": "none", "loss.weights.cam": OFF, "loss.weights.cont": OFF},
            paper={"mpjpe": 87.0, "pa_mpjpe": 55.8}),
        Row("no-raf", "RAF ✗  L_cam ✓  L_cont ✓", {"model.fusion": "none"}, paper={"mpjpe": 83.8, "pa_mpjpe": 54.8}),
        Row("no-cam", "RAF ✓  L_cam ✗  L_cont ✓", {"loss.weights.cam": OFF}, paper={"mpjpe": 83.1, "pa_mpjpe": 52.0}),
        Row("no-cont", "RAF ✓  L_cam ✓  L_cont ✗", {"loss.weights.cont": OFF}, paper={"mpjpe": 83.4, "pa_mpjpe": 53.3}),
        Row("full", "RAF ✓  L_cam ✓  L_cont ✓", {}, paper={"mpjpe": 80.8, "pa_mpjpe": 51.9}),
    ),
    claims=(
        Claim("raf", "Removing RAF raises MPJPE (+3.0 mm in the paper).", "table2", "mpjpe", "no-raf", "full", 1, 3.0),
        Claim("cam", "Removing L_cam raises MPJPE (+2.3 mm; the text says ~3 mm) — L_cam fixes orientation.", "table2",
              "mpjpe", "no-cam", "full", 1, 2.3),
        Claim("cont", "Removing L_cont raises MPJPE (+2.6 mm).", "table2", "mpjpe", "no-cont", "full", 1, 2.6),
        Claim("cont-pa", "Removing L_cont raises PA-MPJPE (+1.4 mm).", "table2", "pa_mpjpe", "no-cont", "full", 1, 1.4),
        Claim("all", "Removing all three raises MPJPE the most (+6.2 mm).", "table2", "mpjpe", "none", "full", 1, 6.2),
        # "the most": removing all three must also hurt more than removing any one of them alone
        *(Claim(f"all-vs-{r}", f"Removing all three raises MPJPE more than removing {what} alone "
                f"(+{87.0 - paper:.1f} mm in the paper).", "table2", "mpjpe", "none", r, 1, round(87.0 - paper, 1))
          for r, what, paper in (("no-raf", "RAF", 83.8), ("no-cam", "L_cam", 83.1), ("no-cont", "L_cont", 83.4))),
    ),
)
