"""Face datasets in their published layouts (GENKI-4K, CelebA, AffectNet, FER2013/FER+,
mask folders and VOC), source domains, augmentation and the face-crop cache.
"""
