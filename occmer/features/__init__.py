"""Onset-to-apex motion features: optical flow (u, v), optical strain, optional difference image.

Computed on the stored (aligned, occluded) frames and written under /features/<name>/ of an
occmer file; see docs/features.md for every choice and its reason.
"""

from occmer.features.clip import ClipFeatures, clip_features, resize_flow
from occmer.features.flow import FLOW_METHODS, FlowMethod, compute_flow, to_gray
from occmer.features.hdf5 import FeatureInfo, FeatureSet, add_features, describe_features, feature_names, read_features
from occmer.features.spec import NORMALISERS, FlowSpec, parse_feature_spec, parse_sizes, specs_from_options
from occmer.features.strain import optical_strain

__all__ = [
    "FLOW_METHODS", "NORMALISERS", "ClipFeatures", "FeatureInfo", "FeatureSet", "FlowMethod", "FlowSpec",
    "add_features", "clip_features", "compute_flow", "describe_features", "feature_names", "optical_strain",
    "parse_feature_spec", "parse_sizes", "read_features", "resize_flow", "specs_from_options", "to_gray",
]
