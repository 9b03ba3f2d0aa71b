"""Does the learning-rate range test point where the sweep finds the best rates? ``make bench-lr-find``
(``python -m bench.lr_find``).

For four presets on the embedded digits, ``nnsweep sweep-lr`` (11 log-spaced rates, 0.003 to 10
unless the preset says otherwise, one seed each), which runs the range test first (``nnsweep
lr-find``, the suggestion: a tenth of the rate at the lowest smoothed loss); its figure is copied
to ``docs/lr-find-<preset>.png``. The table: the suggestion, the sweep's three best rates by
best validation accuracy, the swept rate nearest the suggestion (in log scale) with its rank and
its accuracy's distance from the best in validation digits, and whether the suggestion lies
within the range of the top three. One seed per rate: ranks that differ by a digit or two of the
validation set are ties the data cannot break, which the digits column shows.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from nnsweep.reports.lr_find import render

LONGER_STEPS = 2000  # a range test in which the network learned nothing, again with this many mini-batches
DOCS = Path(__file__).resolve().parents[1] / "docs"  # the README shows the four figures from there

PRESETS = {  # name: (sweep-lr arguments, what it is)
    "rashid": (["--net", "rashid", "--batch", "1", "--epochs", "15"], "784-100-10 sigmoid, SGD, mini-batch 1"),
    "nielsen_ch3": (
        ["--net", "nielsen", "--batch", "10", "--epochs", "30", "experiment=nielsen_ch3"],
        "784-30-10 sigmoid, cross-entropy, L2 5.0, SGD, mini-batch 10",
    ),
    "mlp_128x2": (["--net", "mlp_128x2", "--batch", "10", "--epochs", "15"], "784-128-128-10 ReLU, SGD, mini-batch 10"),
    "lenet5": (  # the project's LeNet-5 preset: Adam, augmentation; rates around Adam's 0.001
        ["--net", "lenet5", "--batch", "32", "--epochs", "10", "--lr-min", "0.0001", "--lr-max", "0.3"]
        + ["experiment=lenet5_adam"],
        "LeNet-5, Adam, augmentation, mini-batch 32 (experiment=lenet5_adam), 10 epochs, rates 0.0001 to 0.3",
    ),
}


def measure(name: str, out: Path) -> dict:
    arguments, what = PRESETS[name]
    sweep_dir = out / name
    shutil.rmtree(sweep_dir, ignore_errors=True)  # the bench's own sweep of an earlier run: measured afresh
    command = [sys.executable, "-m", "nnsweep", "sweep-lr", *arguments, "--sweep-dir", str(sweep_dir), "--no-report"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{name} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    record = json.loads((sweep_dir / "lr_find.json").read_text())
    longer = None
    if not record["learned"]:  # the network learned nothing in the test: what more steps say
        out_longer = sweep_dir / f"lr-find-{LONGER_STEPS}"
        subprocess.run(
            [sys.executable, "-m", "nnsweep", "lr-find", *record["overrides"], "--start", str(record["start"])]
            + ["--end", str(record["end"]), "--steps", str(LONGER_STEPS), "--out", str(out_longer)],
            capture_output=True,
            check=True,
        )
        longer = json.loads((out_longer / "lr_find.json").read_text())
    figure = render(sweep_dir)  # --no-report draws nothing: the range test's figure, drawn here
    shutil.copyfile(figure, DOCS / f"lr-find-{name}.png")
    runs = pd.read_csv(sweep_dir / "runs.csv")
    ranked = runs.sort_values("best_val_acc", ascending=False).reset_index(drop=True)
    suggested = record["suggested_lr"]
    nearest = min(ranked.index, key=lambda i: abs(math.log(ranked["lr"][i] / suggested)))
    top3 = ranked.head(3)
    one_digit = 1 / int(runs["val_size"].iloc[0])
    return {
        "preset": name,
        "what": what,
        "suggested": suggested,
        "range_test_s": record["seconds"],
        "top3": [(float(r.lr), float(r.best_val_acc)) for r in top3.itertuples()],
        "nearest": float(ranked["lr"][nearest]),
        "nearest_rank": int(nearest) + 1,
        "nearest_acc": float(ranked["best_val_acc"][nearest]),
        "digits_behind": round((ranked["best_val_acc"][0] - ranked["best_val_acc"][nearest]) / one_digit),
        "within_top3_range": bool(top3["lr"].min() <= suggested <= top3["lr"].max()),
        "test_learned": bool(record["learned"]),
        "longer": None if longer is None else {k: longer[k] for k in ("steps_taken", "suggested_lr", "learned")},
        "learned": not bool(ranked["at_chance"][0]) if "at_chance" in ranked else True,
        "sweep_s": round(time.perf_counter() - started, 1),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| preset | range test's suggestion (time) | sweep's top three rates (best val acc) | nearest swept rate: "
        "rank, behind the best | suggestion inside the top three's range |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        top = ", ".join(f"{lr:g} ({acc:.1%})" for lr, acc in r["top3"])
        digits = r["digits_behind"]
        behind = "the best" if digits == 0 else f"{digits} validation digit{'s' if digits > 1 else ''} behind"
        if not r.get("learned", True):
            behind += " (no rate learned: every rank is chance)"
        suggestion = f"{r['suggested']:.3g} ({r['range_test_s']:.2f} s)"
        if not r.get("test_learned", True):
            suggestion += "; the network learned nothing in the test: noise"
            if r.get("longer"):
                again = r["longer"]
                suggestion += f"; with {again['steps_taken']} steps: {again['suggested_lr']:.3g}"
                suggestion += "" if again["learned"] else " (still nothing learned)"
        lines.append(
            f"| {r['preset']}: {r['what']} | {suggestion} | {top} | "
            f"{r['nearest']:g}: rank {r['nearest_rank']} of 11, {behind} | "
            f"{'yes' if r['within_top3_range'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lr_find", description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated, of " + ", ".join(PRESETS))
    parser.add_argument("--out", type=Path, default=Path("results/bench-lr-find"))
    args = parser.parse_args(argv)
    rows = []
    for name in args.presets.split(","):
        rows.append(measure(name, args.out))
        print(f"  {name}: suggests {rows[-1]['suggested']:.3g}; sweep {rows[-1]['sweep_s']:.0f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-lr-find.json").write_text(json.dumps(rows, indent=1) + "\n")
    text = table(rows)
    (args.out / "bench-lr-find.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
