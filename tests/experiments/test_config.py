"""Every config group option composes and builds; conf/net files match nnsweep.nets.architectures."""

import subprocess
import sys
import typing
from dataclasses import fields

import numpy as np
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from nnsweep.experiments.build import (
    ConfigError,
    architecture_of,
    build_network,
    build_optimizer,
    build_schedule,
    check_trainer,
)
from nnsweep.experiments.cli import CONF_DIR
from nnsweep.experiments.config import OPTION_SCHEMAS, Config, register_configs
from nnsweep.nets.data.datasets import DataSplits
from nnsweep.nets.network import Network
from nnsweep.nets.train import LabelledData
from nnsweep.sweeps.search_space import build_search_space
from tests.experiments.conftest import REPO, compose_config, run_module

GROUPS = {g: sorted(p.stem for p in (CONF_DIR / g).glob("*.yaml")) for g in ("net", "optimizer", "schedule", "data")}
FAKE = DataSplits("fake", *(LabelledData(np.zeros((20, 784), np.float32), np.arange(20) % 10) for _ in range(3)))


def test_groups_have_the_promised_options():
    assert set(GROUPS["net"]) >= {
        "rashid",
        "nielsen",
        "mlp_128x2",
        "mlp_10x2",
        "mlp_512x2",
        "mlp_20x3",
        "lenet5",
        "mlp",
    }
    assert set(GROUPS["optimizer"]) == {"sgd", "momentum", "nesterov", "rmsprop", "adam"}
    assert set(GROUPS["schedule"]) == {"constant", "step", "exponential", "cosine", "plateau"}
    assert set(GROUPS["data"]) == {"mnist5k", "mnist", "fashion", "csv", "idx"}


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_option_composes_and_builds(group, option):
    cfg = compose_config([f"{group}={option}"])
    assert cfg[group].name == option if group in ("optimizer", "schedule", "data") else True
    check_trainer(cfg)
    build_network(cfg, FAKE, np.random.default_rng(0))
    build_optimizer(cfg, 20)
    build_schedule(cfg)


LENET5_PARAMS = (25 * 6 + 6) + (150 * 16 + 16) + (256 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
# Every conf/net preset: dense layer sizes, hidden activation, loss, biases, parameter count.
NETS = {
    "rashid": ([100, 10], "sigmoid", "quadratic", False, 784 * 100 + 100 * 10),  # Rashid's book
    "nielsen": ([30, 10], "sigmoid", "quadratic", True, 784 * 30 + 30 + 30 * 10 + 10),  # Nielsen, network.py
    "mlp": ([100, 10], "sigmoid", "softmax_cross_entropy", True, 784 * 100 + 100 + 100 * 10 + 10),
    "mlp_128x2": (
        [128, 128, 10],
        "relu",
        "softmax_cross_entropy",
        True,
        784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10,
    ),
    "mlp_10x2": ([10, 10, 10], "relu", "softmax_cross_entropy", True, 784 * 10 + 10 + 10 * 10 + 10 + 10 * 10 + 10),
    "mlp_512x2": (
        [512, 512, 10],
        "relu",
        "softmax_cross_entropy",
        True,
        784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10,
    ),
    "mlp_20x3": (
        [20, 20, 20, 10],
        "relu",
        "softmax_cross_entropy",
        True,
        784 * 20 + 20 + 2 * (20 * 20 + 20) + 20 * 10 + 10,
    ),
    "lenet5": ([120, 84, 10], "sigmoid", "softmax_cross_entropy", True, LENET5_PARAMS),  # LeCun et al. 1998, on 28x28
    # net=cnn's defaults: conv 32@3x3 same, pool, conv 64@3x3 same, pool, 3136-128-10
    "cnn": (
        [128, 10],
        "relu",
        "softmax_cross_entropy",
        True,
        (9 * 32 + 32) + (9 * 32 * 64 + 64) + (3136 * 128 + 128) + (128 * 10 + 10),
    ),
}


def test_every_conf_net_is_in_the_table():
    assert set(NETS) == set(GROUPS["net"])


@pytest.mark.parametrize("name", NETS)
def test_every_conf_net_builds_its_textbook_network_and_predicts(name):
    units, activation, loss, bias, n_params = NETS[name]
    description = architecture_of(compose_config([f"net={name}"]).net)
    dense = [layer for layer in description["layers"] if layer["type"] == "dense"]
    assert [layer["units"] for layer in dense] == units and description["loss"] == loss
    assert activation in {layer["type"] for layer in description["layers"]}
    assert all(layer.get("bias", True) == bias for layer in dense)
    net = Network(description, np.random.default_rng(0))
    assert net.n_params == n_params
    x = np.random.default_rng(0).random((7, 784), dtype=np.float32)
    probs = net.predict_proba(x)
    assert probs.shape == (7, 10) and probs.dtype == np.float32 and np.all(np.isfinite(probs))
    assert net.predict(x[0]).shape == (1,) and net.predict(x.reshape(7, 28, 28)).shape == (7,)
    assert net.architecture() == Network(net.architecture(), np.random.default_rng(1)).architecture()


def test_named_nets_are_defined_once_in_conf_not_also_in_code():
    """nnsweep.nets.architectures keeps the builders (mlp, cnn, lenet5) that take plain arguments; a named
    preset such as rashid or nielsen is a conf/net file and nothing else."""
    import nnsweep.nets.architectures as architectures

    assert sorted(name for name in GROUPS["net"] if hasattr(architectures, name)) == ["cnn", "lenet5", "mlp"]
    assert not hasattr(architectures, "ARCHITECTURES") and not hasattr(architectures, "get_architecture")


def test_nielsen_draws_weights_and_biases_from_the_standard_normal():
    dense = [
        layer for layer in architecture_of(compose_config(["net=nielsen"]).net)["layers"] if layer["type"] == "dense"
    ]
    assert all(layer["init"] == "standard_normal" and layer["bias_init"] == "standard_normal" for layer in dense)


def test_generic_mlp_is_overridable():
    cfg = compose_config(["net=mlp", "net.hidden=[256,128]", "net.activation=relu"])
    d = architecture_of(cfg.net)
    assert [layer["units"] for layer in d["layers"] if layer["type"] == "dense"] == [256, 128, 10]
    assert {layer["type"] for layer in d["layers"]} == {"dense", "relu"}


@pytest.mark.parametrize(
    "preset,expect",
    [
        (
            "rashid_exp1",
            {
                "optimizer.lr": 0.3,
                "trainer.batch_size": 1,
                "trainer.epochs": 1,
                "data.scaling": "rashid",
                "data.targets": "rashid",
                "net.loss": "quadratic",
                "net.hidden": [100],
            },
        ),
        (
            "nielsen_ch1",
            {
                "optimizer.lr": 3.0,
                "trainer.batch_size": 10,
                "trainer.epochs": 30,
                "net.loss": "quadratic",
                "net.init": "standard_normal",
                "net.hidden": [30],
            },
        ),
        (
            "nielsen_ch3",
            {"optimizer.lr": 0.5, "optimizer.l2": 5.0, "net.loss": "cross_entropy", "net.init": "normal_fan_in"},
        ),
        (
            "lenet5_adam",
            {"net.arch": "lenet5", "optimizer.name": "adam", "trainer.augment": True, "trainer.epochs": 20},
        ),
        ("mlp_table", {"optimizer.name": "adam", "net.hidden": [128, 128]}),
        (
            "fashion_mlp",
            {"data.name": "fashion", "net.hidden": [512, 256], "net.dropout": 0.3, "schedule.name": "cosine"},
        ),
        (
            "fashion_cnn",
            {
                "data.name": "fashion",
                "net.arch": "cnn",
                "net.channels": [32, 32, 64, 64],
                "net.pool": ["none", "max", "none", "max"],
                "net.conv_dropout": [0.0, 0.25, 0.0, 0.25],
                "net.batchnorm": True,
                "net.dense": [256],
                "net.dropout": 0.5,
                "trainer.augment": False,
                "trainer.epochs": 15,
            },
        ),
        (
            "mnist_cnn",
            {
                "data.name": "mnist5k",
                "net.arch": "cnn",
                "net.channels": [32, 64],
                "trainer.augment": True,
                "trainer.epochs": 40,
            },
        ),
    ],
)
def test_presets_reproduce_the_classic_setups(preset, expect):
    cfg = compose_config([f"experiment={preset}"])
    for key, value in expect.items():
        got = OmegaConf.select(cfg, key)
        assert (list(got) if OmegaConf.is_list(got) else got) == value, key


def test_a_preset_is_chosen_without_a_plus_and_the_old_plus_form_says_so():
    """experiment= is a group of the defaults list, like search=: no "+" to remember. The "+" of
    earlier versions gets one line that says what to write."""
    cfg = compose_config(["experiment=mnist_cnn"])
    assert cfg.net.arch == "cnn" and cfg.trainer.epochs == 40
    assert compose_config([]).trainer.epochs == 10  # no preset unless one is chosen
    result = run_module("nnsweep.experiments.train", "+experiment=mnist_cnn", "trainer.epochs=1")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "+experiment=mnist_cnn: write experiment=mnist_cnn" in lines[0]


@pytest.mark.parametrize(
    "overrides,match",
    [
        (["optimizer.lr=-1"], "optimizer.lr must be a positive"),
        (["trainer.epochs=0"], "trainer.epochs must be at least 1"),
        (["trainer.batch_size=0"], "batch_size must be at least 1"),
    ],
)
def test_value_checks(overrides, match):
    with pytest.raises(ConfigError, match=match):
        check_trainer(compose_config(overrides))


def test_flip_without_augment_is_refused_not_silently_ignored(tmp_path):
    from nnsweep.experiments.build import build_augmenter

    message = "trainer.flip=true mirrors images only with trainer.augment=true"
    with pytest.raises(ConfigError, match=message):
        check_trainer(compose_config(["trainer.flip=true"]))
    # Before anything trains: a grid is refused whole, not run job by job into failures.
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "trainer.flip=true",
        "optimizer.lr=0.1,0.2",
        "trainer.progress=false",
        f"hydra.sweep.dir={tmp_path / 'grid'}",
    )
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not list(tmp_path.glob("grid/*/summary.json"))
    only_flip = build_augmenter(
        compose_config(
            ["trainer.augment=true", "trainer.flip=true", "trainer.rotation=0", "trainer.zoom=0", "trainer.shift=0"]
        )
    )
    assert (only_flip.flip, only_flip.rotation, only_flip.zoom, only_flip.shift) == (True, 0, 0, 0)
    assert build_augmenter(compose_config(["trainer.augment=true"])).flip is False


def test_layer_sizes_must_fit_the_data():
    cfg = compose_config(["net=mlp", "net.hidden=[0]"])
    with pytest.raises(ConfigError, match="hidden layer sizes"):
        build_network(cfg, FAKE, np.random.default_rng(0))
    small = DataSplits("tiny", *(LabelledData(np.zeros((5, 100), np.float32), np.arange(5)) for _ in range(3)))
    with pytest.raises(ConfigError, match="takes 784 inputs but data tiny has 100"):
        build_network(compose_config([]), small, np.random.default_rng(0))


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "code",
    [
        "from tests.experiments.conftest import compose_config; "
        "print(compose_config(['optimizer=adam']).optimizer.name)",
        "from nnsweep.experiments.cli import precheck; precheck('config', ['optimizer=adam']); print('adam')",
    ],
    ids=["conftest.compose_config", "cli.precheck"],
)
def test_composing_registers_the_schema_itself(code):
    """No import order is needed: whoever composes a config registers the schema first."""
    result = _fresh_python(code)
    assert result.returncode == 0 and result.stdout.strip() == "adam", result.stderr


def test_register_configs_is_idempotent():
    register_configs()
    register_configs()
    assert compose_config(["optimizer=momentum"]).optimizer.momentum == 0.9


# Each option's keys, and only those: a key of another option has no place in it.
OPTION_KEYS = {
    "optimizer": {
        "sgd": {"name", "lr", "l2", "weight_decay"},
        "momentum": {"name", "lr", "l2", "weight_decay", "momentum"},
        "nesterov": {"name", "lr", "l2", "weight_decay", "momentum"},
        "rmsprop": {"name", "lr", "l2", "weight_decay", "rho", "eps"},
        "adam": {"name", "lr", "l2", "weight_decay", "beta1", "beta2", "eps"},
    },
    "schedule": {
        "constant": {"name"},
        "step": {"name", "step_size", "gamma"},
        "exponential": {"name", "gamma"},
        "cosine": {"name", "total_epochs", "min_lr"},
        "plateau": {"name", "patience", "factor", "min_fraction"},
    },
    "net": {
        "mlp": {"arch", "hidden", "activation", "loss", "init", "bias", "bias_init", "dropout", "init_gain"},
        "lenet5": {"arch", "activation", "pool", "connections", "dense", "loss"},
    },
}


@pytest.mark.parametrize("group,option", [(g, o) for g in OPTION_KEYS for o in OPTION_KEYS[g]])
def test_each_option_has_only_its_own_keys(group, option):
    node = compose_config([f"{group}={option}"])[group]
    assert set(node) == OPTION_KEYS[group][option]
    assert node["arch" if group == "net" else "name"] == option


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["optimizer=sgd", "optimizer.momentum=0.5"], "momentum"),
        (["optimizer=momentum", "optimizer.beta1=0.5"], "beta1"),
        (["optimizer=adam", "optimizer.rho=0.5"], "rho"),
        (["optimizer=rmsprop", "optimizer.momentum=0.5"], "momentum"),
        (["schedule=constant", "schedule.gamma=0.5"], "gamma"),
        (["schedule=step", "schedule.min_lr=0.01"], "min_lr"),
        (["schedule=cosine", "schedule.patience=3"], "patience"),
        (["net=lenet5", "net.hidden=[10]"], "hidden"),
        (["net=rashid", "net.pool=max"], "pool"),
        (["net=mlp", "net.dense=[10]"], "dense"),
    ],
)
def test_a_key_of_another_option_fails_at_compose_time(overrides, key):
    with pytest.raises(ConfigCompositionException) as caught:
        compose_config(overrides)
    assert f"Key '{key}' not in" in str(caught.value.__cause__)


@pytest.mark.parametrize(
    "override",
    [
        "net.activation=swish",
        "net.loss=hinge",
        "net.init=uniform",
        "net.bias_init=ones",
        "trainer.dtype=float16",
        "data.scaling=minmax",
        "data.targets=soft",
        "data.label_column=middle",
        "data.name=cifar10",
        "objective=accuracy",
    ],
)
def test_a_value_outside_a_closed_set_fails_at_compose_time(override):
    with pytest.raises(ConfigCompositionException) as caught:
        compose_config([override])
    assert "Invalid value" in str(caught.value.__cause__)


@pytest.mark.parametrize("override", ["net.pool=average", "net.connections=sparse", "net.loss=quadratic"])
def test_a_lenet5_value_outside_its_closed_set_fails_at_compose_time(override):
    with pytest.raises(ConfigCompositionException):
        compose_config(["net=lenet5", override])


def test_the_cli_names_the_foreign_key_in_one_line(tmp_path):
    result = run_module(
        "nnsweep.experiments.train", "optimizer=sgd", "optimizer.momentum=0.5", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Key 'momentum' not in 'SGDConfig'" in lines[0], result.stderr


BAD_VALUES = [
    (["optimizer.lr=nan"], "optimizer.lr"),
    (["optimizer.lr=inf"], "optimizer.lr"),
    (["optimizer.lr=0"], "optimizer.lr"),
    (["optimizer.l2=nan"], "optimizer.l2"),
    (["optimizer.l2=inf"], "optimizer.l2"),
    (["optimizer.l2=-1"], "optimizer.l2"),
    (["optimizer.weight_decay=nan"], "optimizer.weight_decay"),
    (["optimizer.weight_decay=inf"], "optimizer.weight_decay"),
    (["optimizer.weight_decay=-0.1"], "optimizer.weight_decay"),
    (["optimizer=momentum", "optimizer.momentum=1.0"], "optimizer.momentum"),
    (["optimizer=nesterov", "optimizer.momentum=-0.1"], "optimizer.momentum"),
    (["optimizer=rmsprop", "optimizer.rho=-0.1"], "optimizer.rho"),
    (["optimizer=rmsprop", "optimizer.rho=1.0"], "optimizer.rho"),
    (["optimizer=rmsprop", "optimizer.rho=inf"], "optimizer.rho"),
    (["optimizer=rmsprop", "optimizer.eps=0"], "optimizer.eps"),
    (["optimizer=rmsprop", "optimizer.eps=-1"], "optimizer.eps"),
    (["optimizer=rmsprop", "optimizer.eps=inf"], "optimizer.eps"),
    (["optimizer=adam", "optimizer.eps=nan"], "optimizer.eps"),
    (["optimizer=adam", "optimizer.beta1=1.0"], "optimizer.beta1"),
    (["optimizer=adam", "optimizer.beta2=-0.5"], "optimizer.beta2"),
    (["optimizer=adam", "optimizer.beta2=nan"], "optimizer.beta2"),
    (["schedule=step", "schedule.step_size=0"], "schedule.step_size"),
    (["schedule=step", "schedule.gamma=0"], "schedule.gamma"),
    (["schedule=step", "schedule.gamma=1.5"], "schedule.gamma"),
    (["schedule=exponential", "schedule.gamma=nan"], "schedule.gamma"),
    (["schedule=cosine", "schedule.total_epochs=0"], "schedule.total_epochs"),
    (["schedule=cosine", "schedule.min_lr=nan"], "schedule.min_lr"),
    (["schedule=cosine", "schedule.min_lr=inf"], "schedule.min_lr"),
    (["schedule=cosine", "schedule.min_lr=-1"], "schedule.min_lr"),
    (["schedule=plateau", "schedule.patience=0"], "schedule.patience"),
    (["schedule=plateau", "schedule.factor=1.0"], "schedule.factor"),
    (["schedule=plateau", "schedule.factor=0"], "schedule.factor"),
    (["schedule=plateau", "schedule.min_fraction=0"], "schedule.min_fraction"),
    (["schedule=plateau", "schedule.min_fraction=1.5"], "schedule.min_fraction"),
    (["net=mlp", "net.hidden=[0]"], "net.hidden"),
    (["net=mlp", "net.hidden=[10,-1]"], "net.hidden"),
    (["net=mlp", "net.dropout=1.0"], "net.dropout"),
    (["net=mlp", "net.dropout=nan"], "net.dropout"),
    (["net=lenet5", "net.dense=[120,0]"], "net.dense"),
    (["data.val_size=-5"], "data.val_size"),
    (["data.split_seed=-1"], "data.split_seed"),
    (["data.test_size=0"], "data.test_size"),
    (["data.train_limit=0"], "data.train_limit"),
    (["trainer.seed=-1"], "trainer.seed"),
    (["trainer.epochs=0"], "trainer.epochs"),
    (["trainer.batch_size=0"], "trainer.batch_size"),
    (["trainer.patience=0"], "trainer.patience"),
    (["trainer.rotation=nan"], "trainer.rotation"),
    (["trainer.rotation=-1"], "trainer.rotation"),
    (["trainer.rotation=inf"], "trainer.rotation"),
    (["trainer.zoom=1.0"], "trainer.zoom"),
    (["trainer.zoom=-0.1"], "trainer.zoom"),
    (["trainer.shift=1"], "trainer.shift"),
    (["trainer.clip_grad_norm=0"], "trainer.clip_grad_norm"),
    (["trainer.clip_grad_norm=inf"], "trainer.clip_grad_norm"),
]


@pytest.mark.parametrize("overrides,key", BAD_VALUES, ids=[" ".join(o) for o, _ in BAD_VALUES])
def test_a_value_out_of_range_is_one_line_naming_key_value_and_range(overrides, key):
    with pytest.raises(ConfigError) as caught:
        check_trainer(compose_config(overrides))
    message = str(caught.value)
    value = overrides[-1].split("=", 1)[1]
    assert message.startswith(f"{key} must be ") and "\n" not in message, message
    norm = lambda text: text.replace(" ", "").replace(".0", "")  # noqa: E731  (1.0 and 1 are the same value here)
    assert norm(f"got {value}") in norm(message), message


def test_no_validation_set_is_refused_unless_the_test_set_can_take_its_place():
    with pytest.raises(ConfigError, match=r"data.val_size=0 scores the test set .* data=mnist5k needs a validation"):
        check_trainer(compose_config(["data.val_size=0"]))
    with pytest.raises(ConfigError, match=r"data.val_size must be at least 0 or null, got -1"):
        check_trainer(compose_config(["data.val_size=-1"]))
    check_trainer(compose_config(["data=mnist", "data.val_size=0"]))  # Rashid's protocol: all 60,000 train


@pytest.mark.parametrize(
    "overrides,match",
    [
        (["optimizer=sgd", "+optimizer.momentum=0.5"], "optimizer.momentum does not apply to optimizer=sgd"),
        (["optimizer=sgd", "optimizer.name=adam"], "optimizer.name=adam does not match"),
        (["net=lenet5", "net.arch=mlp"], "net.arch=mlp does not match"),
    ],
)
def test_keys_and_names_must_belong_to_the_chosen_option(overrides, match):
    with pytest.raises(ConfigError, match=match):
        check_trainer(compose_config(overrides))


def _numeric(annotation) -> bool:
    """int or float, also inside Optional[...] or List[...] (not bool, not an Enum)."""
    if typing.get_origin(annotation) in (typing.Union, list):
        return any(_numeric(a) for a in typing.get_args(annotation))
    return annotation in (int, float)


def _schemas():
    hints = typing.get_type_hints(Config)
    fixed = [hints[f.name] for f in fields(Config) if hasattr(hints[f.name], "__dataclass_fields__")]
    return fixed + [schema for _, options in OPTION_SCHEMAS.values() for schema in options.values()]


@pytest.mark.parametrize("schema", _schemas(), ids=lambda s: s.__name__)
def test_every_numeric_key_has_a_range(schema):
    hints = typing.get_type_hints(schema)
    unranged = [f.name for f in fields(schema) if _numeric(hints[f.name]) and "range" not in f.metadata]
    assert not unranged, f"{schema.__name__}: {unranged}"


@pytest.mark.parametrize("preset", sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")))
def test_every_preset_is_in_range(preset):
    check_trainer(compose_config([f"experiment={preset}"]))


@pytest.mark.parametrize(
    "override,key",
    [
        ("trainer.seed=-1", "trainer.seed"),
        ("trainer.rotation=nan", "trainer.rotation"),
        ("data.val_size=-1", "data.val_size"),
    ],
)
def test_the_cli_reports_a_bad_value_in_one_line(tmp_path, override, key):
    result = run_module("nnsweep.experiments.train", override, "trainer.augment=true", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nnsweep: error: {key} must be "), result.stderr


SEARCHES = sorted(p.stem for p in (CONF_DIR / "search").glob("*.yaml"))


def test_the_search_group_holds_a_bayesian_and_a_random_search():
    assert {"mlp_lr_l2", "mlp_lr_l2_random"} <= set(SEARCHES)


@pytest.mark.parametrize("search,method", [("mlp_lr_l2", "gp"), ("mlp_lr_l2_random", "random")])
def test_a_named_search_composes_to_the_skopt_sweeper_and_its_space(search, method):
    cfg = compose_config([f"search={search}"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.nnsweep_sweeper.sweeper.SkoptSweeper" and sweeper.method == method
    assert sweeper.direction == "maximize" and cfg.objective == "best_val_acc" and sweeper.n_trials >= 10
    assert cfg.net.arch == "mlp" and cfg.sweep == f"search_{search}"
    space = build_search_space(
        OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in sweeper.params.items()])
    )
    dims = {name: d.to_skopt() for name, d in zip(space.names, space.dimensions)}
    assert set(dims) == {"optimizer.lr", "optimizer.l2", "net.hidden.0"}
    assert dims["optimizer.lr"].prior == "log-uniform" and dims["optimizer.lr"].low > 0
    assert dims["optimizer.l2"].low == 0 and type(dims["net.hidden.0"]).__name__ == "Integer"
    trial = compose_config([f"search={search}", "optimizer.lr=0.5", "optimizer.l2=2.5", "net.hidden.0=64"])
    check_trainer(trial)  # one trial's overrides give a config that can run
    assert list(trial.net.hidden) == [64]


def test_without_a_named_search_the_sweeper_is_nnsweeps_grid():
    assert compose_config([], return_hydra_config=True).hydra.sweeper._target_.endswith(
        "nnsweep_sweeper.sweeper.GridSweeper"
    )


@pytest.mark.parametrize("search", SEARCHES)
def test_each_search_says_what_it_searches_and_how_to_run_it(search):
    text = (CONF_DIR / "search" / f"{search}.yaml").read_text()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments[0] == "# @package _global_" and len(comments) >= 3
    assert any(f"nnsweep train -m search={search}" in line for line in comments)
