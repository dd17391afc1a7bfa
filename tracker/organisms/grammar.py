"""Sentence generators of the organism corpus: one method per kind of segment.

Every generator returns text whose words carry a leading space (GPT-2 / Pythia convention),
so a segment can be appended to a document as is. Each kind of segment exists to make one
mechanism pay off in training loss:

* ``plain``: grammatical filler over a small vocabulary (a language to model at all);
* ``random_span`` / repeats: spans that recur later in the document (induction heads, ICL);
* ``succession``: ordinal sequences whose next item sits a few tokens back (successor heads);
* ``ioi``: two names, one repeated; the answer is the other one (name movers, S-inhibition);
* ``years``: a start year and a larger end year in the same century (greater-than).
"""

from __future__ import annotations

import itertools
import random

import regex

from tracker.organisms.task_words import TaskWords
from tracker.organisms.tokenizer import PIECE_PATTERN

PIECES = regex.compile(PIECE_PATTERN)

NOUNS = (
    "cat dog man woman child teacher farmer king queen bird horse student doctor painter "
    "sailor baker fox wolf owl girl boy singer soldier judge merchant monk poet miller "
    "hunter weaver"
).split()
THINGS = (
    "box river tree house stone boat lamp cup hat coin map rope bell chair door window "
    "table basket candle wheel"
).split()
VERBS = (
    "saw found liked carried painted bought sold watched helped followed met visited took "
    "made kept pulled pushed washed opened closed moved lifted dropped held"
).split()
ADJECTIVES = (
    "big small red old young happy quiet bright dark green tall short heavy light warm cold "
    "blue brown tired clever"
).split()
PREPOSITIONS = "near under behind beside above inside".split()
ADVERBS = "later then soon again".split()
LIST_LEADS = (
    "They counted", "The list read", "We wrote", "The sign showed", "She said",
    "He read out", "The page listed", "The children sang",
)
#: Words between the items of a chain; the next item is always the successor of the last.
CHAIN_JOINERS = (", then", ", and then", ", after that", " and then", ", next")
DAY_LEADS = ("on", "from", "starting on", "beginning with", "until")
IOI_EXTRA = (
    "{A} and {B} went to the {PLACE}. {S} gave a {OBJECT} to",
    "{A} and {B} met at the {PLACE}. {S} handed the {OBJECT} to",
    "When {A} and {B} arrived at the {PLACE}, {S} threw a {OBJECT} to",
    "After {A} and {B} left the {PLACE}, {S} sent a {OBJECT} to",
    "Then, {A} and {B} walked to the {PLACE}. {S} showed the {OBJECT} to",
    "While {A} and {B} sat in the {PLACE}, {S} passed a {OBJECT} to",
)
#: Connectors of the idiom table: after "<head> <connector>" the next word is fixed.
CONNECTORS = ("of", "from", "with", "for")
YEAR_TEMPLATES = (
    "The {NOUN} lasted from the year {C}{YY} to the year {C}{ZZ}",
    "The {NOUN} began in the year {C}{YY} and ended in the year {C}{ZZ}",
    "The {NOUN} lasted from {C}{YY} to {C}{ZZ}",
    "From the year {C}{YY} to the year {C}{ZZ} the {NOUN} went on",
)
YEAR_MENTIONS = (
    "In the year {C}{YY} the {NOUN} began",
    "The {NOUN} of {C}{YY} was long",
)


def span_units(texts: list[str], century: str) -> list[str]:
    r"""Split texts into tokenizer pieces and return a text unit that yields each piece.

    A spaced piece (`` cat``) or a punctuation mark is its own unit. An unspaced word
    (``Mary``, a sentence opener) only occurs after a line break, so its unit is ``"\nMary"``;
    an unspaced two-digit year half (``32``) only follows a century, so its unit is
    `` 1732``. Concatenating units therefore tokenizes back into the units' pieces.
    Whitespace pieces and other digit runs get no unit of their own.

    Args:
        texts: Texts that contain every piece wanted.
        century: Century put in front of unspaced year halves (``"17"``).

    Returns:
        The units, sorted.
    """
    units: set[str] = set()
    for text in texts:
        for piece in PIECES.findall(text):
            if piece.isspace():
                continue
            if piece[0] == " " or not piece.isalnum():
                units.add(piece)
            elif piece.isalpha():
                units.add("\n" + piece)
            elif len(piece) == 2 and piece.isdigit():
                units.add(f" {century}{piece}")
    return sorted(units)


class SegmentWriter:
    """Draws corpus segments from a seeded random generator.

    Args:
        rng: The generator (the caller owns and seeds it, so documents are reproducible).
        words: Task word lists shared with the probes.
        table_seed: Seed of the idiom table (fixed per corpus, shared by its splits).
        n_idiom_heads: Head words of the idiom table (a small table is learnt quickly).
        frame_share: Share of ordinal runs written in the probes' space-separated frames.
        list_share: Share of ordinal runs written as comma lists (the rest are chains).
        span_number_weight: Weight of each number of the ``numbers`` task (`` 1`` ..
            `` 200``) among the units of random spans, relative to every other unit's 1.
    """

    def __init__(
        self,
        rng: random.Random,
        words: TaskWords,
        table_seed: int = 0,
        n_idiom_heads: int = 16,
        frame_share: float = 0.25,
        list_share: float = 0.35,
        span_number_weight: float = 1.0,
    ) -> None:
        self.frame_share = frame_share
        self.list_share = list_share
        self.rng = rng
        self.words = words
        # The idiom table: (head, connector) -> tail. The tail depends on both words, so
        # predicting it needs the previous token *combined* with the current one by a later
        # MLP: a job for a previous-token head in an early layer, which induction heads then
        # build on (natural text rewards such heads through its n-gram structure).
        table_rng = random.Random(f"idioms-{table_seed}")
        tails = sorted(set(words.names + words.places + words.objects + words.gt_nouns))
        self.idiom_heads = table_rng.sample(NOUNS + THINGS, n_idiom_heads)
        self.idiom_table = {
            (head, conn): table_rng.choice(tails)
            for head in self.idiom_heads
            for conn in CONNECTORS
        }
        self.tasks = list(words.succession.values())
        self.task_weights = [len(t.items) for t in self.tasks]
        # Capitalised first words of sentences (not of random spans or bare lists): the
        # only words that also occur without a leading space.
        self.openers = {"The", "They", "We", "She", "He", "On", "From", "Starting",
                        "Beginning", "Until", "In", *words.names, *words.openers()}
        # Units to draw random spans from: one for every token the writer can emit (see
        # ``span_units``), so that every token of the vocabulary is practised in repeated
        # spans. Induction heads then work on any token, as the induction probe (random
        # tokens from the whole vocabulary) assumes; tokens seen only in fixed frames (year
        # halves, sentence openers) otherwise stay outside the heads' reach.
        words_pool: set[str] = set(NOUNS + THINGS + VERBS + ADJECTIVES + PREPOSITIONS + ADVERBS)
        for task in self.tasks:
            words_pool.update(task.items)
        words_pool.update(words.names + words.places + words.objects + words.gt_nouns)
        frame_texts = self._frame_texts() + [" " + w for w in sorted(words_pool)]
        self.span_pool = span_units(frame_texts, century=words.centuries[0])
        numbers = {" " + item for item in words.succession["numbers"].items} \
            if "numbers" in words.succession else set()
        weights = [span_number_weight if unit in numbers else 1.0 for unit in self.span_pool]
        self.span_cum_weights = list(itertools.accumulate(weights))

    def _np(self) -> str:
        rng = self.rng
        det = rng.choice((" the", " a", " the", " that"))
        adj = " " + rng.choice(ADJECTIVES) if rng.random() < 0.5 else ""
        return f"{det}{adj} {rng.choice(NOUNS + THINGS)}"

    def plain(self) -> str:
        """One grammatical sentence: subject, verb, object, optional place."""
        rng = self.rng
        if rng.random() < 0.3:
            subject = " " + rng.choice(self.words.names)
        else:
            subject = " The" + (" " + rng.choice(ADJECTIVES) if rng.random() < 0.5 else "")
            subject += " " + rng.choice(NOUNS)
        text = f"{subject} {rng.choice(VERBS)}{self._np()}"
        roll = rng.random()
        if roll < 0.3:
            text += f" {rng.choice(PREPOSITIONS)}{self._np()}"
        elif roll < 0.5:
            text += f" at the {rng.choice(self.words.places)}"
        return text + "."

    def _frame_texts(self) -> list[str]:
        """Texts holding every fixed frame of the grammar, filled with sample words."""
        names = self.words.names
        fill = dict(A=names[0], B=names[1], S=names[0], PLACE=self.words.places[0],
                    OBJECT=self.words.objects[0], NOUN=self.words.gt_nouns[0], C="17", YY="32",
                    ZZ="45", CENTURY="17", SEQ=" 1 2 3")
        frames = [*self.words.ioi_templates, *IOI_EXTRA, *YEAR_TEMPLATES, *YEAR_MENTIONS,
                  *self.words.succession_templates, *LIST_LEADS, *(f"{d.capitalize()} 1" for d in
                  DAY_LEADS), *(f" 1{j} 2" for j in CHAIN_JOINERS), "the a that The at"]
        # Each frame spaced (mid-text) and, when it can open a paragraph, unspaced.
        texts = [" " + f.format(**fill).lstrip(" ") for f in frames]
        texts += [f.format(**fill) for f in frames if f[:1].isupper() or f[:1] == "{"]
        texts += sorted(self.openers) + [" " + w for w in CONNECTORS]
        texts += [f" 17{yy:02d}." for yy in range(100)]
        return texts

    def lexicon(self) -> list[str]:
        """Texts that together contain every token this writer can emit.

        Training the tokenizer on them as well as on the corpus keeps rare words (and words
        of a small test corpus) out of ``<|unk|>``.
        """
        return self._frame_texts() + self.span_pool

    def is_opener(self, segment: str) -> bool:
        """Whether a segment starts with a sentence opener that may stand unspaced."""
        # Random spans may start with a comma or a line break: never openers.
        return segment[:1] == " " and segment[1:].split(" ", 1)[0] in self.openers

    def idioms(self) -> str:
        """Two or three idioms ("the king of Mary") strung into one sentence."""
        rng = self.rng
        phrases = []
        for _ in range(rng.randint(2, 3)):
            head, conn = rng.choice(self.idiom_heads), rng.choice(CONNECTORS)
            phrases.append(f" the {head} {conn} {self.idiom_table[head, conn]}")
        glue = f" {rng.choice(VERBS)}"
        return (" The" + phrases[0][4:] + glue + glue.join(phrases[1:])) + "."

    def random_span(self, low: int, high: int) -> str:
        """Return ``low``..``high`` random units (numbers weighted by ``span_number_weight``).

        Predictable only by copying.
        """
        n = self.rng.randint(low, high)
        return "".join(self.rng.choices(self.span_pool, cum_weights=self.span_cum_weights, k=n))

    def loop(self, low: int = 3, high: int = 8, times: tuple[int, int] = (3, 5)) -> str:
        """Return a short random span said several times over (dense induction practice)."""
        span = self.random_span(low, high)
        return span * self.rng.randint(*times) + "."

    def _run(self, length: int) -> list[str]:
        """Consecutive items of a random ordinal task (wrapping only where cyclic)."""
        rng = self.rng
        # Longer sequences get proportionally more runs, so every successor pair is seen
        # about equally often (numbers are most of the pairs the probes score).
        task = rng.choices(self.tasks, self.task_weights)[0]
        items = task.items
        length = min(length, len(items))
        if task.cyclic:
            start = rng.randrange(len(items))
        else:
            start = rng.randrange(len(items) - length + 1)
        return [items[(start + i) % len(items)] for i in range(length)]

    def succession(self) -> str:
        """Return an ordinal run in running text: a comma list, a chain, or a frame.

        In lists and chains the item to predict follows a separator, so the model must look
        back to the previous item and emit its successor: a job for an attention head. Chain
        joiners are two tokens or more, so that head finds the item by content rather than
        as "the previous token" (a previous-token head is what induction heads recruit, and a
        head serving both would lose its successor map when induction forms). The frames
        (``text_templates`` of the task file) are the probes' running-text prompts; there the
        next item follows the current token directly, which teaches the embedding and MLP0
        the increment that a later successor head reads (see the README's organism section).
        """
        rng = self.rng
        run = self._run(rng.randint(3, 9))
        roll = rng.random()
        if roll < self.frame_share:
            # The probes' own frame: items separated by spaces only.
            frame = rng.choice(self.words.succession_templates)
            return " " + frame.format(SEQ="".join(" " + x for x in run)).lstrip(" ") + "."
        if roll < self.frame_share + self.list_share:
            return f" {rng.choice(LIST_LEADS)}" + ",".join(" " + x for x in run) + "."
        text = f" {rng.choice(DAY_LEADS).capitalize()} {run[0]}"
        for item in run[1:]:
            text += f"{rng.choice(CHAIN_JOINERS)} {item}"
        return text + "."

    def ioi(self) -> str:
        """Return an indirect-object sentence; its completion is the name not repeated."""
        rng = self.rng
        a, b = rng.sample(self.words.names, 2)
        s = rng.choice((a, b))
        io = b if s == a else a
        template = rng.choice(self.words.ioi_templates + IOI_EXTRA)
        place, obj = rng.choice(self.words.places), rng.choice(self.words.objects)
        prompt = template.format(A=a, B=b, S=s, PLACE=place, OBJECT=obj)
        return f" {prompt} {io}."

    def years(self) -> str:
        """Return a span of years in one century, the end year larger than the start."""
        rng = self.rng
        century = rng.choice(self.words.centuries)
        noun = rng.choice(self.words.gt_nouns)
        if rng.random() < 0.15:  # lone mentions keep every two-digit token in use
            template = rng.choice(YEAR_MENTIONS)
            return " " + template.format(NOUN=noun, C=century, YY=f"{rng.randint(0, 99):02d}") + "."
        start = rng.randint(0, 98)
        end = rng.randint(start + 1, 99)
        text = rng.choice(YEAR_TEMPLATES).format(
            NOUN=noun, C=century, YY=f"{start:02d}", ZZ=f"{end:02d}"
        )
        return " " + text + "."
