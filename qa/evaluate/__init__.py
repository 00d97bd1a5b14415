"""Evaluation: a gold set in, scores out.

`gold` reads and checks the JSON Lines file, `run` answers every question (and the plain LangChain
pipeline of `baseline` beside it), `metrics` scores facts, citations, ranks and refusals.
"""
