"""The parameter maths: curves, deadzone, slew, quantisation, and a run's registry."""

from __future__ import annotations

import itertools
import math

import pytest

from ganstudio.errors import UserError
from ganstudio.live.params import ParamSpec, Registry, apply_deadzone, registry_for, slew_step


def test_curves_hit_both_ends_are_monotone_and_exp_log_undo_each_other():
    grid = [i / 20 for i in range(21)]
    for curve in ("linear", "exp", "log"):
        p = ParamSpec("x", -2, 6, 0, curve=curve)
        vals = [p.from_norm(u) for u in grid]
        assert vals[0] == -2 and vals[-1] == pytest.approx(6, abs=1e-12)
        assert all(a < b for a, b in itertools.pairwise(vals))
        for v in (-2, -1.3, 0, 2.5, 6):
            assert p.from_norm(p.to_norm(v)) == pytest.approx(v, abs=1e-9)
    # known answers with K = 4: exp(0.5) = (e^2 - 1) / (e^4 - 1); log is its inverse
    exp, log = ParamSpec("e", 0, 1, 0, curve="exp"), ParamSpec("l", 0, 1, 0, curve="log")
    assert exp.from_norm(0.5) == pytest.approx(math.expm1(2) / math.expm1(4), rel=1e-12)
    assert log.from_norm(exp.from_norm(0.3)) == pytest.approx(0.3, abs=1e-12)
    assert exp.from_norm(0.5) < 0.5 < log.from_norm(0.5)  # exp: fine control near lo, log: near hi


def test_deadzone_snaps_to_rest_and_stays_continuous():
    p = ParamSpec("d", -1, 1, 0, deadzone=0.1)  # rest at u = 0.5
    assert p.from_norm(0.5) == 0 and p.from_norm(0.55) == 0 and p.from_norm(0.45) == 0
    assert p.from_norm(0.6) == pytest.approx(0, abs=1e-12)  # the edge: no jump
    assert p.from_norm(0.8) == pytest.approx(0.5)  # (0.8 - 0.6) / 0.4 of the upper half
    assert p.from_norm(1) == 1 and p.from_norm(0) == -1  # the ends still reach lo and hi
    assert p.from_value(0.05) == 0 and p.from_value(-0.1) == 0  # natural units too: -0.1 is u = 0.45
    assert apply_deadzone(0.3, 0.0, 0.1) == pytest.approx((0.3 - 0.1) / 0.9)  # rest at an end: one side
    assert apply_deadzone(0.7, 0.5, 0.0) == 0.7  # no deadzone: unchanged


def test_slew_is_a_time_constant_and_zero_jumps():
    v, dt = 0.0, 1 / 1000
    for _ in range(500):  # 0.5 s at 1 kHz with a 0.5 s time constant: 1 - 1/e of the way
        v = slew_step(v, 1.0, 0.5, dt)
    assert v == pytest.approx(1 - math.exp(-1), rel=1e-9)
    assert slew_step(0.2, 0.9, 0.0, 1 / 30) == 0.9
    for _ in range(3000):  # settles exactly, not forever 1e-300 away
        v = slew_step(v, 1.0, 0.05, 1 / 30)
    assert v == 1.0


def test_int_and_choice_parameters_quantise_and_parse_names():
    seed = ParamSpec("seed", 0, 100, 0, kind="int")
    assert seed.parse(7.6) == 8 and seed.parse("12") == 12 and seed.parse(1e9) == 100
    path = ParamSpec("path", 0, 2, 0, kind="choice", choices=("circle", "drift", "still"))
    assert path.parse("drift") == 1 and path.parse(2) == 2 and path.from_norm(0.6) == 1
    for bad in (float("nan"), float("inf"), "abc", None, [1], True):
        with pytest.raises((TypeError, ValueError)):
            seed.parse(bad)


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(lo=1, hi=1), "lo must be below hi"),
        (dict(default=9), "outside"),
        (dict(curve="cubic"), "curve must be one of"),
        (dict(slew=-1), "slew must be"),
        (dict(deadzone=0.7), "deadzone must be"),
        (dict(name="Bad Name"), "bad parameter name"),
        (dict(lo=float("nan")), "finite number"),
    ],
)
def test_bad_specs_are_refused_in_one_line(kw, msg):
    args = dict(name="x", lo=0, hi=1, default=0) | kw
    with pytest.raises(UserError, match=msg):
        ParamSpec(**args)


def test_registry_of_a_run_has_walk_directions_and_classes_with_aliases(live_run):
    import ganstudio

    pipe = ganstudio.load(live_run)
    reg = registry_for(pipe, {1: "Long Sleeves"}, 3, ("T-shirt/top", *map(str, range(1, 10))))
    assert reg.names("directions") == ["dir/0", "dir/1", "dir/2"]
    assert reg.names("classes") == [f"class/{i}" for i in range(10)]
    assert reg.resolve("dir/long-sleeves") == "dir/1" and reg.resolve("class/t-shirt-top") == "class/0"
    assert reg.resolve("class/3") == "class/3" and reg.resolve("nope") is None
    assert {"speed", "path", "seed", "offset", "glide", "truncation"} <= set(reg.names())
    with pytest.raises(UserError, match="registered twice"):
        Registry([ParamSpec("a", 0, 1, 0), ParamSpec("a", 0, 1, 0)])
    slower = reg.replace("truncation", slew=2.0)
    assert slower["truncation"].slew == 2.0 and reg["truncation"].slew != 2.0
