"""Composition: ranked sentences in, a cited extractive answer (or a refusal) out.

`extractive` quotes the best sentences with their [n] markers; `calibration` measures the collection's
refusal bar with off-topic probe questions; `answer_type` checks a "when" or "how many" question
finds a date or a figure.
"""
