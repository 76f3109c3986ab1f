"""A verification recipe's data: its datasets read, cached and paired.

:func:`prepare_data` turns a recipe (roots filled in) into :class:`PreparedData`, the one
input of both training (:mod:`inkface.signatures.verification.train`) and evaluation
(:mod:`inkface.signatures.verification.evaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inkface.core.errors import InkfaceError
from inkface.models import model_info
from inkface.signatures.data.bank import ImageBank
from inkface.signatures.data.cache import PreprocessedImages, load_preprocessed
from inkface.signatures.data.plans import PairPlan, plan_pairs
from inkface.signatures.data.readers import load_signature_dataset
from inkface.signatures.verification.recipe import Recipe, parse_input_size


@dataclass(frozen=True)
class PreparedData:
    """Everything a run needs from the data layer."""

    plan: PairPlan
    bank: ImageBank
    caches: tuple[PreprocessedImages, ...]
    input_size: tuple[int, int]


def prepare_data(
    recipe: Recipe,
    cache_dir: str | Path | None = None,
    strict: bool = True,
    progress: bool = True,
) -> PreparedData:
    """Read, cache and pair the recipe's datasets (roots must already be filled in)."""
    missing = [d.name for d in (*recipe.data.train, *recipe.data.test) if not d.root]
    if missing:
        raise InkfaceError(
            f"recipe {recipe.name} needs a dataset root for {', '.join(sorted(set(missing)))} "
            f"(give --root {missing[0]}=DIR)"
        )
    size_spec = recipe.data.input_size
    input_size = (parse_input_size(size_spec) if size_spec else None) or model_info(
        size_spec or recipe.model.name
    ).input_size
    loaded: dict[tuple[str, str], PreprocessedImages] = {}
    for cfg in (*recipe.data.train, *recipe.data.test):
        key = (cfg.name, str(Path(cfg.root).resolve()))
        if key not in loaded:
            dataset = load_signature_dataset(cfg.name, cfg.root, strict=strict)
            loaded[key] = load_preprocessed(
                dataset, input_size, cache_dir=cache_dir, strict=strict, progress=progress
            )

    def pick(items: list) -> list:
        return [loaded[(c.name, str(Path(c.root).resolve()))].dataset for c in items]

    plan = plan_pairs(
        pick(recipe.data.train),
        pick(recipe.data.test),
        seed=recipe.data.seed,
        fractions=recipe.data.fractions,
    )
    by_dataset = {id(c.dataset): c for c in loaded.values()}
    caches = tuple(by_dataset[id(ds)] for ds in plan.datasets)
    bank = ImageBank([c.images for c in caches])
    return PreparedData(plan, bank, caches, input_size)  # type: ignore[arg-type]
