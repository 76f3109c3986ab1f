"""Face products: face datasets, synthetic faces, detection, classification heads (smile,
expression, mask) and the real-time pipeline.
"""
