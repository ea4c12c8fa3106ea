"""Experiments: a paper table's runs, each claimed in the results store, trained once and cached by config hash.

- `jobs`: the jobs of a table (rows × seeds over a profile's base config; `table_jobs`), shards of them;
- `claims`: claiming a run in the store, taking over one a dead process of this host left `running`;
- `provenance`: what a run stands on besides code and config (git commit, body-model files, ground truth);
- `runner`: `run_table` and `JobRunner` (skip finished configs, claim, train with `train.trainer`, record);
- `table_results`: a table's results as views of the store's frames (`store.frames`): mean ± CI, paired
  differences, claim verdicts, per-action / per-joint breakdowns, curves, CSV and Markdown;
- `pretrain`: a profile's starting backbone, made by a run of Table 1's CLIFF row;
- `cli`: `hmr-bench pretrain`.

The store (`hmr_bench.store`) is the experiments' database; the table declarations are `hmr_bench.tables`.
"""
