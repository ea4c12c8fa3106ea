"""CLIFF (Li et al. 2022) in hmr-bench's harness: one crop + its bbox_info, full-image camera in the 2D loss."""

OVERRIDES = {"model.kind": "cliff", "data.num_rois": 1, "model.fusion": "none", "model.box_input": "own",
             "model.projection": "none", "model.fc1_dim": 1024, "loss.weights.cam": 0.0, "loss.weights.cont": 0.0}
