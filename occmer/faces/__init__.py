"""Faces: landmark backends, face topology, alignment and per-clip head motion."""
