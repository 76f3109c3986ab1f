"""The real-time face pipeline: sources, detection, tracking, classification per head,
results, sinks and its end-to-end benchmark.
"""
