"""The real-time face pipeline: sources, detection, tracking, classification per head,
results, sinks, the overlapped stages with their thread budget, and its benchmarks.
"""
