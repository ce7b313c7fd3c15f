"""Adding a method is its module and its test: a method registered here, with a declared option, is found by the
registry, by `appliance generate --help` and on the TUI's Generate screen, and runs through the base's loop."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from textual.widgets import Input, Select

from appliance.cli import build_parser, main
from appliance.errors import BadInput, UserError
from appliance.generate import METHODS, Method, Option, get_method
from appliance.generate.base import Run
from appliance.generate.records import GeneratedRecord
from appliance.spec import load_task
from tests.methods.method_helpers import TASKS, collect
from tests.tui.conftest import assembled_models, drive, fast_kdf, home  # noqa: F401  (fixtures of the TUI tests)


class Echo(Method):
    """Writes the same sentence ``repeat`` times per label; needs no model."""

    name = "echo_test"
    options = (Option("echo_repeat", int, 2, "sentences per label", minimum=1, maximum=5),)

    def records(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        for lab in run.task.label_ids:
            batch = [GeneratedRecord(text=f"echo {i}", label=lab, method=self.name) for i in range(self.echo_repeat)]
            yield from run.emit(batch[: run.need[lab]])


@pytest.fixture
def echo() -> Iterator[type[Method]]:
    METHODS.register(Echo)
    yield Echo
    METHODS.unregister(Echo.name)


def test_registered_method_is_found_and_its_options_checked(echo) -> None:
    assert "echo_test" in METHODS.names()
    sst2 = load_task(TASKS / "sst2_sentiment.toml")
    recs = collect(get_method("echo_test", {"echo_repeat": 3}), None, sst2, 4)
    assert [r.label for r in recs] == ["positive", "positive", "negative", "negative"]
    assert get_method("echo_test").settings() == {"temperature": None, "top_p": None, "echo_repeat": 2}
    for bad, why in [({"echo_repeat": 9}, "at most 5"), ({"echo_repeat": "two"}, "must be an integer"),
                     ({"echo_repeat": True}, "must be an integer"), ({"rounds": 2}, "takes no option rounds"),
                     ({"seeds": [{"text": "x", "label": "positive"}]}, "takes no option seeds")]:
        with pytest.raises(BadInput, match=why):
            get_method("echo_test", bad)


def test_registered_method_and_option_are_in_generate_help(echo, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--echo-repeat N echo_test: sentences per label (default 2)" in out
    for flag in ("--temperature", "--top-p", "--rounds", "--epsilon-budget", "--noise-multiplier"):  # today's flags
        assert flag in out
    args = build_parser().parse_args(["generate", "--task", "t.toml", "--method", "echo_test", "--echo-repeat", "3"])
    assert (args.method, args.echo_repeat) == ("echo_test", 3)


def test_option_of_another_method_is_refused_before_the_passphrase(echo, capsys, tmp_path: Path) -> None:
    task = str(TASKS / "sst2_sentiment.toml")
    rc = main(["generate", "--home", str(tmp_path), "--task", task, "--method", "zerogen", "--echo-repeat", "3"])
    err = capsys.readouterr().err
    assert rc == 2 and "method zerogen takes no option echo_repeat" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_registered_method_options_on_the_generate_screen(echo, home: Path, monkeypatch) -> None:  # noqa: F811
    from appliance.service import generation

    asked = []

    def run_generation(session, home, req, *a, **kw):  # stands in for the job: the request is what matters here
        asked.append(req)
        raise UserError("stopped by the test")

    monkeypatch.setattr(generation, "run_generation", run_generation)

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f5")
        assert d.q("#gen-opt-max_rounds", Input).border_title == "max_rounds"  # zerogen's, the default method
        d.q("#gen-method", Select).value = "echo_test"  # refused by Select were it not among the choices
        await d.settle()
        field = d.q("#gen-opt-echo_repeat", Input)
        assert field.border_title == "echo_repeat" and field.placeholder == "default 2"
        assert not d.app.screen.query("#gen-opt-max_rounds")
        d.q("#gen-task", Select).value = "example:sst2_sentiment"
        field.value = "9"  # out of the declared bounds: refused with the option's name, nothing started
        await d.click("#start")
        await d.settle()
        assert any("option echo_repeat must be at most 5" in e for e in d.errors()), d.notes
        assert d.app.screen.job_id is None and not d.app.screen.job_running and not asked
        field.value, d.q("#gen-opt-temperature", Input).value = "3", "0.5"
        await d.click("#start")
        await d.settle()
        assert [(r.method, r.method_options, r.temperature, r.top_p) for r in asked] == [
            ("echo_test", {"echo_repeat": 3}, 0.5, None)]

    drive(home, scenario)
