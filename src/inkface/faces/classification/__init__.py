"""Face classifiers (smile, expression, mask): recipes, datasets, training, evaluation,
reports and the run-folder runtime.
"""
