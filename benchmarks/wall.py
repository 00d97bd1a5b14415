"""The headline: the same files to a saved index as whole processes, citeqa against the plain pipeline.

Each run is a fresh interpreter from start to exit: imports, model load, reading, splitting, embedding
and saving, as a user waits for them. Three pipelines take turns, the order rotating each round so
load from other processes falls on all of them:

- ours: `citeqa index DOCS --index-dir OUT --rebuild` (through `plain_child.py citeqa`, which adds
  only its peak memory report);
- plain: `plain_child.py plain-index`, the LangChain pipeline with the libraries' defaults (float32,
  batches of 32), as a user assembles it from the documentation;
- plain, citeqa's dtype and batch: the same pipeline given citeqa's bfloat16 and batch size, to show
  what is left once those are shared.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import processes

PIPELINES = ("ours", "plain", "plain, citeqa's dtype and batch")


@dataclass
class Wall:
    """Seconds and peak memory per pipeline over the rounds, for one folder of files."""

    files: int
    megabytes: float
    seconds: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PIPELINES})
    peak_mb: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PIPELINES})

    def median(self, pipeline: str) -> float:
        return statistics.median(self.seconds[pipeline])

    def ratio(self, other: str) -> float:
        """Median over rounds of ours / `other`, both timed in the same round."""
        pairs = zip(self.seconds["ours"], self.seconds[other], strict=True)
        return statistics.median(o / p for o, p in pairs)

    def memory_ratio(self, other: str) -> float:
        return max(self.peak_mb["ours"]) / max(self.peak_mb[other])

    def lines(self, label: str) -> list[str]:
        rounds = len(self.seconds["ours"])
        out = [
            f"ingestion as whole processes, start to saved index ({label}: {self.files} files, "
            f"{self.megabytes * 1000:.0f} KB; {rounds} round(s), order rotating):"
        ]
        for pipeline in PIPELINES:
            seconds = self.median(pipeline)
            out.append(
                f"  {pipeline:<33} median {seconds:6.1f} s (best {min(self.seconds[pipeline]):.1f}); "
                f"{self.files / seconds:.2f} files/s, {self.megabytes * 1000 / seconds:.1f} KB/s; "
                f"peak {max(self.peak_mb[pipeline]):,.0f} MB"
            )
        tuned = PIPELINES[2]
        out.append(
            f"  wall time ours/plain: {self.ratio('plain'):.2f}x with library defaults (target 0.5x), "
            f"{self.ratio(tuned):.2f}x given citeqa's dtype and batch size (target 1.0x); peak memory "
            f"{self.memory_ratio('plain'):.2f}x / {self.memory_ratio(tuned):.2f}x (target 1.0x)"
        )
        return out


def size_of(docs: Path) -> tuple[int, float]:
    """Documents (not the metadata sidecar) and their megabytes."""
    files = [p for p in docs.rglob("*") if p.is_file() and p.suffix.lower() in (".txt", ".md")]
    return len(files), sum(p.stat().st_size for p in files) / 1e6


def measure(docs: Path, workdir: Path, rounds: int) -> Wall:
    """`rounds` rounds of the three pipelines on `docs`, each in a fresh process."""
    files, megabytes = size_of(docs)
    wall = Wall(files, megabytes)
    for i in range(rounds):
        order = PIPELINES[i % 3 :] + PIPELINES[: i % 3]
        for pipeline in order:
            out = workdir / f"wall-{PIPELINES.index(pipeline)}"
            if pipeline == "ours":
                run = processes.citeqa_measured("index", docs, "--index-dir", out, "--rebuild")
            elif pipeline == "plain":
                run = processes.plain("plain-index", docs, out)
            else:
                run = processes.plain("plain-index", docs, out, "tuned")
            wall.seconds[pipeline].append(run.seconds)
            wall.peak_mb[pipeline].append(run.peak_rss_mb)
    return wall
