"""``inkface info MODEL``: the paper-style layer table with parameters and MACs."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="a model's layer table, parameters, MACs and size")
    parser.add_argument("model", nargs="?", help="registered model name (omit to list them)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.models import describe_classifier, describe_model, list_models, model_info

    if not args.model:
        for name in list_models():
            print(f"{name:24s} {model_info(name).description}")
        return 0
    spec = model_info(args.model)
    print(
        describe_classifier(args.model) if spec.kind == "classifier" else describe_model(args.model)
    )
    return 0
