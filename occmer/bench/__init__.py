"""The benchmark harness behind `occmer bench` and `occmer report`.

protocols (which samples, which folds), metrics (scikit-learn scores of pooled
predictions), conditions (files -> arrays), training and batched (one fold, or the folds of
one model batched, each a pure function of its inputs and seeds), jobs (one fold of the
grid: settings, plan, run), executors (where jobs run: this process or Ray), runner (the
resumable, shardable grid), report, plots and html (tables, figures and the page,
recomputed from fold files). See docs/bench.md.
"""
