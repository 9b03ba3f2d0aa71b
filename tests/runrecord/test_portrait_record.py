"""What a run records for its portraits: the mean training input (written by training, read back,
checked), and class names that name without stopping a run from continuing."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from nnsweep.experiments.train import train_run
from nnsweep.nets.data.datasets import load_dataset
from nnsweep.runrecord import MEAN_INPUT, RunDir, RunRecordError
from tests.experiments.conftest import compose_config


def test_training_records_the_mean_training_input(tmp_path):
    cfg = compose_config(["data.train_limit=300", "trainer.epochs=1", "trainer.progress=false", "net.hidden=[8]"])
    train_run(cfg, tmp_path)
    mean = RunDir(tmp_path).read_mean_input()
    train = load_dataset("mnist5k", train_limit=300).train
    assert mean.shape == (784,) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, train.x.mean(axis=0), atol=1e-6)


def test_the_mean_input_round_trips_and_is_none_for_older_runs(tmp_path):
    run = RunDir(tmp_path)
    assert run.read_mean_input() is None
    run.write_mean_input(np.linspace(0, 1, 784).reshape(28, 28))
    np.testing.assert_allclose(run.read_mean_input(), np.linspace(0, 1, 784), atol=1e-7)


@pytest.mark.parametrize("content", [b"not numpy", "pickled", "integers", "nan"])
def test_a_damaged_mean_input_is_one_line_naming_the_file(tmp_path, content):
    path = tmp_path / MEAN_INPUT
    if content == "pickled":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif content == "integers":
        np.save(path, np.arange(784))
    elif content == "nan":
        np.save(path, np.full(784, np.nan, dtype=np.float32))
    else:
        path.write_bytes(content)
    with pytest.raises(RunRecordError, match=MEAN_INPUT) as err:
        RunDir(tmp_path).read_mean_input()
    assert "\n" not in str(err.value)


def test_class_names_never_stop_a_run_from_continuing(tmp_path):
    run = RunDir(tmp_path)
    cfg = compose_config(["data.train_limit=300"])
    recorded = OmegaConf.to_container(cfg)
    for key in ("class_names", "noun"):  # a run recorded before these keys existed
        del recorded["data"][key]
    run.write_config(OmegaConf.create(recorded), [])
    assert run.settings_differ(cfg) == []
    assert (
        run.settings_differ(
            compose_config(["data.train_limit=300", "data.noun=item", "data.class_names=[a,b,c,d,e,f,g,h,i,j]"])
        )
        == []
    )
    assert run.settings_differ(compose_config(["data.train_limit=400"])) == ["data.train_limit: 300 -> 400"]
