"""Where an index lives: documents, chunks, sentences and vectors in (from `vectorstore.indexer`), the
loaded index and its searches out, behind one interface: `base.Store`, chosen by `factory.open_store`
(`folder` for the index folder, `postgres` and `pg_index` for PostgreSQL).
"""
