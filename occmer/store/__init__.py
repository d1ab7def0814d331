"""HDF5 format v1: writer (atomic, resumable), reader, verifier and inspector."""
