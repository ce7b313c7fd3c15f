"""Label filters find planted mislabelled records, the evaluation scores task models without and with a filter, and
the label-leak measure and the spec check's prompt warnings see label phrases as whole words, whatever their case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.quality.filter_data import planted_set

from appliance.errors import BadInput
from appliance.quality.evaluate import evaluate_on_real
from appliance.quality.labelfilters import LABEL_FILTERS, FilterData, label_filter_names, run_label_filter
from appliance.quality.labelleak import label_leak
from appliance.spec import load_task, parse_task
from appliance.spec.leak import prompt_warnings

TASKS = Path(__file__).resolve().parents[2] / "tasks"
CLASSES = ["positive", "negative"]


def test_the_shipped_label_filters_in_listing_order() -> None:
    assert label_filter_names() == ["none", "cleanlab", "cleanlab_embedding", "judge"]


def test_an_unknown_label_filter_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(BadInput) as e:
        LABEL_FILTERS.get("cleanlabb")
    assert str(e.value) == "unknown label filter: cleanlabb (known: cleanlab, cleanlab_embedding, judge, none)"


def test_cleanlab_removes_the_planted_mislabelled_records() -> None:
    texts, labels, flipped = planted_set(200)
    out = run_label_filter("cleanlab", FilterData(texts, labels, CLASSES))
    assert set(out.removed) == set(flipped)  # confident learning finds every planted flip and nothing else
    for i in flipped:
        assert out.removed[i] == f"label issue (likely {'negative' if labels[i] == 'positive' else 'positive'})"
    s = out.summary()
    assert s["removed"] == len(out.removed) and sum(s["removed_by_label"].values()) == s["removed"]
    assert s["kept"] == 200 - s["removed"] and out.kept == [i for i in range(200) if i not in out.removed]


def test_cleanlab_on_embeddings_uses_the_vectors_it_is_given() -> None:
    texts, labels, flipped = planted_set()
    rng = np.random.default_rng(0)
    truth = np.array([0 if i % 2 == 0 else 1 for i in range(len(texts))])  # the labels before the flips
    emb = rng.normal(size=(len(texts), 8)) * 0.3 + np.eye(8)[truth] * 2.0
    out = run_label_filter("cleanlab_embedding", FilterData(texts, labels, CLASSES, embeddings=emb))
    assert set(out.removed) == set(flipped)


def test_a_label_with_one_record_is_left_alone_not_an_error() -> None:
    out = run_label_filter("cleanlab", FilterData(["good", "fine", "nice", "bad"], ["positive"] * 3 + ["negative"], CLASSES))
    assert out.removed == {}


def test_judge_removes_the_records_the_calibrated_judge_gives_to_another_label() -> None:
    data = FilterData(["a", "b", "c"], ["positive", "negative", "positive"], CLASSES,
                      judge_margins=[1.5, -0.2, 0.0], judge_predicted=["positive", "positive", "negative"])
    assert run_label_filter("judge", data).removed == {1: "judge prefers positive", 2: "judge prefers negative"}


def test_a_filter_is_not_run_without_what_it_declared_it_needs() -> None:
    with pytest.raises(ValueError, match="needs judge"):
        run_label_filter("judge", FilterData(["a"], ["positive"], CLASSES))


def test_none_keeps_everything() -> None:
    texts, labels, _ = planted_set()
    assert run_label_filter("none", FilterData(texts, labels, CLASSES)).removed == {}


def test_evaluation_scores_each_task_model_without_and_with_the_filter() -> None:
    task = parse_task((TASKS / "sst2_sentiment.toml").read_text())
    texts, labels, _ = planted_set()
    outcome = run_label_filter("cleanlab", FilterData(texts, labels, CLASSES))
    real = ["a wonderful and gripping film", "a dull and tedious film", "charming and superb", "awful, lifeless"]
    gold = ["positive", "negative", "positive", "negative"]
    ev = evaluate_on_real(task, texts, labels, real, gold, task_models=["tfidf_lr"], sizes=(1.0,), label_filter=outcome)
    lf = ev["label_filter"]
    assert lf["name"] == "cleanlab" and lf["removed"] == len(outcome.removed)
    (row,) = lf["rows"]
    assert row["task_model"] == "tfidf_lr" and row["n_without"] == 100 and row["n_with"] == 100 - lf["removed"]
    assert {"accuracy_without", "accuracy_with", "macro_f1_without", "macro_f1_with"} <= set(row)
    assert ev["n_synthetic"] == row["n_with"] and ev["rows"][0]["n_train"] == row["n_with"]


# ------------------------------------------------------------------ label leak

LEAKY = """
[task]
name = "onc"
domain = "medical"
[context]
prompt = "A patient."
[[labels]]
id = "oncology"
description = "a cancer or a tumor"
verbalizers = ["tumor", "cancer"]
prompt = "Write a clinical note about {context} with a cancer or a tumor."
[[labels]]
id = "dermatology"
description = "skin conditions"
verbalizers = ["skin", "rash"]
prompt = "Write a clinical note by a dermatologist about {context}, with the findings and a plan."
"""


def test_label_leak_counts_whole_word_case_insensitive_phrases_per_label() -> None:
    task = parse_task(LEAKY)
    texts = [
        "Seen today WITH A   CANCER or a Tumor of the colon.",  # the description, other case and spacing
        "Biopsy of the tumor is planned.",  # a verbalizer
        "Tumors were not seen; cancerous cells absent.",  # plural / longer words: not the phrase itself
        "Routine follow-up, no complaints.",
        "An itchy rash on both arms.",  # dermatology, a verbalizer
        "Eczema flares in winter.",
    ]
    labels = ["oncology"] * 4 + ["dermatology"] * 2
    leak = label_leak(task, texts, labels)
    assert leak["per_label"]["oncology"] == {"records": 4, "leaking": 2, "fraction": 0.5}
    assert leak["per_label"]["dermatology"] == {"records": 2, "leaking": 1, "fraction": 0.5}
    assert leak["fraction"] == 0.5 and leak["records"] == 6


def test_label_leak_of_a_label_with_no_records_is_none_not_a_division_by_zero() -> None:
    leak = label_leak(parse_task(LEAKY), ["An itchy rash."], ["dermatology"])
    assert leak["per_label"]["oncology"]["fraction"] is None and leak["fraction"] == 1.0


def test_the_spec_check_warns_when_a_prompt_spells_out_its_label() -> None:
    (w,) = prompt_warnings(parse_task(LEAKY))
    assert w.startswith("labels.oncology.prompt: spells out the label's description 'a cancer or a tumor', which the "
                        "model is likely to copy")
    assert "\n" not in w


def test_a_placeholder_named_like_a_label_phrase_is_not_a_leak() -> None:
    spec = LEAKY.replace("with a cancer or a tumor.", "({tumor}).").replace('[[labels]]\nid = "oncology"',
                                                                          '[attributes.tumor]\nvalues = ["x"]\n[[labels]]\nid = "oncology"')
    assert prompt_warnings(parse_task(spec)) == []


@pytest.mark.parametrize("name", sorted(p.stem for p in TASKS.glob("*.toml")))
def test_the_shipped_task_specs_do_not_spell_out_their_labels(name: str) -> None:
    assert prompt_warnings(load_task(TASKS / f"{name}.toml")) == []


def test_tasks_check_prints_the_warnings_and_still_passes_a_valid_spec(tmp_path: Path, capsys) -> None:
    from appliance.cli import main as cli_main

    spec = tmp_path / "onc.toml"
    spec.write_text(LEAKY)
    assert cli_main(["tasks", "check", str(spec)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "valid: onc, 2 labels (oncology, dermatology)"
    assert out[1].startswith("warning: labels.oncology.prompt: spells out the label's description") and len(out) == 2
    spec.write_text(LEAKY.replace('id = "dermatology"', 'id = "oncology"'))
    assert cli_main(["tasks", "check", str(spec)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_hostile_filter_inputs_are_one_line_refusals() -> None:
    """Texts with no word to learn from (cleanlab's TF-IDF had an empty vocabulary: a traceback), and a judge tie that
    named the record's own label as the one it 'prefers'."""
    from appliance.errors import BadInput
    from appliance.quality.labelfilters import FilterData
    from appliance.quality.labelfilters.cleanlab import label_issues
    from appliance.quality.labelfilters.judge import _disagreements

    with pytest.raises(BadInput, match="nothing to learn from"):
        label_issues(["a", "b", "c", "d", "e", "f"], ["x", "x", "x", "y", "y", "y"], 0)
    tie = FilterData(["t1", "t2"], ["positive", "negative"], ["negative", "positive"], judge_margins=[0.0, -1.0],
                     judge_predicted=["positive", "positive"])
    assert _disagreements(tie) == {1: "judge prefers positive"}
