"""How much faster is an epoch with deduplicated pair batches than the naive way?

Both variants train the same tower on the same pairs in this one process: the naive
step runs the tower on the left and right image of every pair (2 x pairs images); the
inkface step embeds each distinct image of the batch once (pair_batches.py). We time
``--steps`` optimisation steps of each (after ``--warmup`` steps), then scale to one
epoch of the CEDAR-like writers given. Prints one table and the speed-up ratios.

    python benchmarks/bench_pair_training.py --model deepsign --writers 4 --steps 5
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from inkface.models import model_info
from inkface.signatures.data.bank import ImageBank
from inkface.signatures.data.pairs import WriterImages, make_pairs
from inkface.signatures.verification.module import SiameseModule
from inkface.signatures.verification.pair_batches import PairBatchDataset, WriterGroupedBatchSampler
from inkface.training.losses import contrastive_loss


def time_steps(module, dataset, batches, warmup: int, steps: int, device: str) -> list[float]:
    optimizer = module.configure_optimizers()
    module.train()
    times = []
    for i, batch_ids in enumerate(batches[: warmup + steps]):
        start = time.perf_counter()
        batch = {k: v.to(device) for k, v in dataset[batch_ids].items()}
        optimizer.zero_grad()
        loss = contrastive_loss(module.batch_distances(batch), batch["labels"])
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deepsign")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--genuine", type=int, default=24)
    parser.add_argument("--forged", type=int, default=24)
    parser.add_argument("--batch-pairs", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    height, width = model_info(args.model).input_size
    per_writer = args.genuine + args.forged
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.writers * per_writer, height, width), dtype=np.uint8)
    groups = [
        WriterImages(
            w,
            np.arange(w * per_writer, w * per_writer + args.genuine),
            np.arange(w * per_writer + args.genuine, (w + 1) * per_writer),
        )
        for w in range(args.writers)
    ]
    pairs = make_pairs(groups, random_per_writer=None)
    bank = ImageBank([images])
    print(
        f"model {args.model} {height}x{width}; {args.writers} writers x "
        f"({args.genuine} genuine + {args.forged} forged) = {len(pairs)} pairs per epoch"
    )
    print(
        f"torch {torch.__version__}, {args.threads} threads, "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"warm-up {args.warmup} steps, timed {args.steps} steps each; median step time")
    print(
        f"{'batch':>6} {'variant':>8} {'images/step':>12} {'s/step':>8} "
        f"{'s/epoch':>9} {'speed-up':>9}"
    )
    for batch_pairs in args.batch_pairs:
        sampler = WriterGroupedBatchSampler(pairs, batch_pairs, seed=0)
        batches = list(sampler)
        results = {}
        for variant, dedup in (("naive", False), ("dedup", True)):
            torch.manual_seed(0)
            module = SiameseModule(args.model, optimizer={"name": "adam", "lr": 1e-4})
            module.to(args.device)
            dataset = PairBatchDataset(bank, pairs, dedup=dedup)
            times = time_steps(module, dataset, batches, args.warmup, args.steps, args.device)
            step = statistics.median(times)
            n_images = statistics.mean(
                len(dataset[b]["images"]) for b in batches[: args.warmup + args.steps]
            )
            results[variant] = (n_images, step, step * len(batches))
        for variant in ("naive", "dedup"):
            n_images, step, epoch = results[variant]
            ratio = results["naive"][2] / epoch
            print(
                f"{batch_pairs:>6} {variant:>8} {n_images:>12.1f} {step:>8.3f} {epoch:>9.1f} "
                f"{ratio:>8.2f}x"
            )


if __name__ == "__main__":
    main()
