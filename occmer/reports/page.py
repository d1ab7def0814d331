"""Forwarding module: the page helpers live in `occmer.pages.page` (see the package docstring)."""

from occmer.pages.page import data_uri, esc, key_value_table, write_page

__all__ = ["data_uri", "esc", "key_value_table", "write_page"]
