"""The benchmark harness behind `occmer bench` and `occmer report`.

protocols (which samples, which folds), metrics (scikit-learn scores of pooled
predictions), conditions (files -> arrays), training (one fold, a pure function of its
inputs and seed), runner (the resumable, shardable grid), report and plots (tables and
figures recomputed from fold files). See docs/bench.md.
"""
