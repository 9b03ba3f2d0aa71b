"""Both cores for a convolutional network: its im2col work and its larger element-wise passes
split into shares, one per thread, each share's matrix products on one BLAS thread.

NumPy hands only matrix products to BLAS, which splits each one across its threads, and runs
every copy and element-wise operation on one core. A convolution built a chunk of window
matrix at a time (``nnsweep.nets.conv``) is a copy into cache and a narrow product (32 or 64
columns), which BLAS splits badly. Giving each thread whole chunks instead, with one BLAS thread
each, took the forward pass and weight gradient of ``fashion_cnn``'s 32 -> 32 layer from 19.0
to 12.2 ms a batch on the 2-core development machine (two BLAS threads under two Python
threads: 20 ms, as they fight for the cores). A plain pass over an array larger than the cache
gains less, as memory is the limit rather than the core (a multiplication over 6.4 MB: 0.39-0.43
against 0.34-0.35 ms), but most of a network's passes do more per byte: split the same way,
``fashion_cnn``'s max pooling went 6.8 -> about 4.6 ms a batch, its ReLUs' backward passes 4.8 ->
4.0, Adam 3.5 -> 2.8, its dense layer (two halves of the weights) 3.8 -> 2.7, and a batch norm
layer of 28 x 28 x 32 5.7-6.0 -> 5.5-5.6 ms, forward and backward.

NumPy releases the GIL inside its loops over large arrays and inside BLAS, so Python threads run
them side by side. The items a caller splits (chunks of images, blocks of rows) depend on the
shapes alone, each item is computed alike in any share, and a caller that sums over items adds
them in item order. So a network trains to the same bytes with one thread or two (tested): in a
sweep's jobs (one BLAS thread each, so one share) as alone.

The thread count is NumPy's BLAS thread count when first needed (``OPENBLAS_NUM_THREADS``, or a
launcher's limit), so nnsweep never takes more cores than it was given; ``use_threads`` sets it.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

Item = TypeVar("Item")

_threads: int | None = None  # use_threads' count; None: NumPy's BLAS thread count outside any scope
_blas = None  # threadpoolctl's controller of NumPy's BLAS, made at first use
_depth = 0  # split_work scopes open in the process: BLAS is on one thread while there are any
_depth_lock = threading.Lock()
_saved_blas: list[int] = []  # BLAS's thread counts from before the first scope opened
_local = threading.local()  # .depth: the scopes this thread has open (each_share splits only inside one)
# One split section at a time: another thread's (a web server's request) or a share's own call
# runs its items in the calling thread instead, so sections never nest or fight over BLAS.
_section = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0


def _numpy_blas():
    """threadpoolctl's controller of the BLAS libraries loaded now (NumPy's, found through it)."""
    global _blas
    if _blas is None:
        import numpy  # noqa: F401  (loads NumPy's BLAS, which is what threadpoolctl then finds)
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def threads() -> int:
    """How many threads ``each_share`` uses: ``use_threads``' count, else NumPy's BLAS threads
    (as they were before a scope put BLAS on one)."""
    if _threads is not None:
        return _threads
    counts = list(_saved_blas) if _depth else [lib.num_threads for lib in _numpy_blas().lib_controllers]
    return max(1, min(counts)) if counts else 1


def use_threads(count: int | None) -> None:
    """Split work between ``count`` threads from now on (None: NumPy's BLAS thread count again)."""
    global _threads
    if count is not None and int(count) < 1:
        raise ValueError(f"use_threads needs a count >= 1, got {count}")
    _threads = None if count is None else int(count)


def shares(count: int, parts: int) -> list[range]:
    """``range(count)`` cut into ``parts`` consecutive shares of nearly equal length."""
    return [range(count * i // parts, count * (i + 1) // parts) for i in range(parts)]


@contextmanager
def split_work() -> Iterator[None]:
    """While inside, ``each_share`` called from this thread splits work between ``threads()``
    threads, and NumPy's BLAS runs one thread (restored when the last scope in the process ends,
    also on an error or Ctrl-C).

    BLAS is on one thread even where nothing is split (``threads()`` is 1): a product's bytes
    depend on how many threads BLAS gives it, and a network's must not depend on the thread
    count. It stays on one for the whole scope, not per section: after a call on two threads
    OpenBLAS's second thread keeps spinning for a while, and under two shares it takes a core
    from them (toggled per section, ``fashion_cnn``'s step took 135 against 105 ms). Scopes nest
    and may be open in several threads at once.
    """
    global _depth, _saved_blas
    blas = _numpy_blas()
    counted = local = False
    try:
        with _depth_lock:
            if _depth == 0:
                _saved_blas = [lib.num_threads for lib in blas.lib_controllers]
            _depth += 1
            counted = True
            if _depth == 1:
                for lib in blas.lib_controllers:
                    lib.set_num_threads(1)
        _local.depth = getattr(_local, "depth", 0) + 1
        local = True
        yield
    finally:
        if local:
            _local.depth -= 1
        if counted:
            with _depth_lock:
                _depth -= 1
                if _depth == 0:
                    for lib, count in zip(blas.lib_controllers, _saved_blas):
                        lib.set_num_threads(count)


def each_share(items: Sequence[Item], work: Callable[[Sequence[Item]], None]) -> None:
    """Call ``work(share)`` on consecutive shares of ``items``, one per thread, and wait for all.

    ``work`` must write only what belongs to its own items (disjoint rows of an output, its
    items' slots of a list), since the shares run at the same time; each runs with the caller's
    NumPy error settings. Outside a ``split_work`` scope of this thread, with one thread or one
    item, or while another section runs (another thread's, or a share's own call), it is
    ``work(items)`` in the calling thread. The calling thread takes the first share; it returns
    only once every share has ended, also when one raised (its exception is raised here) or on
    Ctrl-C, so no thread still writes into the caller's arrays.
    """
    count = threads() if getattr(_local, "depth", 0) and len(items) > 1 else 1
    if count < 2:
        work(items)
        return
    acquired = False
    others: list[Future] = []
    try:
        acquired = _section.acquire(blocking=False)
        if not acquired:
            work(items)
            return
        split = [items[r.start : r.stop] for r in shares(len(items), min(count, len(items)))]
        pool = _thread_pool(len(split) - 1)
        for share in split[1:]:
            # Each its own copy of the caller's context: NumPy's error settings live there.
            others.append(pool.submit(contextvars.copy_context().run, work, share))
        work(split[0])
    finally:
        try:
            _wait_for_all(others)
        finally:
            if acquired:
                _section.release()
    for done in others:
        done.result()


def _wait_for_all(futures: list[Future]) -> None:
    """Wait until every one of ``futures`` has ended, through any Ctrl-C (raised after)."""
    interrupted: BaseException | None = None
    while True:
        try:
            wait(futures)
            break
        except BaseException as err:  # KeyboardInterrupt: the other shares still write into the arrays
            interrupted = interrupted or err
            for future in futures:
                future.cancel()  # those not started yet never will
    if interrupted is not None:
        raise interrupted


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of at least ``workers`` threads besides the caller's, made on first use."""
    global _pool, _pool_workers
    if _pool is None or _pool_workers < workers:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nnsweep-share")
        _pool_workers = workers
    return _pool


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: no pool threads, no other thread's scope
    or section (their locks may have been held at the fork). Its BLAS is on one thread only while
    that thread's own scopes are open."""
    global _pool, _pool_workers, _depth, _depth_lock, _section
    _pool, _pool_workers = None, 0
    _depth_lock, _section = threading.Lock(), threading.Lock()
    _depth = getattr(_local, "depth", 0)
    if _depth == 0 and _blas is not None and _saved_blas:
        for lib, count in zip(_blas.lib_controllers, _saved_blas):
            lib.set_num_threads(count)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
