"""Every class list of the face tasks, defined once (readers, generators, models and the
pipeline's colours all import them from here)."""

from __future__ import annotations

# Smile (GENKI-4K, CelebA "Smiling", the smile report): index 0 = no smile, 1 = smile, as
# GENKI-4K's labels.txt writes them ("0" / "1").
SMILE_CLASSES = ("no_smile", "smile")

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
# AffectNet's expression codes 0-7 (codes 8-10 are none / uncertain / no face).
AFFECTNET_CLASSES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")

# The face-mask datasets' class folders (the 3-class Kaggle set adds the last one).
MASK_CLASSES = ("with_mask", "without_mask", "mask_weared_incorrect")
MASK_CLASSES_2 = MASK_CLASSES[:2]

# The classes each face task's synthetic generator and default heads use.
TASK_CLASSES: dict[str, tuple[str, ...]] = {
    "smile": SMILE_CLASSES,
    "expression": FERPLUS_CLASSES,
    "mask": MASK_CLASSES,
}
