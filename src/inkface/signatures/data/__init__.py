"""Signature datasets: readers for the published layouts, section 4.1 preprocessing, the
decoded-image cache, writer splits and pair plans.
"""
