"""occmer: synthetic occlusion and benchmarking for micro-expression recognition."""

__version__ = "0.1.0"
