"""HDF5 format v1: writer (atomic, resumable), the checked reader (the only code that opens an
occmer file), verifier and inspector."""

from occmer.store.reader import ClipArrays, FeatureInfo, FeatureSet, OccmerFile, Sample
from occmer.store.splits import SplitSet

__all__ = ["ClipArrays", "FeatureInfo", "FeatureSet", "OccmerFile", "Sample", "SplitSet"]
