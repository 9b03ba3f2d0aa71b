"""The search view reads the trial log only through ``sweeps.trials``."""
import json

import imageio.v3 as iio
import pytest

from reports.search import render_parallel_coordinates
from sweeps.trials import TrialLogError
from tests.reports.synthetic import write_trial_log


def test_parallel_coordinates_of_a_trial_log(tmp_path):
    write_trial_log(tmp_path)
    path = render_parallel_coordinates(tmp_path, tmp_path / "trials.png")
    assert path is not None and iio.imread(path).shape[1] > 400


def test_no_trial_log_is_no_figure(tmp_path):
    assert render_parallel_coordinates(tmp_path, tmp_path / "trials.png") is None


def test_a_log_the_sweeper_would_refuse_is_refused_here_too(tmp_path):
    record = write_trial_log(tmp_path)
    record["version"] = 99  # a future format: its fields may mean something else
    (tmp_path / "trials.json").write_text(json.dumps(record))
    with pytest.raises(TrialLogError, match="trials.json has version 99"):
        render_parallel_coordinates(tmp_path, tmp_path / "trials.png")
    assert not (tmp_path / "trials.png").exists()
