"""Class names shared by the face datasets, generators and models (one definition each)."""

from __future__ import annotations

# FER+ (Barsoum et al. 2016): the eight emotions in fer2013new.csv's column order.
FERPLUS_CLASSES = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
# The face-mask datasets' class folders (the 3-class Kaggle set adds the last one).
MASK_CLASSES = ("with_mask", "without_mask", "mask_weared_incorrect")
