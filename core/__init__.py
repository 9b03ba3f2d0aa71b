"""What every layer of nnsweep uses, below all of them: the one base exception (``errors``),
files written whole and never through a link (``atomic``), and how a run stands (``status``).
Standard library only."""
