"""Old name of `occmer.pages`, kept only while `occmer.bench.html` still imports `occmer.reports.page`.

Delete this package once that import reads `occmer.pages.page` (issue 24).
"""
