"""Hydra sweep grammar -> skopt dimensions."""

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from skopt.space import Categorical, Integer, Real

from nnsweep.sweeps.search_space import SearchSpaceError, build_search_space, format_value


def space(*overrides):
    return build_search_space(OverridesParser.create().parse_overrides(list(overrides)))


def test_each_form_becomes_its_dimension():
    s = space(
        "a=tag(log, interval(1e-3, 3))",
        "b=interval(0, 1)",
        "c=int(interval(10, 200))",
        "d=range(5, 11)",
        "e=range(8, 33, 8)",
        "f=choice(sgd, adam)",
        "g=x,y",
        "h=choice([16],[64,32])",
        "fixed=7",
    )
    dims = {name: d.to_skopt() for name, d in zip(s.names, s.dimensions)}
    assert isinstance(dims["a"], Real) and dims["a"].prior == "log-uniform" and dims["a"].bounds == (1e-3, 3.0)
    assert isinstance(dims["b"], Real) and dims["b"].prior == "uniform"
    assert isinstance(dims["c"], Integer) and dims["c"].bounds == (10, 200)
    assert isinstance(dims["d"], Integer) and dims["d"].bounds == (5, 10)  # Hydra's stop is exclusive
    assert isinstance(dims["e"], Categorical) and list(dims["e"].categories) == [8, 16, 24, 32]
    assert list(dims["f"].categories) == ["sgd", "adam"] and list(dims["g"].categories) == ["x", "y"]
    assert list(dims["h"].categories) == ["[16]", "[64,32]"]
    assert s.fixed == ["fixed=7"]
    assert s.overrides([0.01, 0.5, 20, 6, 16, "adam", "x", "[16]"])[-2:] == ["g=x", "h=[16]"]


def test_command_line_replaces_params_with_the_same_key():
    s = space("a=interval(0, 1)", "a=interval(2, 3)")
    assert s.dimensions[0].to_skopt().bounds == (2.0, 3.0)


def test_numpy_scalars_are_written_with_str():
    import numpy as np

    assert format_value(np.float64(1e-05)) == "1e-05" and format_value(np.int64(3)) == "3"
    assert format_value(np.str_("adam")) == "adam"


@pytest.mark.parametrize(
    "override,match",
    [
        ("a=interval(3, 1)", "low 3.0 must be below high 1.0"),
        ("a=tag(log, interval(0, 1))", "log interval needs low > 0"),
        ("a=range(5, 5)", "is empty"),
    ],
)
def test_bad_spaces(override, match):
    with pytest.raises(SearchSpaceError, match=match):
        space(override)
    with pytest.raises(SearchSpaceError, match="nothing to search"):
        space("a=1")
