"""Synthetic faces, multi-face scenes and videos with ground truth, in the published
dataset layouts.
"""
