"""nnsweep: hand-written NumPy networks on handwritten digits, trained, swept, tuned and shown.

One import package, so that a researcher's own ``experiments/`` or ``reports/`` folder never shadows
ours nor ours theirs: ``nnsweep.nets``, ``nnsweep.experiments``, ``nnsweep.sweeps``, ``nnsweep.reports``,
``nnsweep.runrecord``, ``nnsweep.core`` and the Hydra configs ``nnsweep.conf``.

In an installed wheel those subpackages sit in this directory. In a clone they sit at the
repository's top level (``nets/``, ``conf/``, ...), where the project keeps them, and this file sits
in ``src/nnsweep/`` (the one path entry an editable install adds, beside Hydra's ``hydra_plugins``):
the package then also searches the repository's top level for its subpackages.
"""

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_CLONE = _HERE.parents[1]
if not (_HERE / "nets").is_dir() and (_CLONE / "nets" / "__init__.py").is_file():
    __path__.append(str(_CLONE))  # noqa: F821  (a package's __path__ is set by the import system)

from nnsweep.experiments.startup import quiet_start  # noqa: E402  (the layers are found from here on)

quiet_start()  # first thing: Ctrl-C while a command imports is one line (nnsweep.experiments.startup)
