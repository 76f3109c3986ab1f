"""The real-time face pipeline: sources, detection, tracking, classification per head,
sinks and its benchmark.
"""
