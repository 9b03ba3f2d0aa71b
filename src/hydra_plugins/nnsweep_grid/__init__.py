"""nnsweep's grid sweeper for Hydra: ``hydra/sweeper=grid``, the default of ``-m``."""
