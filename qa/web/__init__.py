"""The web: HTTP requests in, answers and pages out, over one FastAPI app.

`server` mounts the Gradio chat (`chat`, with `render` for its HTML and `collection` for uploads and
rebuilds), the REST API (`api`) and the OpenAI-compatible chat (`openai_api`), behind `auth`.
"""
