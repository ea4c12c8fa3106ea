"""One run: train a config on its data, validate each epoch, keep the best checkpoint, test once.

- `trainer`: the loop (`train_run`), resume from ``last.pt``, the run's checkpoint folder (`run_dir`);
- `step`: one step's losses and one evaluation batch's metrics;
- `data`: the run's datasets (`build_data`), named by evaluation protocol;
- `checkpoint`: checkpoints written atomically, read safely; `features`: the frozen-backbone feature cache;
- `ddp`: one run over several processes; `perf`: speed settings (layout, compile, precision, threads).

The model comes from `models.build`; which runs to make, and the results store, are `experiment`'s.
"""
