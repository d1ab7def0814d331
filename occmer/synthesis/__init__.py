"""`occmer synthesize` below its entry point (`occmer.pipeline.synthesize`): `job` (one clip, the
run's settings, a worker's state), and the two runners above it that decide where the clips
run, `local_runner` (the worker pool) and `ray_runner` (Ray tasks)."""
