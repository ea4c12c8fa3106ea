"""Data: SPIN-format datasets (real ones and SynthHMR alike) turned into multi-RoI training and test samples.

- `spin_format`, `real`: the SPIN/CLIFF ``.npz`` annotation layout and which file each real dataset name means;
- `synth`: SynthHMR, rendered by hmr-bench with exact ground truth, written in that same layout;
- `rois`, `augment`, `images`, `proxy`: the M RoIs of a person, augmentation, crop warping, proxy heatmaps;
- `samples`, `dataset`: one annotated person → the per-sample dict; the dataset and the SPIN-style mix;
- `loader`, `device_crops`: the DataLoader path, and the RoI crops cut on the device (`data.crop_on=device`).
"""
