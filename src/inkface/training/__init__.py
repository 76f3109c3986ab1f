"""Task-agnostic training: losses, optimizers and schedules, Lightning modules, the one
fit loop every trainer uses and its callbacks."""
