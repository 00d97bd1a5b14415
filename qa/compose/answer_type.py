"""What kind of answer a question asks for, and whether a sentence can supply it.

A "when" question is not answered by a sentence without a date, nor a "how many" question by one
without a number, however similar the wording. Checking this keeps the composer from quoting an
on-topic sentence as the answer to a question the documents do not answer.
"""

from __future__ import annotations

import re
from enum import Enum


class AnswerType(Enum):
    ANY = "any"
    DATE = "date"
    NUMBER = "number"


# "When ...?" asks for a date only as the question word: "What happened when X was assimilated?" does not.
_WHEN_QUESTION = re.compile(
    r"^\W*(?:(?:since|until|till|sinds|tot|seit|bis|ab)\s+)?(when|wann|wanneer)\b", re.IGNORECASE
)
_DATE_QUESTION = re.compile(
    r"\b(what year|which year|what date|in welk jaar|welk jaar|welke datum|welchem jahr|welches jahr"
    r"|welchem datum|welches datum)\b",
    re.IGNORECASE,
)
_NUMBER_QUESTION = re.compile(
    r"\b(how (many|much|large|big|long|high|old|far)|what percentage|hoeveel|hoe (groot|lang|hoog|oud|ver)"
    r"|wie (viele|viel|groß|gross|lange|hoch|alt|weit))\b",
    re.IGNORECASE,
)

_MONTHS = (
    "january february march april may june july august september october november december "
    "januari februari maart april mei juni juli augustus september oktober november december "
    "januar februar märz maerz april mai juni juli august september oktober november dezember "
    "jan feb mrt apr jun jul aug sep sept okt oct nov dec"
)
_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday maandag dinsdag woensdag donderdag vrijdag "
    "zaterdag zondag montag dienstag mittwoch donnerstag freitag samstag sonntag"
)
_RELATIVE = (
    "yesterday today tomorrow gisteren vandaag morgen gestern heute morgen spring summer autumn winter "
    "voorjaar zomer najaar frühjahr sommer herbst"
)
# Not "one", "een", "ein(e)": in English a pronoun, in Dutch and German the indefinite article, so
# they would let nearly every sentence answer a "how many" question.
_NUMBER_WORDS = (
    "two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty "
    "hundred thousand million billion twee drie vier vijf zes zeven acht negen tien elf twaalf "
    "vijftien twintig dertig veertig vijftig honderd duizend miljoen miljard zwei drei "
    "vier fünf sechs sieben acht neun zehn elf zwölf fünfzehn zwanzig dreißig vierzig fünfzig hundert "
    "tausend million millionen milliarde milliarden dozen dutzend"
)
_DATE_WORD = re.compile(
    r"\b(" + "|".join(sorted(set((_MONTHS + " " + _WEEKDAYS + " " + _RELATIVE).split()))) + r")\b"
)
# Any figure can date something: "1288", "21 September", "the 1950s", "13,000 BP", "vor 22.000 Jahren".
_FIGURE = re.compile(r"\d")
_NUMBER = re.compile(r"\d|\b(" + "|".join(sorted(set(_NUMBER_WORDS.split()))) + r")\b")


def answer_type(question: str) -> AnswerType:
    if _WHEN_QUESTION.search(question) or _DATE_QUESTION.search(question):
        return AnswerType.DATE
    if _NUMBER_QUESTION.search(question):
        return AnswerType.NUMBER
    return AnswerType.ANY


def supplies(kind: AnswerType, sentence: str) -> bool:
    """Whether `sentence` contains something of the kind the question asks for."""
    if kind is AnswerType.ANY:
        return True
    lowered = sentence.lower()
    if kind is AnswerType.DATE:
        return bool(_FIGURE.search(lowered) or _DATE_WORD.search(lowered))
    return bool(_NUMBER.search(lowered))
