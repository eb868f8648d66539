"""The domain and the service layer, in wings; never imports Textual.

Each wing may import only the wings below it (checked by the import contracts in
pyproject.toml); wings on one line do not import each other:

    demo
    sweep                       drives the loop and the metric alerts on a schedule
    intake | insight | ops
    reads
    loop
    access | clocks
    audit
    basics
"""
