"""Synthetic signatures: sigma-lognormal strokes rendered as scanned ink, in the published
dataset layouts.
"""
