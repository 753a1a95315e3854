"""Pass counts of the OpInfo sweep per namespace, and the ops that fail.

    python -m tests.opinfo_report            # the regular sweep's samples (the first 8)
    python -m tests.opinfo_report --all      # every sample
    python -m tests.opinfo_report --list     # also one line per failing op, with the reason

Runs every OpInfo whatever the skip table says, and marks the table's stale lines: ops that
pass but stand in the table, and keys the database does not have.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # opinfo_runner, opinfo_skips

SAMPLES_HELP = "samples per op and dtype (a number, or 'all'); default: the sweep's"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every sample of every op")
    parser.add_argument("--samples", help=SAMPLES_HELP)
    parser.add_argument("--list", action="store_true", help="list failing ops with reasons")
    parser.add_argument("--match", default="", help="only ops whose key contains this")
    args = parser.parse_args(argv)
    if args.all or args.samples:
        os.environ["NDGRAD_OPINFO_SAMPLES"] = "all" if args.all else args.samples

    import opinfo_runner as runner  # after NDGRAD_OPINFO_SAMPLES is set
    from opinfo_skips import NOT_RUN, SKIPS

    start = time.process_time()
    results = runner.run_all(match=args.match)
    seconds = time.process_time() - start

    table: dict[str, Counter[str]] = defaultdict(Counter)
    failing = []
    for k, (column, kind, message) in sorted(results.items()):
        ns = runner.namespace(k)
        if SKIPS.get(k) in NOT_RUN and kind != "pass":
            kind = "scope"
        table[(ns, column)][kind] += 1
        if kind not in ("pass", "scope"):
            failing.append((ns, k, kind, message))

    print(f"OpInfo sweep: {len(results)} checks in {seconds:.0f} s of CPU "
          f"(samples per op and dtype: {runner.SAMPLES})\n")
    print("out of scope: ops the skip table puts in NOT_RUN (complex, bfloat16, sparse, memory "
          "layout, CUDA,\nprivate ATen); share: passing ops of the rest\n")
    head = (f"{'namespace':<16}{'':>9}{'pass':>6}{'fail':>6}{'missing':>8}{'untested':>9}"
            f"{'out of scope':>13}  share")
    print(head)
    for (ns, column), c in sorted(table.items(), key=lambda kv: (_order(kv[0][0]), kv[0][1])):
        total = sum(c.values()) - c["scope"]
        share = f"{c['pass']}/{total} = {c['pass'] / total:.0%}" if total else "-"
        print(f"{ns:<16}{column:>9}{c['pass']:>6}{c['fail']:>6}{c['missing']:>8}"
              f"{c['untested']:>9}{c['scope']:>13}  {share}")

    stale = [k for k, (_, kind, _) in results.items() if kind == "pass" and k in SKIPS]
    unknown = sorted(set(SKIPS) - set(results)) if not args.match else []
    if stale:
        print("\nin the skip table but passing:", " ".join(sorted(stale)))
    if unknown:
        print("\nskip-table keys op_db does not have:", " ".join(unknown))
    if args.list:
        print()
        for _, k, kind, message in failing:
            print(f"{kind:<8} {k:<45} {message.splitlines()[0][:150] if message else ''}")


def _order(ns: str) -> int:
    order = ["torch", "nn.functional", "linalg", "fft", "special"]
    return order.index(ns) if ns in order else len(order)


if __name__ == "__main__":
    main()
