"""Work split between threads (``nnsweep.nets.parallel``): every item once, in consecutive
shares, in two threads; errors and Ctrl-C only after every share ended; BLAS on one thread inside
a scope and back after; and a convolutional network that trains to the same bytes with one thread
or two (so the gradient checks, run with one, hold for two)."""

from __future__ import annotations

import _thread
import os
import threading
import time
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from nnsweep.nets import parallel
from nnsweep.nets.activations import ReLU
from nnsweep.nets.architectures import cnn
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import make_optimizer


@pytest.fixture
def two_threads():
    parallel.use_threads(2)
    yield
    parallel.use_threads(None)


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_shares_are_consecutive_and_cover_every_item_once():
    assert parallel.shares(7, 2) == [range(0, 3), range(3, 7)]
    assert parallel.shares(1, 2) == [range(0, 0), range(0, 1)]
    assert [len(r) for r in parallel.shares(10, 3)] == [3, 3, 4]


def test_each_share_runs_the_shares_in_two_threads_inside_a_scope(two_threads):
    seen = {}

    def work(share):
        time.sleep(0.05)  # both shares are running at once, or this takes 0.1 s
        seen[tuple(share)] = threading.get_ident()

    with parallel.split_work():
        start = time.perf_counter()
        parallel.each_share(range(5), work)
        took = time.perf_counter() - start
    assert sorted(seen) == [(0, 1), (2, 3, 4)]
    assert seen[(0, 1)] == threading.get_ident()  # the caller takes the first share
    assert seen[(2, 3, 4)] != threading.get_ident()
    assert took < 0.095


def test_outside_a_scope_or_with_one_thread_the_caller_does_it_all(two_threads):
    calls = []
    parallel.each_share(range(4), lambda share: calls.append((tuple(share), threading.get_ident())))
    parallel.use_threads(1)
    with parallel.split_work():
        parallel.each_share(range(4), lambda share: calls.append((tuple(share), threading.get_ident())))
    assert calls == [((0, 1, 2, 3), threading.get_ident())] * 2


def test_a_share_inside_a_share_runs_in_its_caller(two_threads):
    inner = []

    def work(share):
        parallel.each_share(range(4), lambda items: inner.append(tuple(items)))

    with parallel.split_work():
        parallel.each_share(range(2), work)
    assert inner == [(0, 1, 2, 3)] * 2


def test_an_error_in_a_share_is_raised_after_every_share_ended(two_threads):
    ended = []

    def work(share):
        if share[0] == 0:
            raise KeyboardInterrupt  # Ctrl-C arrives in the calling thread, which has share 0
        time.sleep(0.1)
        ended.append(share)

    with parallel.split_work(), pytest.raises(KeyboardInterrupt):
        parallel.each_share(range(2), work)
    assert ended == [range(1, 2)]  # nothing writes into the caller's arrays after the raise

    def fails(share):
        if share[0] == 1:
            raise ValueError("in the other thread")

    with parallel.split_work(), pytest.raises(ValueError, match="other thread"):
        parallel.each_share(range(2), fails)


def test_blas_runs_one_thread_inside_a_scope_and_its_own_count_after(two_threads):
    with threadpool_limits(2, user_api="blas"):  # the suite runs BLAS on one thread
        assert set(blas_threads()) == {2}
        with pytest.raises(RuntimeError):
            with parallel.split_work():
                with parallel.split_work():  # nested: still one until the outer scope ends
                    assert set(blas_threads()) == {1}
                assert set(blas_threads()) == {1}
                parallel.use_threads(None)
                assert parallel.threads() == 2  # BLAS's own count, not the scope's one
                raise RuntimeError
        assert set(blas_threads()) == {2}


def test_another_threads_scope_does_not_split_this_threads_work(two_threads):
    inside, leave = threading.Event(), threading.Event()

    def hold_a_scope():
        with parallel.split_work():
            inside.set()
            leave.wait(5)

    holder = threading.Thread(target=hold_a_scope)
    holder.start()
    inside.wait(5)
    try:
        calls = []
        parallel.each_share(range(4), lambda share: calls.append(tuple(share)))
        assert calls == [(0, 1, 2, 3)]
    finally:
        leave.set()
        holder.join()


def test_ctrl_c_while_waiting_returns_only_after_the_other_share_ended(two_threads):
    ended = []

    def work(share):
        if share[0] == 1:
            time.sleep(0.05)
            _thread.interrupt_main()  # Ctrl-C reaches the caller while it waits for this share
            time.sleep(0.2)
            ended.append(share)

    with parallel.split_work(), pytest.raises(KeyboardInterrupt):
        parallel.each_share(range(2), work)
    assert ended == [range(1, 2)]
    calls = []
    with parallel.split_work():  # and the next section splits again
        parallel.each_share(range(2), lambda share: calls.append(threading.get_ident()))
    assert len(set(calls)) == 2


def test_the_shares_keep_the_callers_numpy_error_settings(two_threads):
    def overflow(share):
        np.multiply(np.full(4, 1e38, np.float32), np.float32(10))

    with parallel.split_work(), np.errstate(over="raise"), pytest.raises(FloatingPointError):
        parallel.each_share(range(2), lambda share: share[0] == 1 and overflow(share))
    with parallel.split_work(), np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel.each_share(range(2), overflow)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_child_forked_while_another_thread_splits_starts_afresh(two_threads):
    with threadpool_limits(2, user_api="blas"):
        inside, leave = threading.Event(), threading.Event()

        def split_slowly():
            with parallel.split_work():
                parallel.each_share(range(2), lambda share: (inside.set(), leave.wait(5)))

        holder = threading.Thread(target=split_slowly)
        holder.start()
        inside.wait(5)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
                child = os.fork()
            if child == 0:
                idents = []
                try:
                    with parallel.split_work():
                        parallel.each_share(range(2), lambda share: idents.append(threading.get_ident()))
                    os._exit(0 if len(set(idents)) == 2 and set(blas_threads()) == {2} else 1)
                finally:
                    os._exit(2)
            _, status = os.waitpid(child, 0)
        finally:
            leave.set()
            holder.join()
        assert os.waitstatus_to_exitcode(status) == 0


def test_the_thread_count_must_be_positive():
    with pytest.raises(ValueError, match="count >= 1"):
        parallel.use_threads(0)


def small_cnn(side: int = 8, channels: tuple[int, ...] = (4, 4, 8), pool=("max", "max", "max"), dense: int = 6) -> dict:
    """A convolution with as many filters as channels (input gradient by convolution), one with
    more (by offsets), batch norm and dropout."""
    return cnn(
        channels=list(channels),
        pool=list(pool),
        batchnorm=True,
        conv_dropout=0.25,
        dense=[dense],
        image=(side, side, 1),
    )


def train(steps: int, x: np.ndarray, y: np.ndarray, batch: int) -> dict[str, np.ndarray]:
    network = Network(
        small_cnn(28, (32, 32, 64), ("none", "max", "max"), dense=64), np.random.default_rng(0), dtype=np.float32
    )
    network.set_rng(np.random.default_rng(1))
    optimizer = make_optimizer("adam", lr=1e-2).bind(network.parameters())
    with network.split_work():
        for step in range(steps):
            rows = slice(batch * step, batch * (step + 1))
            network.train_step(x[rows], y[rows])
            optimizer.step()
    return {**network.get_params(), "out": network.forward(x[:batch])}


def test_a_cnn_trains_to_the_same_bytes_with_one_thread_or_two(monkeypatch):
    """fashion_cnn's layers at 16 images a batch: the windows in chunks of one image, batch norm,
    ReLU and Adam (800 KB of dense weights) in blocks of 256 KB, the dense layer in halves, all
    large enough for the shares to overlap (a race on a shared work array,
    or sums added in the order the shares end, fail here)."""
    monkeypatch.setattr("nnsweep.nets.layers.HALVES_FROM", 0)  # 3136 -> 64 at 16 images is below it
    rng = np.random.default_rng(3)
    x = rng.random((48, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 48)]
    results = {}
    with threadpool_limits(2, user_api="blas"):  # and BLAS's own thread count must not matter
        for count in (1, 2):
            parallel.use_threads(count)
            try:
                results[count] = train(3, x, y, 16)
            finally:
                parallel.use_threads(None)
    assert results[1].keys() == results[2].keys()
    for key in results[1]:
        assert results[1][key].tobytes() == results[2][key].tobytes(), key
    untrained = train(0, x, y, 16)
    assert not any(np.array_equal(untrained[key], results[2][key]) for key in untrained if key.endswith(".W"))


def test_two_threads_forward_at_once_get_their_own_answers(two_threads, monkeypatch):
    """A web server answers requests in threads: whichever pass runs split, each is right."""
    monkeypatch.setattr("nnsweep.nets.conv.CHUNK_BYTES", 1)
    monkeypatch.setattr("nnsweep.nets.conv.WHOLE_BYTES", 0)
    network = Network(small_cnn(), np.random.default_rng(0), dtype=np.float32)
    rng = np.random.default_rng(4)
    inputs = [rng.random((6, 64)).astype(np.float32) for _ in range(4)]
    parallel.use_threads(1)
    expected = [network.forward(x) for x in inputs]
    parallel.use_threads(2)
    answers = [None] * len(inputs)

    def answer(i):
        for _ in range(20):
            answers[i] = network.forward(inputs[i])

    workers = [threading.Thread(target=answer, args=(i,)) for i in range(len(inputs))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for got, want in zip(answers, expected):
        assert got.tobytes() == want.tobytes()


def test_relu_backward_in_blocks_is_the_masked_gradient(two_threads):
    """A convolution's output is past the one-call size: its blocks, split, give dy x (out > 0)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 28, 28, 32)).astype(np.float32)
    x[0, 0, 0, :4] = 0.0  # the gradient at exactly 0 is 0
    dy = rng.standard_normal(x.shape).astype(np.float32)
    relu = ReLU()
    with parallel.split_work():
        relu.forward(x, True)
        got = relu.backward(dy)
    assert got.dtype == dy.dtype and got.tobytes() == (dy * (x > 0)).tobytes()
