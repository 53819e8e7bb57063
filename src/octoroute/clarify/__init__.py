"""Clarification as an action: an arm asks, a simulated user answers, an arm writes the code.

:mod:`.prompts` builds the messages of each turn (the question, the user's answer, the code
after the answer); :mod:`.users` holds the simulated users, who alone know the original problem
(an oracle that answers with the original description, and an arm of the pool answering from
it); :mod:`.episode` plays one ask-then-code episode and judges the program in the sandbox;
:mod:`.collect` records every turn of every episode in the outcome log, resumably;
:mod:`.decide` is the ask model, :mod:`.consistency` one of its features, :mod:`.replay` the
policies replayed on a log, and :mod:`.redact` keeps the users' words out of an export.
"""

from octoroute.clarify.collect import ORACLE, AskSummary, collect_asks, register_oracle
from octoroute.clarify.episode import AskResult, ask_then_code
from octoroute.clarify.users import ArmUser, OracleUser, SimulatedUser

__all__ = [
    "ORACLE",
    "ArmUser",
    "AskResult",
    "AskSummary",
    "OracleUser",
    "SimulatedUser",
    "ask_then_code",
    "collect_asks",
    "register_oracle",
]
