"""Every run records what it was computed with (``environment.json``): read back typed, the
earlier environments of a resumed run kept, runs from before it read as having none, and a
damaged record named in one line."""

import json
from importlib.metadata import version

import numpy as np
import pytest

from nnsweep.runrecord import RunRecordError
from nnsweep.runrecord import environment as env
from nnsweep.runrecord.environment import Blas, Environment


def another(base: Environment, numpy_version: str) -> Environment:
    return Environment(
        base.python, base.platform, base.cpu, {**base.packages, "numpy": numpy_version}, base.blas, base.nnsweep
    )


def test_this_process_is_described_as_it_is():
    here = env.current()
    assert here.packages["numpy"] == np.__version__ == version("numpy")
    assert here.packages["optuna"] == version("optuna") and here.packages["scikit-optimize"] == "0.10.2"
    assert here.python.count(".") == 2 and here.cpu
    assert any(b.library == "openblas" and b.version for b in here.blas)  # NumPy's wheels bring OpenBLAS


def test_a_fresh_run_records_one_environment_and_a_resume_adds_only_a_new_one(tmp_path):
    here = env.current()
    env.record(tmp_path, here, fresh=True)
    assert env.read(tmp_path) == [here]
    env.record(tmp_path, here, fresh=False)  # resumed in the same environment: nothing to add
    assert env.read(tmp_path) == [here]
    later = another(here, "9.9.9")
    env.record(tmp_path, later, fresh=False)
    assert env.read(tmp_path) == [here, later]
    env.record(tmp_path, here, fresh=True)  # trained afresh: only this one counts
    assert env.read(tmp_path) == [here]


def test_a_run_from_before_has_none_and_a_damaged_record_is_one_line(tmp_path):
    assert env.read(tmp_path) is None
    path = tmp_path / "environment.json"
    for text in (
        "{",
        json.dumps({"format": "other"}),
        json.dumps({"format": "nnsweep-environment", "invocations": []}),
    ):
        path.write_text(text)
        with pytest.raises(RunRecordError, match="environment.json is damaged"):
            env.read(tmp_path)
    bad = {"format": "nnsweep-environment", "invocations": [{"python": 3, "packages": {}}]}
    path.write_text(json.dumps(bad))
    with pytest.raises(RunRecordError, match="are text"):
        env.read(tmp_path)


def test_blas_entries_round_trip():
    one = Environment(
        "3.11.7", "linux x86_64", "cpu", {"numpy": "2.4.6"}, [Blas("openblas", "0.3.31", "Haswell", None)]
    )
    assert Environment.from_record(json.loads(json.dumps(one.as_record()))) == one


@pytest.mark.slow
def test_a_trained_run_records_its_environment(tmp_path):
    from tests.experiments.conftest import run_module
    from tests.reliability.conftest import TINY

    result = run_module("nnsweep.experiments.train", *TINY, "trainer.epochs=1", f"hydra.run.dir={tmp_path / 'r'}")
    assert result.returncode == 0, result.stderr[-2000:]
    [recorded] = env.read(tmp_path / "r")
    assert recorded.packages["numpy"] == np.__version__ and recorded.blas
