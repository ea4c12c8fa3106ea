"""`hmr-bench pretrain`: a profile's starting backbone, trained and exported (`experiment.pretrain`).

    hmr-bench pretrain --profile cpu --input proxy --n-train 8000 --epochs 20 --lr 2e-4 \\
        --out hmr_bench/models/assets/synth_proxy_cnn_small.pt

Prints the record written beside the output (`<out>.json`).
"""

from __future__ import annotations

import argparse
import json

from hmr_bench.experiment import pretrain


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("pretrain", help="train a profile's starting backbone on SynthHMR training images",
                              description=pretrain.__doc__.split("\n\n")[1])
    p.add_argument("--profile", default="cpu")
    p.add_argument("--input", default="proxy", help="rgb | proxy (default: proxy)")
    p.add_argument("--n-train", type=int, default=8000)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--store", default=None, help="results store (default: cache)")
    p.add_argument("--out", required=True, help="backbone file to write (float16 state dict)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_pretrain)
    return p


def cmd_pretrain(args: argparse.Namespace) -> int:
    record = pretrain.pretrain(args.profile, args.out, input=args.input, n_train=args.n_train, epochs=args.epochs,
                               lr=args.lr, batch_size=args.batch_size, seed=args.seed, store_url=args.store,
                               progress=not args.quiet)
    print(json.dumps(record, indent=2))
    return 0
