"""Face detectors behind one interface (get_detector), their network decoders and pinned
weight files, the one detection matcher (precision / recall at IoU 0.5) and the detector
benchmark.
"""
