"""``nnsweep report`` as a user runs it: bounded memory on a long sweep, and a full disk is
one line with no partial file left behind."""

import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import nnsweep.reports.style  # noqa: F401  (matplotlib's font cache exists before a child runs under a file size limit)
from nnsweep.reports.animations import MAX_FRAMES
from tests.reports.synthetic import write_sweep

REPO = Path(__file__).resolve().parents[2]


def run_python(*args: str, file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    """A Python child, optionally under ``ulimit -f`` (Python ignores SIGXFSZ: a write past the
    limit fails with EFBIG, as on a full disk)."""

    def limit():
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300, preexec_fn=limit
    )


def leftovers(directory: Path) -> list[str]:
    """Temporary files left behind (the report's lock file, which the kernel unlocks, aside)."""
    return sorted(
        p.name for p in directory.iterdir() if (p.name.startswith(".") or p.suffix == ".tmp") and p.name != ".lock"
    )


def test_twenty_runs_of_a_thousand_epochs_report_in_bounded_memory(tmp_path):
    write_sweep(tmp_path, lrs=tuple(np.logspace(-3, 1, 20)), epochs=1000)
    result = run_python("-m", "nnsweep.reports", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    assert peak_mb < 1024, f"peak RSS {peak_mb:.0f} MB"
    report = tmp_path / "report"
    for name in ("heatmap_val_acc_anim", "learning_curves_anim"):
        frames = iio.improps(report / f"{name}.gif").shape[0]
        assert 100 <= frames <= MAX_FRAMES
        assert iio.imread(report / f"{name}.mp4", plugin="FFMPEG", index=None).shape[0] == frames


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path):
    write_sweep(tmp_path)
    result = run_python("-m", "nnsweep.reports", str(tmp_path), file_size_limit=16_000)  # every figure is larger
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"nnsweep: error: cannot write {tmp_path}/report/")
    assert "File too large; free some space" in result.stderr
    report = tmp_path / "report"
    assert not leftovers(report)
    for png in report.glob("*.png"):
        iio.imread(png)  # whole, or not there


@pytest.mark.parametrize("writer", ["write_gif", "write_mp4"])
def test_an_animation_that_does_not_fit_leaves_nothing(tmp_path, writer):
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import numpy as np
        from nnsweep.core.atomic import WriteError
        from nnsweep.reports.animations import RevealFrames, {writer}
        rng = np.random.default_rng(0)
        noise = lambda: rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)  # incompressible
        frames = RevealFrames(noise(), noise(), [(0, 255, 0)], np.arange(8, 256, 8)[:, None])
        try:
            {writer}(frames, Path(sys.argv[1]) / "anim.{writer[-3:]}")
        except WriteError as err:
            print(err)
    """)
    result = run_python("-c", script, str(tmp_path), file_size_limit=64_000)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == f"cannot write {tmp_path}/anim.{writer[-3:]}: File too large; free some space\n"
    assert list(tmp_path.iterdir()) == []
