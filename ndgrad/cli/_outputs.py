"""What both console jobs share: files written atomically (a crash never leaves half a
checkpoint), the metrics CSV, the PNG plots, and the check that ``--resume`` flags agree with
the saved run."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

from ndgrad.serialization import write_atomically


def write_metrics(path: Path, history: dict[str, list[float]], count: str) -> None:
    """One CSV row per entry of ``history``'s lists; the ``count`` column (epoch, iter) as
    integers, the rest to six significant digits."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(history))
    for row in zip(*history.values()):
        writer.writerow([int(v) if k == count else f"{v:.6g}" for k, v in zip(history, row)])
    write_atomically(path, buf.getvalue().encode())


def pyplot() -> Any:
    """matplotlib.pyplot without a display, or None (with a note) if it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'ndgrad[examples]')",
              file=sys.stderr)
        return None
    return plt


def save_png(path: Path, fig: Any) -> None:
    """Write a matplotlib figure as a PNG (atomically) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    pyplot().close(fig)
    write_atomically(path, buf.getvalue())


def check_resume_flags(job: str, given: dict[str, Any], saved: dict[str, Any]) -> None:
    """``--resume`` continues the saved run: flags given again must agree with its settings."""
    clash = {k: (v, saved[k]) for k, v in given.items() if saved.get(k) != v}
    if clash:
        detail = ", ".join(f"--{k.replace('_', '-')} {a} (checkpoint: {b})"
                           for k, (a, b) in clash.items())
        raise SystemExit(f"{job}: --resume continues the saved run, whose settings differ: "
                         f"{detail}. Drop these flags, or use another --out.")
