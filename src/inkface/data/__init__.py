"""Datasets: readers for the published layouts, synthetic generators, caches and pairs."""
