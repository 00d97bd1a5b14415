"""Reading documents: files in, clean text, metadata, language and chunks out.

`loaders` reads each format (with `cleaning` and `language`), `chunking` cuts the clean text into
passages and sentences with their offsets.
"""
