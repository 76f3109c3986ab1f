"""Signature products: data readers and preprocessing, the synthetic generator,
verification (Siamese towers, DeepSign paper) and identification (writer CNN, gallery).
"""
