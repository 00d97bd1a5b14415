"""Domain errors: the CLI prints them as one line, the web app as a chat message."""


class CiteqaError(Exception):
    """Base class; `str(err)` is a complete one-line message for a person."""


class IndexNotBuilt(CiteqaError):
    pass


class IndexMismatch(CiteqaError):
    pass


class IndexCorrupt(CiteqaError):
    pass


class IndexBusy(CiteqaError):
    pass


class UnsupportedDocument(CiteqaError):
    pass


class ModelUnavailable(CiteqaError):
    pass


class BadQuestion(CiteqaError):
    pass


class GenerationUnavailable(CiteqaError):
    """The chat model cannot write an answer (not pulled, fails to load, endpoint down or failing).

    Callers of the generative mode catch this one type and fall back to the extractive answer.
    """


class IndexUnreadable(CiteqaError):
    """The index exists but this user may not read it (file permissions)."""


class IndexUnwritable(CiteqaError):
    """The index folder cannot be created or written: a file in the way, a name too long, no permission."""


class IndexEmpty(CiteqaError):
    """The index holds no documents, so there is nothing to answer from."""


class UpdateRefused(CiteqaError):
    """An update would drop documents because a path is missing or empty; nothing was changed."""


class StoreUnavailable(CiteqaError):
    """The index's database cannot be used: a bad URL, a server that is down, a refused login, a
    database without the pgvector extension."""
