"""The messages of a clarification episode's turns.

The asking arm and the coding arm see the (possibly modified) request only; the answering user
sees the original problem and the question, never the tests. Every builder returns chat
messages; a completion-style arm gets them flattened by :mod:`octoroute.arms`.
"""

from __future__ import annotations

from octoroute.arms.base import Messages

__all__ = ["answer_messages", "ask_messages", "code_messages", "rate_messages"]

SYSTEM = "You are a careful Python programmer."

ASK = (
    "Here is a coding request:\n\n```python\n{prompt}```\n\nBefore you write any code: the "
    "request may be ambiguous, inconsistent (its examples may contradict its text) or "
    "incomplete. Ask the one clarifying question whose answer you need most. Reply with the "
    "question only."
)
ANSWER = (
    "You asked for this function:\n\n```python\n{original}```\n\nA developer who was given a "
    "less clear version of the request asks:\n\n{question}\n\nAnswer the question in one to "
    "three sentences, from your description above. Do not write code."
)
RATE = (
    "You asked for this function:\n\n```python\n{original}```\n\nA developer was given this "
    "version of the request instead:\n\n```python\n{prompt}```\n\nThey asked:\n\n{question}"
    "\n\nRate the question. 3: it asks about exactly what their version changed, contradicts "
    "or leaves out. 2: it is relevant, but does not ask about that. 1: it is irrelevant, or not "
    "a question. Reply with the digit only."
)
CODE = (
    "{answer}\n\nNow write the complete function `{entry_point}` (under that name, whatever "
    "name the answer uses) in one ```python code block."
)


CODE_ANY = "{answer}\n\nNow write the complete code in one ```python code block."


def ask_messages(prompt: str) -> Messages:
    """The asking arm's turn: the request, and the instruction to ask one question."""
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": ASK.format(prompt=prompt)}]  # fmt: skip


def answer_messages(original: str, question: str) -> Messages:
    """An answering arm's turn: the original problem it stands for, and the question."""
    text = ANSWER.format(original=original, question=question)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def code_messages(prompt: str, question: str, answer: str, entry_point: str | None) -> Messages:
    """The coding arm's turn: the request, the question asked, the answer, then the code of
    ``entry_point``, the name the request defines and the tests call (an answer quoting the
    original problem may use another; None: a request that names no function)."""
    code = (CODE.format(answer=answer, entry_point=entry_point) if entry_point
            else CODE_ANY.format(answer=answer))  # fmt: skip
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": ASK.format(prompt=prompt)},
        {"role": "assistant", "content": question},
        {"role": "user", "content": code},
    ]


def rate_messages(original: str, prompt: str, question: str) -> Messages:
    """A rating arm's turn: the original, the request the asker saw, its question; 1 to 3, as
    HumanEvalComm's authors rate questions."""
    text = RATE.format(original=original, prompt=prompt, question=question)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
