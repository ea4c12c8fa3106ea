"""HMR (Kanazawa et al. 2018) in hmr-bench's harness: one crop, weak-perspective crop camera, 2D loss in the crop.

Same backbone, data and training as Multi-RoI; the head sees no box (box_input "none") and fc1 is 1024 wide.
"""

OVERRIDES = {"model.kind": "hmr", "data.num_rois": 1, "model.fusion": "none", "model.box_input": "none",
             "model.projection": "none", "model.fc1_dim": 1024, "loss.weights.cam": 0.0, "loss.weights.cont": 0.0,
             "loss.reprojection_frame": "weak-perspective"}
