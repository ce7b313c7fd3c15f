"""Attacks on the generation methods' options: hostile values, names that reach for a method's internals, inputs
handed to a method that must not take them, and a δ that would make a DP run's ε meaningless. Each is refused with
one line naming the option (never a traceback), before any model is loaded or anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.cli import main
from appliance.errors import BadInput, UserError
from appliance.generate import METHODS, get_method
from appliance.generate.common import read_seed_file
from appliance.service.methods import build_method
from appliance.spec import load_task

TASKS = Path(__file__).resolve().parents[2] / "tasks"


@pytest.fixture(scope="module")
def sst2():
    return load_task(TASKS / "sst2_sentiment.toml")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**100, -1, 0, True, "1e9", "4 ",
                                   [4], {"n": 4}, "4; rm -rf /", "\x1b]0;owned\x07"])
def test_hostile_round_counts_are_refused_on_one_line(value) -> None:
    if value == "4 ":  # a form's stray space is fine
        assert get_method("progen", {"rounds": value}).rounds == 4
        return
    with pytest.raises(BadInput) as e:
        get_method("progen", {"rounds": value})
    msg = str(e.value)
    assert msg.startswith("method progen: option rounds must be") and "\n" not in msg and "\x1b" not in msg


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.5, 99.0, "hot"])
def test_hostile_decoding_values_are_refused_for_every_method(value) -> None:
    for name in METHODS.names():
        with pytest.raises(BadInput, match=f"method {name}: option temperature must be"):
            get_method(name, {"temperature": value})


@pytest.mark.parametrize("option", ["name", "run", "records", "capabilities", "options", "params", "check",
                                    "__class__", "__dict__", "settings"])
def test_options_cannot_reach_a_methods_internals(option) -> None:
    with pytest.raises(BadInput, match=f"method zerogen takes no option {option}"):
        get_method("zerogen", {option: "x"})
    assert get_method("zerogen").name == "zerogen"


def test_seeds_and_anonymizer_only_go_to_methods_that_declare_them(sst2) -> None:
    seeds = read_seed_file(TASKS / "seeds" / "sst2_sentiment.jsonl")
    with pytest.raises(BadInput, match="takes no option seeds"):  # a method that must never see private seeds
        get_method("zerogen", {"seeds": seeds})
    with pytest.raises(BadInput, match="takes no option redact"):  # Aug-PE never shows seeds: no anonymizer hook
        get_method("augpe", {"seeds": seeds, "redact": lambda t: t})


def test_a_large_delta_cannot_buy_a_small_epsilon(sst2) -> None:
    """δ = 1 makes the accountant report ε = 0: such a run would pass any budget and charge nothing."""
    seeds = read_seed_file(TASKS / "seeds" / "sst2_sentiment.jsonl")
    for delta in (1.0, 0.5, 1 / len(seeds)):
        with pytest.raises(UserError, match="δ = .* must be below 1/N"):
            build_method(None, "augpe", sst2, {"seeds": seeds, "delta": delta})
    with pytest.raises(BadInput, match="option delta must be at most 1"):
        get_method("augpe", {"seeds": seeds, "delta": 2.0})
    _, report = build_method(None, "augpe", sst2, {"seeds": seeds, "delta": 1e-4})
    assert report["delta"] == 1e-4 and report["epsilon"] > 0


@pytest.mark.parametrize("argv", [("--temperature", "nan"), ("--top-p", "inf"), ("--top-p", "1.5"),
                                  ("--rounds", "0"), ("--noise-multiplier", "2"), ("--method", "progen", "--k", "3"),
                                  ("--rounds", "1e9")])
def test_cli_refuses_bad_method_options_before_the_passphrase(argv, tmp_path: Path, capsys) -> None:
    task = str(TASKS / "sst2_sentiment.toml")
    args = ["generate", "--home", str(tmp_path / "home"), "--task", task, *argv]
    if "--method" not in argv:
        args += ["--method", "progen"]
    rc = main(args) if argv[-1] != "1e9" else None
    if rc is None:  # argparse's own refusal of a non-integer
        with pytest.raises(SystemExit) as e:
            main(args)
        rc = e.value.code
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) <= 3, err
    assert not (tmp_path / "home").exists()  # nothing written, no passphrase asked
