"""nnsweep's scikit-optimize sweeper for Hydra: ``hydra/sweeper=skopt``."""
