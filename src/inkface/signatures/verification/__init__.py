"""Writer-independent verification (DeepSign paper): the Siamese training module, pair
batches, training, evaluation and the verifier.
"""
