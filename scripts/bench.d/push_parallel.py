#!/usr/bin/env python3
"""scripts/oci-push.py with several connections at once, for the benchmark's set-up.

Same arguments subset, same naming (tags t000…, repositories PREFIX000…), same images and
the same "REF DIGEST" output in order — it imports oci-push.py and calls its push_image
from a thread pool, because pushing 2,000 images one request at a time takes about a
minute on a loaded 2-core machine (the registry writes several files per push).

  push_parallel.py --registry 127.0.0.1:5000 --repo bench/app --tags 1000 [--workers 8]
  push_parallel.py --registry 127.0.0.1:5000 --repos 1000 --repo-prefix bench/r
"""

import argparse
import importlib.util
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ next to scripts/oci-push.py
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("oci_push", os.path.join(HERE, "..", "oci-push.py"))
oci_push = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oci_push)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--repo", default="bench/app")
    parser.add_argument("--tag", default="latest")
    parser.add_argument("--seed", default="build-1")
    parser.add_argument("--tags", type=int, default=0)
    parser.add_argument("--repos", type=int, default=0)
    parser.add_argument("--repo-prefix", default="bench/r")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    targets = oci_push.push_targets(args)

    local = threading.local()

    def push(target):
        if not hasattr(local, "registry"):
            local.registry = oci_push.Registry(args.registry)
        repo, tag = target
        return f"{args.registry}/{repo}:{tag} {oci_push.push_image(local.registry, repo, tag, args.seed)}"

    # The first image uploads the shared blobs; the rest only find them.
    first = push(targets[0])
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        rest = list(pool.map(push, targets[1:]))
    print("\n".join([first] + rest))


if __name__ == "__main__":
    main()
