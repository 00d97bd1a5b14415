"""Reading a follow-up from its conversation, without a chat model: does it depend on the earlier turns,
and what should be retrieved for it.

"Who interviewed him?" says nothing on its own; after "What positions did Harald Kujat hold at NATO?"
it asks who interviewed Kujat. Chat products rewrite such a follow-up into a standalone question with
a language model. Here the follow-up is told from a new question by plain signals, in English, Dutch
and German: a pronoun or a demonstrative that points back ("him", "die functie", "Wer hat das
bestätigt?"), an elliptic opening ("And how many howitzers?", "En wat ...", "Und Selenskyj?"), or too
few words of its own to ask anything ("Tegen wanneer?", "Warum?"). A dependent follow-up is then
retrieved as itself followed by its context: the previous question and the names in the sentences the
previous answer quoted, where the person or thing a pronoun stands for is most often named. The
caller (`qa.conversation`) checks that this retrieval answers better than the follow-up alone.

Pure functions of their text arguments, so they are tested on hand-computed values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN, STOPWORDS_GERMAN

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_GERMAN) | frozenset(STOPWORDS_DUTCH)

# Personal and possessive pronouns that stand for someone or something named before. Not "ze", "zij",
# "sie", "es", "het", "zijn": each is as often an impersonal subject, a plural, a form of address, an
# article or "to be" in questions that stand alone; a short question with one still counts as short.
_PRONOUNS = frozenset(
    # English
    "he him his himself she her hers herself it its itself they them their theirs themselves "  # noqa: SIM905
    # Dutch
    "hij hem zijzelf hijzelf haar hun hen "
    # German
    "er ihn ihm sein seine seiner seinen seinem seines ihr ihre ihrer ihren ihrem ihres".split()
)
# Demonstratives and pronominal adverbs that point back: "those talks", "diezelfde dag", "daartegenover",
# "dieser Bericht", "davon". The bare "that"/"dat"/"das"/"die" are left to `_points_back`: they are as
# often a relative pronoun, a conjunction or an article.
_DEMONSTRATIVES = frozenset(
    # English
    "this these those such former latter same there then "  # noqa: SIM905
    # Dutch
    "deze dit diezelfde datzelfde dezelfde hetzelfde daar toen daarvan daarover daartegenover daarbinnen "
    "daarmee daarna daarvoor daarbij daarin daarop daaraan daardoor ervan erover ermee erbij erin "
    # German
    "dies diese dieser dieses diesen diesem jene jener jenes jenen jenem derselbe dieselbe dasselbe "
    "denselben demselben erstere erstere ersteren ersterer letztere letzteren letzterer dort damals "
    "dabei davon darüber daran damit dafür dagegen darauf daraus darin dazu dahin".split()
)
# "that"/"dat"/"das"/"dies"/"die" point back when nothing follows them ("Who said that?") or, in
# German, when a lower-case word (a verb, not a noun) does ("Wer hat das bestätigt?").
_BARE_DEMONSTRATIVES = frozenset(("that", "dat", "das", "die"))
# An elliptic opening: the follow-up continues the previous question ("And a year later?").
_OPENERS = frozenset(("and", "but", "also", "or", "en", "maar", "ook", "of", "und", "aber", "auch", "oder"))
# "What about ...?", "Hoe zit het met ...?", "Was ist mit ...?": the rest is said before.
_ELLIPTIC_START = re.compile(
    r"^\W*(?:what about|how about|and what about|hoe zit het met|en hoe zit het met|wat dacht je van|"
    r"was ist mit|und was ist mit|wie steht es mit|wie sieht es mit)\b",
    re.IGNORECASE,
)
# Question words say what kind of answer is wanted, not what it is about.
_QUESTION_WORDS = frozenset(
    "who whom whose what when where which why how about "  # noqa: SIM905 - word lists read best as strings
    "wie wiens wat wanneer waar welke welk waarom hoe hoeveel waarmee waarvoor waarover "
    "wer wen wem wessen was wann wo welche welcher welches welchen welchem warum wieso weshalb "
    "wieviel womit wofür woran worum wodurch wovon worüber woher wohin".split()
)
#: Words of its own (not stop words, pronouns or question words) a question needs to stand alone.
MIN_OWN_WORDS = 2
_NOT_OWN = _STOPWORDS | _PRONOUNS | _DEMONSTRATIVES | _QUESTION_WORDS
# Words opening a subordinate clause, in which a pronoun may stand for a name said before it.
_CLAUSE_OPENERS = frozenset(
    "when while after before because since if as "  # noqa: SIM905 - word lists read best as strings
    "toen terwijl nadat voordat omdat sinds als wanneer "
    "als wenn während nachdem bevor weil seit da".split()
)


@dataclass(frozen=True)
class Dependence:
    """Why a question seems to depend on the conversation: the signals found, empty when none."""

    pronouns: tuple[str, ...]  # pronouns and demonstratives that point back
    opener: str | None  # an elliptic first word ("and", "en", "und")
    own_words: int  # words that are not stop words

    @property
    def depends(self) -> bool:
        return bool(self.pronouns) or self.opener is not None or self.own_words < MIN_OWN_WORDS

    def reasons(self) -> tuple[str, ...]:
        """The signals by name, for the answer's JSON: pronoun, ellipsis, short."""
        out = []
        if self.pronouns:
            out.append("pronoun")
        if self.opener is not None:
            out.append("ellipsis")
        if self.own_words < MIN_OWN_WORDS:
            out.append("short")
        return tuple(out)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def own_words(text: str) -> list[str]:
    """The words of `text` that carry content: not stop words, pronouns or question words, two letters
    or more."""
    return [w for w in words(text) if len(w) >= 2 and w.lower() not in _NOT_OWN]


def _points_back(tokens: list[str], i: int) -> bool:
    """Whether the bare demonstrative at `tokens[i]` is a pronoun: the last word, or (German "das")
    before a verb: a lower-case word not followed by a noun ("Wer hat das bestätigt?", not "das
    russische Militär")."""
    if i == len(tokens) - 1:
        return True
    if tokens[i].lower() != "das" or not tokens[i + 1][:1].islower():
        return False
    return i + 2 >= len(tokens) or not tokens[i + 2][:1].isupper()


def _named_before(tokens: list[str], i: int) -> bool:
    """Whether the pronoun at `tokens[i]` opens a clause after a name of the same question ("What did
    Putin say when he announced it?", "Wie nannte Jean Ribault den Fluss, als er ihn ..."): then it
    stands for that name, not for something said before."""
    clause = max((j for j in range(i) if tokens[j].lower() in _CLAUSE_OPENERS), default=-1)
    return clause > 0 and any(t[:1].isupper() and t.lower() not in _NOT_OWN for t in tokens[1:clause])


def dependence(question: str) -> Dependence:
    """The signals in `question` that it depends on an earlier turn (see the module docstring)."""
    tokens = words(question)
    lowered = [t.lower() for t in tokens]
    found = [
        t
        for i, t in enumerate(lowered)
        if (t in _PRONOUNS and not _named_before(tokens, i))
        or t in _DEMONSTRATIVES
        or (t in _BARE_DEMONSTRATIVES and _points_back(tokens, i))
    ]
    opener = lowered[0] if lowered and lowered[0] in _OPENERS else None
    if opener is None and (start := _ELLIPTIC_START.match(question)):
        opener = start.group(0).strip().lower()
    return Dependence(tuple(dict.fromkeys(found)), opener, len(own_words(question)))


# Capitalised words and runs of them ("Harald Kujat", "Boris Johnson", "Fiona Hill"), joined by a
# hyphen or an apostrophe ("Minsk-II-Abkommen"), or with a lower-case particle inside a name
# ("Gaafar al-Nimeiry" is one word by the hyphen rule; "van", "von", "de" join runs).
_NAME_RUN = re.compile(
    r"(?<![\w-])(?:[A-ZÀ-ÖØ-Þ][\w'’-]+)(?:\s+(?:(?:van|von|der|de|den|al|bin|ibn|la|le)\s+)?[A-ZÀ-ÖØ-Þ][\w'’-]+)*"
)


def names_in(text: str) -> list[str]:
    """Names in `text`: runs of capitalised words not at a sentence's start (unless the run is longer
    than one word), without stop words, first occurrence first. In German every noun is capitalised;
    those are kept too, as they name what the sentence is about."""
    out: list[str] = []
    for match in _NAME_RUN.finditer(text):
        name = match.group(0)
        start = match.start()
        before = text[:start].rstrip()
        sentence_start = not before or before[-1] in '.!?:;"„“”«»(' or before.endswith("\n")
        parts = name.split()
        if sentence_start and len(parts) == 1:
            continue
        if sentence_start:
            parts = parts[1:] if parts[0].lower() in _STOPWORDS else parts
        if all(p.lower() in _STOPWORDS for p in parts):
            continue
        while parts and parts[0].lower() in _STOPWORDS:
            parts = parts[1:]
        candidate = " ".join(parts)
        if len(candidate) >= 3 and candidate not in out:
            out.append(candidate)
    return out


def context_terms(
    question: str, previous_questions: Sequence[str], quotes: Sequence[str], limit: int
) -> list[str]:
    """What the follow-up is read together with: the names in the previous answer's quoted sentences
    that neither the follow-up nor the previous questions name already, at most `limit`."""
    known = {w.lower() for text in (question, *previous_questions) for w in words(text)}
    out: list[str] = []
    for quote in quotes:
        for name in names_in(quote):
            if any(w.lower() not in known for w in words(name)) and name not in out:
                out.append(name)
    return out[:limit]


def retrieval_question(
    question: str, previous_questions: Sequence[str], quotes: Sequence[str], limit: int
) -> str:
    """The follow-up, then the previous questions (latest first), then the new names from the previous
    answer's quotes: what a dependent follow-up is retrieved with. The follow-up comes first so that
    what it asks ("When ...", "How many ...") is still what decides the kind of answer wanted."""
    terms = context_terms(question, previous_questions, quotes, limit)
    parts = [question, *reversed(previous_questions)]
    if terms:
        parts.append(", ".join(terms) + ".")
    return " ".join(parts)
