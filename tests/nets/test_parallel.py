"""Work split between threads (``nnsweep.nets.parallel``): every item once, in consecutive
shares, in two threads; errors and Ctrl-C only after every share ended; BLAS on one thread inside
a scope and back after; and a convolutional network that trains to the same bytes with one thread
or two (so the gradient checks, run with one, hold for two)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from nnsweep.nets import parallel
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
    before = blas_threads()
    with pytest.raises(RuntimeError):
        with parallel.split_work():
            with parallel.split_work():  # nested: still one until the outer scope ends
                assert set(blas_threads()) == {1}
            assert set(blas_threads()) == {1}
            raise RuntimeError
    assert blas_threads() == before


def test_the_thread_count_must_be_positive():
    with pytest.raises(ValueError, match="count >= 1"):
        parallel.use_threads(0)


def small_cnn() -> dict:
    """Two convolutions big enough for several window chunks once they are made tiny below: one
    with as many filters as channels (input gradient by convolution), one with more (by offsets)."""
    return cnn(channels=[4, 4, 8], pool="max", batchnorm=True, conv_dropout=0.25, dense=[6], image=(8, 8, 1), classes=3)


def train(steps: int, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    network = Network(small_cnn(), np.random.default_rng(0), dtype=np.float32)
    network.set_rng(np.random.default_rng(1))
    optimizer = make_optimizer("adam", lr=1e-2).bind(network.parameters())
    with network.split_work():
        for step in range(steps):
            rows = slice(6 * step, 6 * step + 6)
            network.train_step(x[rows], y[rows])
            optimizer.step()
    return {**network.get_params(), "out": network.forward(x[:6])}


def test_a_cnn_trains_to_the_same_bytes_with_one_thread_or_two(monkeypatch):
    # A chunk of window matrix per image, and batch norm's blocks of 5 rows, so that every split
    # path has several items to share out.
    monkeypatch.setattr("nnsweep.nets.conv.CHUNK_BYTES", 1)
    monkeypatch.setattr("nnsweep.nets.conv.WHOLE_BYTES", 0)
    monkeypatch.setattr("nnsweep.nets.layers.CACHE_BLOCK_BYTES", 5 * 8 * 4)
    rng = np.random.default_rng(3)
    x = rng.random((18, 64)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 18)]
    results = {}
    for count in (1, 2):
        parallel.use_threads(count)
        try:
            results[count] = train(3, x, y)
        finally:
            parallel.use_threads(None)
    assert results[1].keys() == results[2].keys()
    for key in results[1]:
        assert results[1][key].tobytes() == results[2][key].tobytes(), key
    untrained = train(0, x, y)
    assert not any(np.array_equal(untrained[key], results[2][key]) for key in untrained if key.endswith(".W"))


def test_two_threads_forward_at_once_get_their_own_answers(two_threads, monkeypatch):
    """A web server answers requests in threads: a second thread's pass runs unsplit while the
    first one's is split, and both are right."""
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
