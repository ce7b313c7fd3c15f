"""The scanner's pre-screens (number-shaped identifiers are not looked for in a text without a digit, e-mail addresses
without an '@', URLs without a dot before a letter, IP addresses without a digit or colon; the address recognizer's
number-bearing street patterns without a digit) never drop a finding that the full path makes: same findings with
and without them, on the presidio-research sentences and on clinical sentences, and on texts written here to poke at
their edge.

The NER pre-screen (the model is not run on a text whose only capitals start sentences with common English words and
which holds no lower-case name-like word) is checked under each shipped policy: nothing lost on the labelled
presidio-research sentences or on the edge texts; on clinical sentences it drops only the model's own false alarms
("Pulmonary" as a person, "anesthesia" as a place), and the test lists them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
OWN = [
    "Seen at the corner of Elm Street and Main Street by Dr. Okafor.",
    "Write to her at jane.doe@example.org or visit example.org/contact.",
    "Mrs. Adeyemi worked as a midwife; her daughter Ana lives in Leeds.",
    "Phone: five five five, one two three four.",
    "IP fe80::abcd and ::ffff:abcd were blocked.",
    "See www.example.com or mail ana@clinic.org, not the 2.5 mg note.",  # URL/e-mail gates: a dot before a letter, '@'
    "Ships: USNS Comfort; meet at the corner of Elm Street and Main Street.",  # addresses without a digit
    # the NER pre-screen's edges: lower-case names in cased text, names and places that start a sentence
    "She met olga krylova yesterday.",
    "It was given to lena andersson by mistake.",
    "The patient john smith was seen.",
    "This was reported by dr. patel.",
    "His mother, maria garcia, called.",
    "Will was admitted to the ward.",
    "Grace reports chest pain.",
    "Estonia was super fun to visit!",
    "He met O'Brien at noon.",
    "Seen by Élodie Durand.",
    "We are proud ecuadoreans.",
    "The fever started two weeks ago and returned overnight.",
]


def _same(a: list, b: list) -> bool:
    """Same findings: entity, span and score. Which recognizer's name a finding carries is Presidio's pick among
    identical results (it de-duplicates through a set), so it may differ between two equal scans."""
    return [(f.entity, f.start, f.end, f.score) for f in a] == [(f.entity, f.start, f.end, f.score) for f in b]


def _missing(a: list, b: list) -> list:
    """Findings of ``b`` with no finding of the same entity, span and score in ``a``."""
    have = {(f.entity, f.start, f.end, f.score) for f in a}
    return [f for f in b if (f.entity, f.start, f.end, f.score) not in have]


def _sentences() -> list[str]:
    texts = list(OWN)
    pii = DATA / "presidio_synth_pii" / "synth_dataset_v2.jsonl"
    if pii.exists():
        texts += [json.loads(ln)["text"] for ln in pii.read_text(encoding="utf-8").splitlines()[:600] if ln.strip()]
    mts = DATA / "mtsamples" / "test.csv"
    if mts.exists():
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
        from gate import sentences

        texts += sentences(300)
    return texts


def test_prescreen_finds_exactly_what_the_full_path_finds(scanner) -> None:
    texts = _sentences()
    if len(texts) == len(OWN):
        pytest.skip("shared data sets not present")
    try:
        scanner.prescreen = True
        fast = scanner.scan(texts)
        scanner.prescreen = False
        full = scanner.scan(texts)
    finally:
        scanner.prescreen = True
    diff = [(t, a, b) for t, a, b in zip(texts, fast, full) if not _same(a, b)]
    assert not diff, diff[:3]
    assert sum(not any(c.isdigit() for c in t) for t in texts) > 100  # the pre-screen was actually exercised


def test_address_patterns_skipped_without_a_digit_cannot_match_there() -> None:
    from appliance.guard.recognizers.address import _CORES, _CORES_WITHOUT_DIGIT

    texts = [t for t in _sentences() if not any(c.isdigit() for c in t)]
    if len(texts) < 100:
        pytest.skip("shared data sets not present")
    for name, rx in _CORES:
        if name not in _CORES_WITHOUT_DIGIT:
            assert not [m.group() for t in texts for m in rx.finditer(t)], name


def _labelled() -> list[dict]:
    pii = DATA / "presidio_synth_pii" / "synth_dataset_v2.jsonl"
    if not pii.exists():
        pytest.skip("shared data sets not present")
    return [json.loads(ln) for ln in pii.read_text(encoding="utf-8").splitlines() if ln.strip()]


@pytest.mark.parametrize("policy_name", ["default", "hipaa-safe-harbor", "ferpa"])
def test_ner_prescreen_loses_nothing_but_the_models_false_alarms(policy_name: str) -> None:
    import sys

    from appliance.guard.pii import NER_RECOGNIZER, PiiScanner
    from appliance.guard.policy import load_policy

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from gate import sentences

    policy = load_policy(policy_name)
    sc = PiiScanner(policy.entities, policy.thresholds, policy.score_threshold)
    labelled = [row["text"] for row in _labelled()]
    clinical = sentences(600)

    def both(texts: list[str]) -> tuple[list, list, int]:
        sc.prescreen, sc.ner_skipped = True, 0
        fast, skipped = sc.scan(texts), sc.ner_skipped
        sc.prescreen = False
        return fast, sc.scan(texts), skipped

    fast, full, _ = both(OWN + labelled)
    diff = [(t, a, b) for t, a, b in zip(OWN + labelled, fast, full) if not _same(a, b)]
    assert not diff, diff[:3]

    fast, full, skipped = both(clinical)
    assert skipped > 0.25 * len(clinical)  # the pre-screen was exercised
    lost = [(f.entity, t[f.start:f.end]) for t, a, b in zip(clinical, fast, full) for f in _missing(a, b)]
    gained = [f for a, b in zip(fast, full) for f in _missing(b, a)]
    assert not gained
    # Everything lost is the NER model's (no recognizer of ours is skipped) and none of it is a name: each span is an
    # anatomy word, a heading or a misspelling the model mistook for a person or place.
    lost_recognizers = {f.recognizer for a, b in zip(fast, full) for f in _missing(a, b)}
    assert lost_recognizers <= {NER_RECOGNIZER}, lost_recognizers
    assert len(lost) <= 0.02 * len(clinical), lost
    print(f"{policy_name}: {skipped}/{len(clinical)} clinical sentences skipped the model; dropped {lost}")


def test_phone_numbers_need_the_digits_the_prescreen_assumes() -> None:
    """The digits each phone recognizer declares are a bound it obeys: no region Presidio's validates has a valid
    number shorter (phonenumbers metadata), and ours rejects matches with fewer than 7 digits."""
    from phonenumbers import PhoneMetadata
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from appliance.guard.recognizers import needs_of
    from appliance.guard.recognizers.contact import UsPhoneRecognizer

    shortest = min(min(PhoneMetadata.metadata_for_region(r).general_desc.possible_length)
                   for r in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS)
    assert shortest >= needs_of("PhoneRecognizer", "PHONE_NUMBER").digits == 4
    assert UsPhoneRecognizer.NEEDS.digits == 7
    assert not UsPhoneRecognizer().validate("12-34-56", None)
    assert UsPhoneRecognizer().validate("555-0142", None)


def test_driver_licence_patterns_all_need_a_digit() -> None:
    """Presidio's US driver licence recognizer is declared to need a digit because every alternative of its patterns
    has [0-9] in it (an older Presidio also matched letters and '*' alone; this fails if the pinned version's patterns
    change that way); none of our recognizers reports the entity."""
    from presidio_analyzer.predefined_recognizers import UsLicenseRecognizer

    from appliance.guard.recognizers import all_recognizers, needs_of

    assert needs_of("UsLicenseRecognizer", "US_DRIVER_LICENSE").digits == 1
    for pattern in UsLicenseRecognizer.PATTERNS:
        body = pattern.regex.removeprefix(r"\b(").removesuffix(r")\b")
        assert all("[0-9]" in alt for alt in body.split("|")), pattern.name
    assert not [r for r in all_recognizers() if "US_DRIVER_LICENSE" in r.supported_entities]


def test_openblas_matmul_finds_what_blis_finds(scanner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scanner's NER model multiplies through numpy's BLAS (``pii.use_openblas_matmul``, for speed); the stock
    model, on thinc's default BLIS, finds exactly the same entities in the same texts. The scan keeps numpy's BLAS to
    one thread and gives the process its thread count back afterwards."""
    import spacy
    from threadpoolctl import threadpool_info

    from appliance.guard.pii import LANG, MODEL_NAME

    texts = _sentences()
    ours = scanner.analyzer.nlp_engine.nlp[LANG]
    assert all(not node.ops.use_blis for node in ours.get_pipe("ner").model.walk())
    stock = spacy.load(MODEL_NAME, exclude=["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer"])
    assert stock.get_pipe("ner").model.ops.use_blis

    def ents(nlp) -> list:
        return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts, batch_size=64)]

    mine = ents(ours)
    assert mine == ents(stock)
    assert sum(map(len, mine)) > len(texts) / 2  # the model found plenty to compare

    # The thread count numpy's BLAS has while the model runs: process_batch is where the scan runs it.
    engine, during = scanner.analyzer.nlp_engine, []
    original = engine.process_batch

    def spy(*args, **kwargs):  # noqa: ANN202
        if "ner" in ours.pipe_names:  # the model's pass (the other pass disables it)
            during.append({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "process_batch", spy)
    threads = [lib["num_threads"] for lib in threadpool_info()]
    scanner.scan(texts[:20])
    assert during and all(d == {1} for d in during), during
    assert [lib["num_threads"] for lib in threadpool_info()] == threads
