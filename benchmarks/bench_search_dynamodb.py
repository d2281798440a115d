"""Text search on DynamoDB: items read per image returned, and write units per upload and PATCH.

On DynamoDB Local (its own, started here), images with titles of 3-6 and descriptions of 10-40
words drawn from a Zipf vocabulary (3,000 made-up words, exponent 1.0, so the top word is in most
images and rank 1,000 in a handful), 50 Zipf users, 80% public, loaded through
``DynamoDBImageCatalog.add`` (the code the service runs, text items included). Each case walks up
to 5 pages of 20 through ``find`` as an admin, every page checked against ``ImageQuery.matches``.
botocore's events count what each call read:

- **index items**: the ``ScannedCount`` of every index Query (``by_text``, or ``by_user`` when the
  user's images drive; the FilterExpression's rejects included): the figure of the 1.2 target,
  as in bench_amplification;
- **all items**: index items + planner items (vocabulary counts, prefix expansions, user counts) +
  image items read by BatchGetItem (one per image returned, more when further words are checked
  on the image).

Writes: uploads of a typical title (5 words) with a 5,000-character description, and with a
200-character one, each with ``ReturnConsumedCapacity=INDEXES``; *without search* is the upload's
transaction alone (what an upload wrote before text search), *with search* adds the vocabulary
updates and the BatchWriteItem of word and prefix items. A PATCH that changes one title word
shows the diff: only that word's items are written.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.aws_common import Call, CallLog, aws_versions, capacity_units, clients_for, emulators
from benchmarks.common import Config, Result, Table, Target, median, ms, temp_dir
from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
from image_service.adapters.dynamodb_table import DynamoDBTable
from image_service.adapters.dynamodb_words import text_items
from image_service.domain.models import Image, ImageQuery, Keyset, Visibility
from image_service.domain.text import BOTH_FIELDS, MAX_INDEXED_WORDS, indexed_words, search

NAME = "search_dynamodb"
SIZE, QUICK_SIZE = 3_000, 800
PAGES, PAGE_SIZE = 5, 20
TARGET = 1.2
VOCABULARY, WORD_EXPONENT = 3_000, 1.0
N_USERS, USER_EXPONENT = 50, 0.8
UPLOADS = 8  # per write case
SEED = 20261201
START = datetime(2025, 12, 1, tzinfo=UTC)
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + ["an", "el", "in", "or", "us"]


def make_vocabulary(rng: random.Random) -> list[str]:
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


@dataclass
class Corpus:
    words: list[str]
    _cumulative: list[float] = field(default_factory=list)
    _users: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cumulative = list(
            itertools.accumulate(1 / r**WORD_EXPONENT for r in range(1, len(self.words) + 1))
        )
        self._users = list(itertools.accumulate(1 / r**USER_EXPONENT for r in range(1, N_USERS + 1)))

    def word(self, rank: int) -> str:
        return self.words[rank - 1]

    def draw(self, rng: random.Random, count: int) -> str:
        picks = (
            bisect.bisect_left(self._cumulative, rng.random() * self._cumulative[-1]) for _ in range(count)
        )
        return " ".join(self.words[i] for i in picks)

    def text_of_length(self, rng: random.Random, chars: int) -> str:
        text = ""
        while len(text) < chars:
            text += self.draw(rng, 1).capitalize() + (". " if rng.random() < 0.1 else " ")
        return text[:chars]

    def user(self, rng: random.Random) -> str:
        return user(bisect.bisect_left(self._users, rng.random() * self._users[-1]) + 1)


def user(rank: int) -> str:
    return f"user{rank:03d}"


def make_image(rng: random.Random, title: str, description: str, owner: str, created: datetime) -> Image:
    image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return Image(
        image_id=image_id, user_id=owner, name=f"{image_id}.jpg", filename="photo.jpg",
        content_type="image/jpeg", format="JPEG", width=800, height=600, size=100_000,
        checksum_sha256="0" * 64, blob_key=f"{owner}/{image_id}", created_at=created, updated_at=created,
        title=title, description=description,
        visibility=Visibility.PUBLIC if rng.random() < 0.8 else Visibility.PRIVATE,
    )  # fmt: skip


def make_images(corpus: Corpus, count: int, rng: random.Random) -> list[Image]:
    span_ms = 365 * 24 * 3600 * 1000
    return [
        make_image(
            rng,
            corpus.draw(rng, rng.randint(3, 6)).capitalize(),
            corpus.draw(rng, rng.randint(10, 40)),
            corpus.user(rng),
            START + timedelta(milliseconds=rng.randrange(span_ms)),
        )
        for _ in range(count)
    ]


# -- reads ---------------------------------------------------------------------------------------


@dataclass
class Walk:
    label: str
    single: bool
    matches: int
    correct: bool = True
    returned: int = 0
    pages: int = 0
    index_read: int = 0
    index_queries: int = 0
    vocab_read: int = 0
    image_read: int = 0
    read_units: float = 0.0
    seconds: list[float] = field(default_factory=list)

    @property
    def amplification(self) -> float:
        return _ratio(self.index_read, self.returned)

    @property
    def all_items(self) -> float:
        return _ratio(self.index_read + self.vocab_read + self.image_read, self.returned)

    def count(self, calls: list[Call]) -> None:
        for call in calls:
            self.read_units += capacity_units(call)
            if call.operation == "Query" and "IndexName" in call.params:  # by_text, or by_user
                self.index_read += int(call.parsed["ScannedCount"])
                self.index_queries += 1
            elif call.operation == "Query":
                self.vocab_read += int(call.parsed["ScannedCount"])
            elif call.operation == "BatchGetItem":
                for items in call.parsed.get("Responses", {}).values():
                    vocab = sum(i["PK"]["S"].startswith(("VOCAB#", "USERCOUNT#")) for i in items)
                    self.vocab_read += vocab
                    self.image_read += len(items) - vocab
            else:
                raise AssertionError(f"find made an unexpected {call.operation} call")


def cases(corpus: Corpus) -> list[tuple[str, bool, ImageQuery]]:
    def q(text: str, **filters: Any) -> ImageQuery:
        return ImageQuery(text=(search("q", text, BOTH_FIELDS),), **filters)

    w = corpus.word
    return [
        ("one word, rank 1", True, q(w(1))),
        ("one word, rank 10", True, q(w(10))),
        ("one word, rank 100", True, q(w(100))),
        ("one word, rank 1000", True, q(w(1000))),
        ("prefix, 2 letters (rank 5's)", True, q(w(5)[:2])),
        ("prefix, 3 letters (rank 5's)", True, q(w(5)[:3])),
        ("prefix, 5 letters (rank 20's)", True, q(w(20)[:5])),
        ("two words, ranks 1 + 10", False, q(f"{w(1)} {w(10)}")),
        ("two words, ranks 10 + 100", False, q(f"{w(10)} {w(100)}")),
        ("two words, ranks 2 + 3", False, q(f"{w(2)} {w(3)}")),
        ("word + user: rank 10, busiest user", False, q(w(10), user_id=user(1))),
        ("word + user: rank 1, user rank 10", False, q(w(1), user_id=user(10))),
    ]


def walk(
    catalog: DynamoDBImageCatalog,
    calls: CallLog,
    label: str,
    single: bool,
    query: ImageQuery,
    newest: list[Image],
) -> Walk:
    expected = [i.image_id for i in newest if query.matches(i)]
    result = Walk(label, single, len(expected))
    after: Keyset | None = None
    calls.take()
    for number in range(PAGES):
        started = time.perf_counter()
        page = catalog.find(query, PAGE_SIZE, after)
        result.seconds.append(time.perf_counter() - started)
        ids = [i.image_id for i in page.images]
        result.correct &= ids == expected[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]
        result.correct &= bool(ids) or not page.has_more
        result.returned += len(ids)
        result.pages += 1
        result.count(calls.take())
        if page.next is None:
            break
        after = page.next
    return result


# -- writes --------------------------------------------------------------------------------------


@dataclass
class Writes:
    label: str
    items: list[int] = field(default_factory=list)  # text items written per upload
    without: list[float] = field(default_factory=list)  # WCU of the transaction alone
    search: list[float] = field(default_factory=list)  # WCU of the vocabulary and text items
    search_reads: list[float] = field(default_factory=list)  # RCU the text sync read (PATCH)
    requests: list[int] = field(default_factory=list)

    def count(self, calls: list[Call]) -> None:
        without = search = reads = 0.0
        for call in calls:
            units = capacity_units(call)
            if call.operation == "TransactWriteItems":
                without += units
            elif call.operation in ("BatchWriteItem", "UpdateItem"):
                search += units
            else:  # the PATCH's reads: its GetItem, the sync's Query and version check
                reads += units
        self.without.append(without)
        self.search.append(search)
        self.search_reads.append(reads)
        self.requests.append(len(calls))


def measure_writes(
    catalog: DynamoDBImageCatalog, calls: CallLog, corpus: Corpus, rng: random.Random
) -> list[Writes]:
    rows = []
    for label, chars in (("upload, 5,000-char description", 5_000), ("upload, 200-char description", 200)):
        row = Writes(label)
        for n in range(UPLOADS):
            title = corpus.draw(rng, 5).capitalize()
            image = make_image(
                rng, title, corpus.text_of_length(rng, chars), user(1), START + timedelta(seconds=n)
            )
            calls.take()
            catalog.add(image)
            row.count(calls.take())
            row.items.append(len(text_items(image)))
        rows.append(row)
    patch = Writes("PATCH: one title word changed (5,000-char description)")
    for n in range(UPLOADS):
        image = make_image(
            rng,
            "alpha beta gamma delta epsilon",
            corpus.text_of_length(rng, 5_000),
            user(2),
            START + timedelta(hours=n),
        )
        catalog.add(image)
        changed = dataclasses.replace(image, title="alpha beta gamma delta zeta")
        before, after = text_items(image), text_items(changed)
        calls.take()
        catalog.update(changed)
        patch.count(calls.take())
        patch.items.append(sum(before.get(k) != after.get(k) for k in before.keys() | after.keys()))
    rows.append(patch)
    return rows


# -- the run -------------------------------------------------------------------------------------


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    size = QUICK_SIZE if cfg.quick else SIZE
    rng = random.Random(SEED)
    corpus = Corpus(make_vocabulary(rng))
    images = make_images(corpus, size, rng)
    newest = sorted(images, key=lambda i: (i.created_at, i.image_id), reverse=True)
    versions = aws_versions()
    with temp_dir(NAME) as tmp, emulators(Path(tmp), log) as emu:
        clients = clients_for(emu)
        catalog = DynamoDBImageCatalog(DynamoDBTable(clients, emu.table))
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(catalog.add, images))
        load_seconds = time.perf_counter() - started
        log(f"  loaded {size:,} images through add() in {load_seconds:.0f}s")
        calls = CallLog()
        calls.hook(clients.dynamodb, consumed_capacity=True)
        walks = []
        for label, single, query in cases(corpus):
            done = walk(catalog, calls, label, single, query, newest)
            log(f"  {label}: {done.index_read} index items read for {done.returned} returned "
                f"({done.amplification:.2f}), all items {done.all_items:.2f}")  # fmt: skip
            walks.append(done)
        writes = measure_writes(catalog, calls, corpus, rng)
    words = Counter(w for i in images for w in indexed_words(i.title, i.description))
    result.details.update(
        size=size, pages=PAGES, page_size=PAGE_SIZE, versions=versions, load_seconds=round(load_seconds, 1),
        vocabulary=VOCABULARY, max_indexed_words=MAX_INDEXED_WORDS,
        matches={w.label: w.matches for w in walks},
        top_word_share=round(words[corpus.word(1)] / size, 3),
    )  # fmt: skip
    result.tables, result.targets = _report(walks, writes, size)
    return result


def _report(walks: list[Walk], writes: list[Writes], size: int) -> tuple[list[Table], list[Target]]:
    reads = Table(
        f"Text search read amplification on DynamoDB Local, {size:,} images, "
        f"up to {PAGES} pages of {PAGE_SIZE}",
        ["query", "matches", "returned", "index read / returned", "all items / returned",
         "index Queries / page", "read units / page", "ms / page p50", "correct"],
    )  # fmt: skip
    for w in walks:
        reads.add(
            w.label, w.matches, w.returned, w.amplification, w.all_items, _ratio(w.index_queries, w.pages),
            _ratio(w.read_units, w.pages), ms(median(w.seconds)), w.correct,
        )  # fmt: skip
    reads.notes.append(
        "index read = ScannedCount of the index Queries; all items adds the planner's items (vocabulary, "
        "user counts) and the image items BatchGetItem read (further words are checked on the image)"
    )
    units = Table(
        "Write units per write (ReturnConsumedCapacity, table + indexes), median over "
        f"{UPLOADS} writes; a typical 5-word title",
        ["write", "text items written", "WCU without search", "WCU of search", "WCU with search",
         "with / without", "requests", "RCU of the text sync"],
    )  # fmt: skip
    for row in writes:
        without, extra = median(row.without), median(row.search)
        units.add(
            row.label, median([float(n) for n in row.items]), without, extra, without + extra,
            _ratio(without + extra, without), median([float(n) for n in row.requests]),
            median(row.search_reads),
        )  # fmt: skip
    units.notes.append(
        f"at most {MAX_INDEXED_WORDS} distinct words per image are indexed (title first): one word item "
        "each, plus one prefix item per distinct 1-3 letter prefix, plus one vocabulary ADD per new word"
    )
    single = [w for w in walks if w.single and w.label.startswith("one word")]
    worst = max(single, key=lambda w: w.amplification)
    targets = [
        Target(
            "one-word search: index items read per image returned (worst of the one-word cases)",
            f"<= {TARGET}",
            f"{worst.amplification:.2f} ({worst.label})",
            worst.amplification <= TARGET,
        ),
        Target("every page as ImageQuery.matches says", "all correct", str(all(w.correct for w in walks)),
               all(w.correct for w in walks)),
    ]  # fmt: skip
    return [reads, units], targets


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")
