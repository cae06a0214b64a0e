"""The names of the metrics, as the text, the HTML and the figures print them in a comparison
and in the legends of undefined values."""

from __future__ import annotations

__all__ = ["LABELS"]

#: metric -> the name the text, the HTML and the figures print
LABELS = {
    "log_loss": "log loss",
    "ne": "NE",
    "brier": "Brier score",
    "calibration": "calibration",
    "ece": "ECE",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "uncertainty": "uncertainty",
    "discrimination": "discrimination",
    "miscalibration": "miscalibration",
}
