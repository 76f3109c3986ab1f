"""Command-line interface: thin argparse layers over the Python API.

Each module here exposes ``register(subparsers)``, which adds one command (or one
command group) whose ``func`` takes the parsed arguments and returns an exit code.
Command modules import the library inside ``run()``: building the parser must not import
torch, so that ``inkface --help`` answers at once (start-up time).
"""
