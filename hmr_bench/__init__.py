"""hmr-bench: benchmark and ablation suite for multi-RoI human mesh recovery.

The package folders follow the pipeline, each layer importing only its own and the ones below (enforced by
`tests/test_layers.py`): geometry → body → data · models · losses (with `config`, the typed run tree) → eval →
train (one run) → experiment (a table's runs, in the results `store`) → sweep · bench → report → the commands.
"""

__version__ = "0.1.0"
