"""The local model stage: registry with pinned checksums, llama.cpp engine, batched generation, scoring."""

from appliance.engine.interface import Completion, SamplingParams, TextModel

__all__ = ["Completion", "SamplingParams", "TextModel"]
