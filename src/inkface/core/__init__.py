"""The lowest layer: errors, the input gate every input file passes, atomic file writes
and output checks, cache and dataset paths, worker pools, safe image decoding, every
class list, the recipe base schema and pinned downloads. Imports nothing else from
inkface.
"""
