"""The inbound pipeline: transport events → pure conversion → local journal → batched writes.

`InboundPipeline` (pipeline.py) is the entry point; `convert.py` is the pure mapping to
documents; `journal.py` is the durable local journal.
"""
