"""Task specs (TOML): what to generate, for which labels, with which prompts."""

from appliance.spec.taskspec import Attribute, Label, TaskSpec, load_task, parse_task

__all__ = ["Attribute", "Label", "TaskSpec", "load_task", "parse_task"]
