"""What a run was computed with (``environment.json``): Python, NumPy and the BLAS it calls (library,
version and the kernels threadpoolctl reports: the CPU type decides the order float32 sums are
taken in, so the last bits of an accuracy), the versions of the packages that decide results, the
CPU model, and nnsweep's own version and commit when it runs from a clone.

Two sweeps that disagree are first told apart by this record (issue 26's ``nnsweep diff``): another
NumPy or OpenBLAS kernel explains a difference of a digit before anything in the settings does.
A run resumed under another environment keeps each distinct one, in order (``invocations``).
Runs recorded before this file existed have none: ``read`` answers None.
"""

from __future__ import annotations

import functools
import json
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nnsweep.core.atomic import atomic_write_text
from nnsweep.runrecord.bounded import RecordFormatError, parse_json, read_record_text
from nnsweep.runrecord.names import RunRecordError

ENVIRONMENT = "environment.json"
FORMAT, VERSION = "nnsweep-environment", 1
# The packages whose versions decide a run's numbers or a sweep's points.
PACKAGES = ("numpy", "scipy", "optuna", "scikit-optimize", "scikit-learn", "hydra-core")
MAX_INVOCATIONS = 100  # a run resumed under this many environments is a record to be suspicious of


@dataclass(frozen=True)
class Blas:
    """One BLAS library NumPy loaded, as threadpoolctl describes it."""

    library: str  # "openblas", "mkl", ...
    version: str | None
    kernels: str | None  # threadpoolctl's architecture: "SkylakeX", "Haswell", ...
    threading: str | None  # threadpoolctl's threading layer: "pthreads", "openmp", ...


@dataclass(frozen=True)
class Environment:
    python: str
    platform: str
    cpu: str | None
    packages: dict[str, str | None]
    blas: list[Blas] = field(default_factory=list)
    nnsweep: str | None = None  # its installed version
    commit: str | None = None  # the clone's commit, when nnsweep runs from one

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: Any) -> "Environment":
        """An environment as ``as_record`` wrote it; ``ValueError`` for anything else."""
        if not isinstance(data, dict):
            raise ValueError("an environment is an object")
        texts = {k: data.get(k) for k in ("python", "platform", "cpu", "nnsweep", "commit")}
        if not isinstance(texts["python"], str) or not all(v is None or isinstance(v, str) for v in texts.values()):
            raise ValueError("its python, platform, cpu, nnsweep and commit are text")
        packages = data.get("packages")
        if not isinstance(packages, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in packages.items()
        ):
            raise ValueError("its packages map names to versions")
        blas = data.get("blas", [])
        if not isinstance(blas, list) or not all(isinstance(b, dict) for b in blas):
            raise ValueError("its blas is a list of objects")
        try:
            libraries = [Blas(**{k: b.get(k) for k in ("library", "version", "kernels", "threading")}) for b in blas]
        except TypeError:
            raise ValueError("a blas entry is malformed") from None
        if not all(isinstance(b.library, str) for b in libraries):
            raise ValueError("a blas entry has no library name")
        return cls(
            texts["python"],
            texts["platform"] or "",
            texts["cpu"],
            dict(packages),
            libraries,
            texts["nnsweep"],
            texts["commit"],
        )


def cpu_model() -> str | None:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip() or None
    except OSError:
        pass
    return platform.processor() or None


def blas_libraries() -> list[Blas]:
    """The BLAS libraries loaded in this process (NumPy's, SciPy's), as threadpoolctl sees them."""
    import numpy  # noqa: F401  (loads NumPy's BLAS, which is what threadpoolctl then finds)
    from threadpoolctl import threadpool_info

    found = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            found.append(
                Blas(
                    str(info.get("internal_api") or info.get("prefix") or "blas"),
                    info.get("version"),
                    info.get("architecture"),
                    info.get("threading_layer"),
                )
            )
    return sorted(set(found), key=lambda b: (b.library, b.version or ""))


def clone_commit() -> str | None:
    """The commit of the clone nnsweep runs from (its ``.git`` read as files: no git needed), or None
    for an installed wheel."""
    import nnsweep

    git = Path(nnsweep.__file__).resolve().parents[2] / ".git"  # src/nnsweep/__init__.py in a clone
    if not git.is_dir():
        return None
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip() or None
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


@functools.cache
def current() -> Environment:
    """This process's environment (measured once: it does not change while the process lives)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return Environment(
        python=platform.python_version(),
        platform=f"{sys.platform} {platform.machine()}",
        cpu=cpu_model(),
        packages={name: installed(name) for name in PACKAGES},
        blas=blas_libraries(),
        nnsweep=installed("nnsweep"),
        commit=clone_commit(),
    )


def read(run_dir: Path) -> list[Environment] | None:
    """Every environment the run was trained under, first first; None for a run recorded before
    environments were (no file). A damaged file is a ``RunRecordError`` naming it."""
    path = run_dir / ENVIRONMENT
    if not path.is_file():
        return None
    fix = "delete it (the run then counts as recorded before environments were) or train the run again"
    try:
        data = parse_json(read_record_text(path))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} record")
        invocations = data.get("invocations")
        if not isinstance(invocations, list) or not 1 <= len(invocations) <= MAX_INVOCATIONS:
            raise ValueError(f"its invocations are not a list of 1 to {MAX_INVOCATIONS} environments")
        return [Environment.from_record(e) for e in invocations]
    except (OSError, RecordFormatError, ValueError) as err:
        raise RunRecordError(f"{path} is damaged ({' '.join(str(err).split())[:160]}); {fix}") from None


def record(run_dir: Path, environment: Environment, fresh: bool) -> None:
    """Record that the run trains under ``environment``: the only one when it starts afresh
    (``fresh``), else after the ones before it when it differs from the last of them."""
    earlier: list[Environment] = []
    if not fresh:
        try:
            earlier = read(run_dir) or []
        except RunRecordError:
            earlier = []  # a damaged record of earlier invocations: what this one trains under is still true
    if earlier and earlier[-1] == environment:
        return
    invocations = [*earlier, environment][-MAX_INVOCATIONS:]
    data = {"format": FORMAT, "version": VERSION, "invocations": [e.as_record() for e in invocations]}
    atomic_write_text(run_dir / ENVIRONMENT, json.dumps(data, indent=1) + "\n")
