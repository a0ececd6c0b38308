"""Scores of predicted against gold labels."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def classification_metrics(gold: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, and macro-F1 over the labels that occur in gold or prediction."""
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, average="macro", zero_division=0)),
    }
