"""The local model stage: registry with pinned checksums, llama.cpp engine, batched generation, scoring."""

# llama.cpp's libraries must be loaded before numpy's: the other order crashed model loading on a CUDA build
# (seen on an H200 with llama-cpp-python 0.3.36 and numpy 2.5). Importing it here, first, fixes the order for
# everything under appliance.engine.
import llama_cpp  # noqa: F401  (import order matters)

from appliance.engine.interface import Completion, SamplingParams, TextModel

__all__ = ["Completion", "SamplingParams", "TextModel"]
