"""Cases 7-11: corrupt data, damaged checkpoints, bad overrides, bad images, concurrent sweeps.
Each must end with one line naming the problem and a non-zero exit, before anything trains."""

import gzip
import json
import pickle

import numpy as np
import pytest
from PIL import Image

from nnsweep.nets.data.readers import DataFormatError, load_nielsen_pkl
from tests.experiments.conftest import run_module
from tests.experiments.test_evaluate_predict import bad_images
from tests.nets.data.test_readers import idx_bytes
from tests.reliability.conftest import TINY, kill_minus_9, start_module, wait_for

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast


def one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnsweep: error:"), result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def idx_dir(tmp_path, name, mutate=None):
    d = tmp_path / name
    d.mkdir()
    rng = np.random.default_rng(0)
    files = {}
    for prefix, n in (("train", 40), ("t10k", 10)):
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(rng.integers(0, 256, (n, 28, 28))))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(np.arange(n) % 10))
    if mutate:
        mutate(files)
    for file, content in files.items():
        (d / file).write_bytes(content)
    return d


def truncate(files):
    raw = gzip.decompress(files["train-images-idx3-ubyte.gz"])
    files["train-images-idx3-ubyte.gz"] = gzip.compress(raw[:-500])


def bad_magic(files):
    raw = bytearray(gzip.decompress(files["train-images-idx3-ubyte.gz"]))
    raw[2] = 0x42
    files["train-images-idx3-ubyte.gz"] = gzip.compress(bytes(raw))


def count_mismatch(files):
    files["train-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(np.arange(39) % 10))


def crc_error(files):
    blob = bytearray(files["train-images-idx3-ubyte.gz"])
    blob[-8] ^= 0xFF
    files["train-images-idx3-ubyte.gz"] = bytes(blob)


def empty_file(files):
    files["t10k-labels-idx1-ubyte.gz"] = b""


@pytest.mark.parametrize(
    "mutate,fragments",
    [
        (truncate, ["train-images-idx3-ubyte.gz is truncated", "download it again"]),
        (bad_magic, ["train-images-idx3-ubyte.gz is not an IDX file"]),
        (count_mismatch, ["has 40 images but", "has 39 labels"]),
        (crc_error, ["train-images-idx3-ubyte.gz is a damaged gzip archive"]),
        (empty_file, ["t10k-labels-idx1-ubyte.gz is empty"]),
    ],
    ids=["truncated", "magic", "count", "crc", "empty"],
)
def test_7_corrupt_idx_files(tmp_path, mutate, fragments):
    d = idx_dir(tmp_path, "idx", mutate)
    result = run_module(
        "nnsweep.experiments.train",
        "data=idx",
        f"data.root={d}",
        "data.val_size=10",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    one_line_error(result, *fragments)
    assert not (tmp_path / "run" / "model.npz").exists()


@pytest.mark.parametrize(
    "content,fragments",
    [
        ("\n".join(",".join(["1"] + ["0"] * 700) for _ in range(30)), ["701 columns; expected 785"]),
        ("\n".join(",".join(["1"] + ["x"] + ["0"] * 783) for _ in range(30)), ["is not a numeric CSV"]),
        ("", ["train.csv is empty"]),
    ],
    ids=["columns", "non-numeric", "empty"],
)
def test_7_corrupt_csv(tmp_path, content, fragments):
    (tmp_path / "train.csv").write_text(content)
    result = run_module(
        "nnsweep.experiments.train",
        "data=csv",
        f"data.train_csv={tmp_path / 'train.csv'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    one_line_error(result, "train.csv", *fragments)


def test_7_checksum_mismatch_after_download(tmp_path):
    mirror = idx_dir(tmp_path, "mirror")  # the right names, the wrong bytes for the pinned sums
    result = run_module(
        "nnsweep.experiments.train",
        "data=mnist",
        f"data.root={tmp_path / 'mnist'}",
        "data.download=true",
        f"data.mirrors=[{mirror.as_uri()}/]",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    line = one_line_error(result, "checksum mismatch", "Download it by hand and put it in")
    assert str(tmp_path / "mnist") in line
    assert not list((tmp_path / "mnist").glob("*.gz"))  # nothing unverified was kept


def damaged_copy(trained_run, tmp_path, damage):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    damage(run / "model.npz")
    return run


def pickled(path):
    meta = json.dumps({"format": "nnsweep-checkpoint", "version": 1, "architecture": {}})
    np.savez(path, meta=np.array(meta), payload=np.array([{"a": 1}], dtype=object))


@pytest.mark.parametrize(
    "damage,fragments",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:2000]), ["is truncated or not an .npz archive"]),
        (lambda p: p.write_text("hello"), ["is truncated or not an .npz archive"]),
        (pickled, ["pickled object array", "refusing it"]),
    ],
    ids=["truncated", "not-npz", "pickled"],
)
def test_8_damaged_checkpoints(trained_run, tmp_path, damage, fragments):
    run = damaged_copy(trained_run, tmp_path, damage)
    one_line_error(run_module("nnsweep.experiments.evaluate", f"run={run}"), "model.npz", *fragments)
    resumed = run_module("nnsweep.experiments.train", *TINY, "trainer.epochs=2", "resume=true", f"hydra.run.dir={run}")
    one_line_error(resumed, "cannot resume", *fragments)


def test_8_resuming_with_another_architecture_is_refused_by_the_run_record(trained_run, tmp_path):
    run = damaged_copy(trained_run, tmp_path, lambda p: None)
    result = run_module(
        "nnsweep.experiments.train",
        "net=mlp",
        "net.hidden=[32]",
        "data.train_limit=300",
        "trainer.epochs=2",
        "resume=true",
        f"hydra.run.dir={run}",
    )
    one_line_error(result, "other settings", "net.hidden: [16] -> [32]")


def test_8_checkpoint_of_another_architecture(trained_run, tmp_path):
    """A config edited by hand to describe another network than the checkpoint holds."""
    run = damaged_copy(trained_run, tmp_path, lambda p: None)
    config = run / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("- 16", "- 32"))
    result = run_module(
        "nnsweep.experiments.train", *TINY, "net.hidden=[32]", "trainer.epochs=2", "resume=true", f"hydra.run.dir={run}"
    )
    one_line_error(result, "holds a different network", "net=")


def test_17_a_run_config_with_python_tags_is_one_line(trained_run, tmp_path):
    run = damaged_copy(trained_run, tmp_path, lambda p: None)
    config = run / ".hydra" / "config.yaml"
    config.write_text("net: !!python/object/apply:os.system ['touch hacked']\n" + config.read_text())
    one_line_error(run_module("nnsweep.experiments.evaluate", f"run={run}", cwd=tmp_path), "config.yaml is unreadable")
    one_line_error(
        run_module(
            "nnsweep.experiments.train", *TINY, "trainer.epochs=2", "resume=true", f"hydra.run.dir={run}", cwd=tmp_path
        ),
        "config.yaml is unreadable",
    )
    assert not (tmp_path / "hacked").exists()


def test_8_nielsen_pickle_with_code_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "mnist.pkl.gz").write_bytes(gzip.compress(pickle.dumps(((Payload(), 1),) * 3)))
    with pytest.raises(DataFormatError, match="other than NumPy arrays"):
        load_nielsen_pkl(tmp_path / "mnist.pkl.gz")
    assert not marker.exists()


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["optimizer.lr=-1"], "optimizer.lr must be a positive number"),
        (["optimizer.lr=0"], "optimizer.lr must be a positive number"),
        (["trainer.epochs=0"], "trainer.epochs must be at least 1"),
        (["trainer.batch_size=100000"], "larger than the training set"),
        (["net=resnet"], "Could not find 'net/resnet'"),
        (["optimizer=lion"], "Could not find 'optimizer/lion'"),
        (["data=cifar"], "Could not find 'data/cifar'"),
        (["-m", "optimizer=sgd,lion"], "Could not find 'optimizer/lion'"),
        (["-m", "hydra/sweeper=skopt", "optimizer.lr=interval(3, 1)"], "interval low 3.0 must be below high 1.0"),
        (
            ["-m", "hydra/sweeper=skopt", "optimizer.lr=interval(0.1, 1)", "hydra.sweeper.n_trails=3"],
            "Key 'n_trails' not in 'SkoptSweeperConf'",
        ),
    ],
    ids=["lr-neg", "lr-zero", "epochs", "batch", "net", "optimizer", "data", "grid-typo", "low-high", "sweeper-key"],
)
def test_9_bad_overrides_stop_before_anything_trains(tmp_path, args, fragment):
    where = "hydra.sweep.dir" if "-m" in args else "hydra.run.dir"
    result = run_module("nnsweep.experiments.train", *args, f"{where}={tmp_path / 'out'}")
    one_line_error(result, fragment)
    assert not list(tmp_path.glob("**/model.npz")) and not list(tmp_path.glob("**/metrics.csv"))


@pytest.mark.parametrize("name", ["text.png", "blank.png", "dot.png", "anim.gif", "huge.png", "cut.png", "missing.png"])
def test_10_bad_images(trained_run, tmp_path, name):
    messages = bad_images(tmp_path)
    line = one_line_error(run_module("nnsweep.experiments.predict", f"run={trained_run}", f"image={tmp_path / name}"))
    assert any(part in line for part in messages[name].split("|")), line


def test_10_sixteen_bit_png_is_handled(trained_run, tmp_path):
    canvas = np.full((60, 60), 65535, np.uint16)
    canvas[10:50, 27:33] = 0  # a "1", dark on light, in 16 bits
    Image.fromarray(canvas).save(tmp_path / "one16.png")
    result = run_module("nnsweep.experiments.predict", f"run={trained_run}", f"image={tmp_path / 'one16.png'}")
    assert result.returncode == 0 and result.stdout.startswith(f"{tmp_path / 'one16.png'}: ")


def test_11_a_second_sweep_into_the_same_directory_is_refused(tmp_path):
    sweep = tmp_path / "s"
    # Long enough (100 per-sample epochs a trial) that the first still runs when the second
    # starts, also on a loaded machine.
    args = [
        "-m",
        "hydra/sweeper=skopt",
        "optimizer.lr=interval(0.05, 0.5)",
        *TINY,
        "trainer.epochs=100",
        "trainer.batch_size=1",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweep.dir={sweep}",
    ]
    first = start_module("nnsweep.experiments.train", *args, log=tmp_path / "first.log")
    try:
        wait_for(
            lambda: (sweep / ".lock").exists() and (sweep / ".lock").read_text().strip() == str(first.pid),
            what="the first sweep's lock",
        )
        second = run_module("nnsweep.experiments.train", *args)
        assert second.returncode != 0
        assert f"is in use by process {first.pid}" in second.stderr and "Traceback" not in second.stderr
        assert first.wait(300) == 0  # the first sweep is not disturbed
    finally:
        if first.poll() is None:
            kill_minus_9(first)
    assert len(json.loads((sweep / "trials.json").read_text())["trials"]) == 2
