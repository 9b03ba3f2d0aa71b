"""The Hydra configs, a package so that Hydra finds them as ``pkg://nnsweep.conf`` from an installed
wheel or a console script (it needs a regular package there, not a plain directory)."""
