"""nnsweep's sweeper for Hydra: ``hydra/sweeper=nnsweep``, ``skopt`` and ``grid`` (the default of ``-m``)."""
