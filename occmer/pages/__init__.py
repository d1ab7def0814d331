"""Pages and animations of occmer files for people to look at: `occmer inspect --html`,
`occmer preview` (the PNG contact sheet, `contact_sheet.py`) and `occmer preview --gif`.

This package sits right of `features` in the pipeline (it reads files through
`occmer.store.reader`, computes flow with `occmer.features.flow` and may re-run the
synthesis of `occmer.pipeline` to recover clean frames); it never touches HDF5 itself.
The bench report page lives with the bench (`occmer.bench.html`).
"""
