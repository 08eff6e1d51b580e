"""What the real-speech corpus says: sentences people dictate, with their reference text.

Five kinds, each a few seconds long when spoken: free dictation, commands to an
assistant, numbers (written as words: the normaliser compares them as digits),
names, and short answers spoken alone (the words a hallucination filter must
never drop). A second, held-out list (``HELD_OUT``) is never used to tune
anything, so a setting chosen on ``SENTENCES`` can be checked on it.
"""

from __future__ import annotations

__all__ = ["HELD_OUT", "KINDS", "SENTENCES", "SHORT_ANSWERS"]

#: kind -> sentences.
KINDS: dict[str, tuple[str, ...]] = {
    "dictation": (
        "The museum is closed on Mondays, but open late on Thursdays.",
        "Remember to water the plants on the balcony while I am away.",
        "The train to the airport leaves every twenty minutes from platform four.",
        "Please send me the report before the meeting tomorrow morning.",
        "We walked along the river until the sun went down behind the hills.",
        "The new library has a quiet room for students on the second floor.",
        "She asked whether the bakery still sells the bread with walnuts.",
        "After lunch, the team reviewed the budget and agreed on the plan.",
        "The weather should clear up by the weekend, so we can go hiking.",
        "My brother fixed the old bicycle and painted it bright green.",
        "The children built a sandcastle and waited for the tide to come in.",
        "I would like to book a table for two at seven this evening.",
    ),
    "commands": (
        "Set a timer for fifteen minutes and remind me to check the oven.",
        "Turn off the lights in the kitchen and lock the front door.",
        "Add milk, eggs and coffee to my shopping list.",
        "Call the dentist and move my appointment to next Tuesday.",
        "Play some quiet piano music in the living room.",
        "Send a message to the team saying I will be ten minutes late.",
        "Open the calendar and show me what I have on Friday.",
        "Delete the last paragraph and start a new one.",
    ),
    "numbers": (
        "The package weighs three kilograms and costs forty five dollars.",
        "Our flight number is two hundred and twelve, departing at nine.",
        "The room holds about sixty people, with eight tables of six.",
        "I was born in nineteen eighty seven in a small town by the sea.",
        "Please transfer one thousand two hundred euros to the savings account.",
        "The recipe needs two cups of flour and three quarters of a cup of sugar.",
    ),
    "names": (
        "Maria Gonzalez will present the results to the board on Monday.",
        "We stayed with Oliver and Grace in a cottage near Edinburgh.",
        "Doctor Patel moved her clinic from Leeds to Manchester last year.",
        "The package from Amazon arrived while Daniel was at work.",
        "Professor Nakamura teaches physics at the university in Boston.",
        "Ask Sophie whether the concert in Vienna starts at eight.",
    ),
}

#: Words people answer with, spoken alone: none of them may be filtered as a hallucination.
SHORT_ANSWERS: tuple[str, ...] = ("Yes.", "No.", "Okay.", "Stop.", "Thanks.", "Maybe.", "Sure.", "Hello.")

#: Every sentence of :data:`KINDS`, in a fixed order.
SENTENCES: tuple[str, ...] = tuple(s for group in KINDS.values() for s in group)

#: Sentences kept out of every calibration (thresholds, defaults), for checking them afterwards.
HELD_OUT: tuple[str, ...] = (
    "The garden behind the house is full of roses in early summer.",
    "Remind me to renew my passport before the end of the month.",
    "The store opens at half past eight and closes at six.",
    "Emily and James are driving to Cambridge on Saturday morning.",
    "Switch the thermostat to twenty one degrees after dinner.",
    "The bridge was built in eighteen ninety and repaired last spring.",
    "Could you read the last message again, a little slower please?",
    "Our neighbours adopted a small grey cat from the shelter.",
)
