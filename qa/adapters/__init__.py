"""Other hosts' interfaces: MCP tool calls and LangChain retriever queries in, cited answers and
passages out.

`mcp_server` serves tools over stdio, `retriever` is a LangChain BaseRetriever; each translates a request
into a `qa.backend` call and the Answer back, and none retrieves or composes itself.
"""
