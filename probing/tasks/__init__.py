"""Readers from corpus formats to examples: words plus labelled spans. One module per format."""

from probing.tasks.base import Example, LabelVocab, Target, Task

__all__ = ["Example", "LabelVocab", "Target", "Task"]
