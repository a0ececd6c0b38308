"""Readers from corpus formats to examples: words plus labelled spans. One module per format."""

from probing.tasks.base import DependencyTree, Example, LabelVocab, Target, Task

__all__ = ["DependencyTree", "Example", "LabelVocab", "Target", "Task"]
