"""Training: losses, pair batching, Lightning modules and recipe-driven runs."""
