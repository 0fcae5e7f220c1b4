"""Builders shared by the price tests: a model's prices from plain numbers, and small policies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from agentpolicy.inputs import ModelEntry
from agentpolicy.prices import ModelPrice, build_price

LATENCY = {
    "overhead": "0.5 s",
    "prefill_speed": "10000 tokens/s",
    "output_speed": "100 tokens/s",
    "pass_rate": {"easy": 0.9, "medium": 0.9, "hard": 0.9},
}


def priced(name: str = "model", **figures) -> ModelPrice:
    """A local model from figures written as the price file writes them (numbers are USD/MTok)."""
    written = {
        key: f"{value} USD/MTok" if isinstance(value, int | float | Decimal | str) else value
        for key, value in figures.items()
        if key in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    }
    rest = {k: v for k, v in figures.items() if k not in written}
    return build_price(name, ModelEntry.model_validate({**written, **rest}), None, path="")


def write_policy(folder: Path, *, policy: str, pipeline: str, prices: str) -> Path:
    """A policy, its pipeline and its price file in ``folder``; returns the policy's path."""
    (folder / "pipeline.toml").write_text(pipeline)
    (folder / "models.toml").write_text(prices)
    path = folder / "test.policy"
    header = 'pipeline "pipeline.toml"\nprices "models.toml"\n'
    path.write_text(header + policy)
    return path
