"""Accuracy against the number of synthetic training records, drawn in the terminal with plotext."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot


class SizeCurve(PlotextPlot):
    def show_curve(self, curve: list[dict[str, Any]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title("accuracy vs. synthetic data size")
        plt.xlabel("training records")
        plt.ylabel("accuracy %")
        for name in sorted({r["task_model"] for r in curve}):
            pts = sorted((r["n_train"], r["accuracy"]) for r in curve if r["task_model"] == name and r.get("accuracy") is not None)
            if pts:
                plt.plot([p[0] for p in pts], [100 * p[1] for p in pts], marker="dot", label=name)
        self.refresh()
