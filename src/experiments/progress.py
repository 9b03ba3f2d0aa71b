"""Progress bars for a training run: one over epochs, one over the current epoch's batches.

tqdm with ``disable=None`` shows them only when stderr is a terminal, so logs, CI output and
sweep jobs stay clean.
"""
from __future__ import annotations

import math

from tqdm.auto import tqdm


class EpochProgress:
    def __init__(self, epochs: int, n_train: int, batch_size: int, enabled: bool = True) -> None:
        self.epochs = epochs
        self.n_batches = math.ceil(n_train / batch_size)
        self.disable = None if enabled else True
        self._epochs_bar = self._batches_bar = None
        self._seen = 0

    def __enter__(self) -> "EpochProgress":
        return self

    def __exit__(self, *exc) -> None:
        for bar in (self._batches_bar, self._epochs_bar):
            if bar is not None:
                bar.close()

    def start(self, done: int) -> None:
        self._epochs_bar = tqdm(total=self.epochs, initial=done, desc="epochs", unit="epoch", disable=self.disable)
        self._new_batch_bar()

    def _new_batch_bar(self) -> None:
        if self._batches_bar is not None:
            self._batches_bar.close()
        self._batches_bar = tqdm(total=self.n_batches, desc="batches", unit="batch", leave=False, disable=self.disable)
        self._seen = 0

    def batches(self, index: int) -> None:
        """Called by the training loop with the index of the current batch."""
        self._batches_bar.update(index + 1 - self._seen)
        self._seen = index + 1

    def epoch_done(self, record) -> None:
        self._epochs_bar.set_postfix(val_acc=f"{record.val_acc:.3f}", refresh=False)
        self._epochs_bar.update(1)
        self._new_batch_bar()
