"""occmer: synthetic occlusion and benchmarking for micro-expression recognition."""

__version__ = "0.2.0.dev0"
