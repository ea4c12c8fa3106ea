"""hmr-bench: benchmark and ablation suite for multi-RoI human mesh recovery.

The package folders follow the pipeline: geometry → body → data → models → losses → train → eval → report.
"""

__version__ = "0.1.0"
