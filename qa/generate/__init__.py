"""The generative mode: an extractive answer in, a written and verified one out.

`rewrite` has the chat model (`llm`, set up by `llm_setup`) rewrite the quoted sentences under keys S1,
S2, ...; `verify` checks the draft in code (every key, name and number supported) before it is shown,
and the extractive answer stands when it fails.
"""
