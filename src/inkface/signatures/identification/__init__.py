"""Writer identification (CNN vs Siamese paper): data, training, pixel-Siamese similarity
and the SQLite enrolment gallery.
"""
