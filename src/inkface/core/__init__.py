"""The lowest layer: errors, atomic file writes, cache paths, worker pools, safe image
decoding, every class list, the recipe base schema and pinned downloads. Imports nothing
else from inkface.
"""
