"""Face detectors behind one interface (get_detector), their network decoders, weight files
and evaluation.
"""
