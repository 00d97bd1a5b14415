"""EmbeddingGemma on OpenVINO: converted once at pull time, run with bfloat16 inference on CPU.

Why: on the 2-core machine the same sentences embed about 3x faster through OpenVINO's CPU plugin at
bfloat16 precision than through PyTorch in bfloat16 (vectors' cosine to PyTorch's 0.9999), and a
process that embeds through it imports neither torch nor sentence-transformers.

`convert` runs once, from `citeqa models pull`: the float32 sentence-transformers folder (transformer,
mean pooling, the two dense layers, normalisation) is traced to ONNX into a temporary folder and
converted to OpenVINO's format (`model.xml` + `model.bin`, weights stored as float16: half the disk and
page cache, no loss next to bfloat16 inference). `OpenVinoModel` runs it with the folder's own
tokenizer and prompts, offering the few members of `SentenceTransformer` that
`vectorstore.models.embedding.SentenceTransformerEmbedder` uses.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

XML, BIN = "model.xml", "model.bin"
#: OpenVINO's compiled-model cache inside the converted folder: filled at pull time for the default
#: settings (bfloat16, threads unset), it makes loading take ~0.3 s instead of compiling for ~7 s
#: (OpenVINO checks that a blob fits this model, runtime version and CPU, and compiles afresh otherwise).
COMPILED = "compiled"
_PRECISION = {"bfloat16": "bf16", "float32": "f32"}


def available() -> bool:
    """Whether the OpenVINO runtime is installed (it is a dependency; a trimmed install may lack it)."""
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def convert(model_dir: Path, out_dir: Path) -> None:
    """Convert the float32 sentence-transformers folder `model_dir` into `out_dir` (model.xml/.bin).

    Takes about a minute and 3 GB on 2 cores; needs torch, sentence-transformers, onnx and openvino.
    """
    import openvino as ov
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar for loading weights is noise in `citeqa models pull`
    model = SentenceTransformer(
        str(model_dir), device="cpu", model_kwargs={"dtype": torch.float32}, local_files_only=True
    )
    whole = _traceable(model).eval()
    example = model.tokenizer(["title: none | text: a b", "x"], padding=True, return_tensors="pt")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".onnx-", dir=out_dir) as tmp:  # gone with out_dir if killed
        onnx_file = Path(tmp) / "model.onnx"
        # The tracer warns about every Python-level branch in the model; they depend on shapes only.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                whole,
                (example["input_ids"], example["attention_mask"]),
                str(onnx_file),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        del whole, model
        # read_model rather than convert_model: the latter reports usage to the vendor's analytics
        # unless a consent file in the home directory says no.
        converted = ov.Core().read_model(str(onnx_file))
        ov.save_model(converted, str(out_dir / XML), compress_to_fp16=True)
    for name in ("tokenizer.json", "config_sentence_transformers.json", "sentence_bert_config.json"):
        shutil.copy2(model_dir / name, out_dir / name)
    OpenVinoModel(out_dir, "bfloat16", None)  # compiles once for the defaults, filling COMPILED


def _traceable(model: Any) -> torch.nn.Module:
    """`model` (a SentenceTransformer) as one module from token ids and mask to the normalised embedding;
    the class is made here so that importing this module does not import torch."""
    import torch

    class Whole(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            # The attention masks are built here: transformers builds EmbeddingGemma's bidirectional
            # ones with vmap, which tracing cannot follow.
            keep = attention_mask.bool()[:, None, None, :]
            n = input_ids.shape[1]
            position = torch.arange(n)
            window = self.st[0].auto_model.config.sliding_window
            near = (position[:, None] - position[None, :]).abs() < window
            masks = {
                "full_attention": keep.expand(-1, 1, n, n),
                "sliding_attention": keep & near[None, None],
            }
            hidden = self.st[0].auto_model(input_ids=input_ids, attention_mask=masks).last_hidden_state
            features = {"token_embeddings": hidden, "attention_mask": attention_mask}
            for module in list(self.st)[1:]:  # pooling, dense, dense, normalise
                features = module(features)
            return features["sentence_embedding"]

    return Whole()


class _Tokenizer:
    """The folder's fast tokenizer, called as `SentenceTransformer.tokenizer` is by the embedder."""

    def __init__(self, path: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.enable_truncation(max_length)
        self._pad_id = self._tokenizer.token_to_id("<pad>") or 0

    def __call__(self, texts: Sequence[str], **_: Any) -> dict[str, list[list[int]]]:
        return {"input_ids": [e.ids for e in self._tokenizer.encode_batch(list(texts))]}

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and attention mask, padded on the right to the longest text."""
        rows = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self._pad_id, np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask


class OpenVinoModel:
    """A converted folder, compiled for the CPU; the subset of `SentenceTransformer` the embedder uses.

    Args:
        folder: Made by `convert`.
        dtype: "bfloat16" or "float32": OpenVINO's inference precision.
        threads: CPU threads; None lets OpenVINO decide.
    """

    def __init__(self, folder: Path, dtype: str, threads: int | None) -> None:
        import openvino as ov

        config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        limits = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.prompts: dict[str, str] = dict(config.get("prompts", {}))
        self.max_seq_length: int = int(limits.get("max_seq_length", 2048))
        self.tokenizer = _Tokenizer(folder / "tokenizer.json", self.max_seq_length)
        properties: dict[str, Any] = {"INFERENCE_PRECISION_HINT": _PRECISION[dtype]}
        if threads is not None:
            properties["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        # Only the default settings use the cache, and only while it holds at most two blobs: each other
        # combination (settings, or whatever else OpenVINO keys its blobs on) would add 0.6 GB.
        blobs = len(list((folder / COMPILED).glob("*.blob")))
        cached = dtype == "bfloat16" and threads is None and blobs <= 1
        try:
            if cached:
                core.set_property({"CACHE_DIR": str(folder / COMPILED)})
            self._compiled = core.compile_model(str(folder / XML), "CPU", properties)
        except RuntimeError:  # a cache it cannot write or read (a read-only cache folder): compile afresh
            if not cached:
                raise
            core = ov.Core()
            self._compiled = core.compile_model(str(folder / XML), "CPU", properties)
        self._dimension = int(self._compiled.output(0).get_partial_shape()[1].get_length())

    def __iter__(self) -> Iterator[Any]:
        return iter(())  # no modules: the prompt is pooled with the text, as in the model folder

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def encode_query(self, texts: Sequence[str], prompt: str | None = None, **kwargs: Any) -> np.ndarray:
        return self._encode(texts, self.prompts.get("query", "") if prompt is None else prompt, **kwargs)

    def encode_document(self, texts: Sequence[str], prompt: str | None = None, **kwargs: Any) -> np.ndarray:
        default = self.prompts.get("document", "")
        return self._encode(texts, default if prompt is None else prompt, **kwargs)

    def _encode(
        self,
        texts: Sequence[str],
        prompt: str,
        *,
        batch_size: int = 16,
        truncate_dim: int | None = None,
        **_: Any,
    ) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), np.float32)
        for start in range(0, len(texts), batch_size):
            ids, mask = self.tokenizer.batch([prompt + t for t in texts[start : start + batch_size]])
            result = self._compiled({"input_ids": ids, "attention_mask": mask})
            out[start : start + len(ids)] = result[0]
        return out[:, :truncate_dim] if truncate_dim else out
