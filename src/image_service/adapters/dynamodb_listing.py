"""One list page from DynamoDB: plan which index partitions to Query, then merge them.

A list query becomes a set of *streams*: Query calls on one index partition each, all newest
first over the same sort-key range. Sharded feeds give one stream per shard; "public or mine" is
the public shards plus the caller's private partition. The streams are disjoint, so a k-way merge
of their heads is the newest-first order of the union. Facets that no stream keys on become a
FilterExpression; the merge keeps querying until the page (plus one look-ahead item, which tells
``has_more`` without ever promising a page that turns out empty) is full or every stream is
exhausted.

The rows are the page's images (the list indexes project them whole, tag items are whole
copies); only text rows are not. Reads are sized to keep requests and read units low: the first
Query of each stream asks for its share of the page, a stream that runs dry for the rest of the
page, scaled by how selective its filter has been so far; a resumed page reads each stream for
as many rows as the keys carried in the cursor say it gives (``Merger``).

Text search (``dynamodb_search``) drives from ``by_text`` partitions. Those streams need not be
disjoint (a prefix merges the partitions of several words, and an image may hold two of them):
the merger drops the repeat, which arrives next to the first copy since both carry the same
sort key.
"""

from __future__ import annotations

import json
import math
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from image_service.adapters.dynamodb_items import (
    Item,
    S,
    category_partition,
    image_key,
    order_key,
    order_key_parts,
    tag_key,
    tag_of_partition,
    tag_partition,
    user_partition,
    visibility_partition,
)
from image_service.adapters.dynamodb_search import TextDriver
from image_service.adapters.dynamodb_words import text_sort_key_of
from image_service.aws.table import BY_CATEGORY, BY_TAG, BY_TEXT, BY_USER, BY_VISIBILITY, SK
from image_service.domain.models import ImageQuery, Keyset, Visibility, format_time

MAX_CHUNK = 500
# Fewest items a Query asks for. Items read past the page are carried in the cursor, not read
# again, so a few extra per Query cost little and save many one-item Queries (each of which
# costs a round trip and a minimum of 0.5 read units).
MIN_READ = 3
Index = tuple[str, str, str]
QueryFn = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Stream:
    index: Index
    partition: str
    buffer: deque[Item] = field(default_factory=deque)
    start_key: dict[str, Any] | None = None
    exhausted: bool = False
    scanned: int = 0
    matched: int = 0
    # From the previous page's cursor: the sort keys of the rows this stream had read past that
    # page, newest first. They are not rows (a cursor cannot hold whole images): the stream is
    # read again, from the page's start, only when the merge reaches the first of them.
    carried: list[str] = field(default_factory=list)
    hint: int = 0  # how many rows the carried keys say this page takes from the stream

    def head(self) -> str:
        """The newest sort key not yet taken: of a row read, else of a carried key."""
        if self.buffer:
            return str(self.buffer[0][self.index[2]]["S"])
        return self.carried[0]

    def head_or_none(self) -> str | None:
        return self.head() if self.buffer or self.carried else None

    def drop_head(self) -> None:
        if self.buffer:
            self.buffer.popleft()
        else:
            self.carried.pop(0)

    def pending(self) -> bool:
        """Whether rows may be left: read, carried, or not read yet."""
        return bool(self.buffer or self.carried or not self.exhausted)

    def selectivity(self) -> float:
        """Share of scanned items that passed the filter so far (1.0 before any read)."""
        return (self.matched + 1) / (self.scanned + 1)


@dataclass(frozen=True)
class Plan:
    streams: list[Stream]
    filter_expression: str | None
    names: dict[str, str]
    values: dict[str, Any]
    # The filter decides the query on the index rows. Without text search a row read is then a
    # row returned; text rows may still outlive their image or lag a PATCH (the catalog checks).
    exact: bool = True


def plan(query: ImageQuery, shards: int, text: TextDriver | None = None) -> Plan:
    """Which partitions to read (the most selective key we have) and what to filter on.
    ``query`` must be ``ImageQuery.canonical``: ``visible_to`` is then set only with neither a
    user nor a visibility filter, and says "public or mine" (its ``arms``), which becomes the
    public shards plus the user's private partition, or a filter on a tag or category feed.
    ``text`` is the driver ``dynamodb_search`` chose for the query's text searches: with one,
    the text partitions drive and every other facet is filtered on their items (they carry the
    same attributes as tag items)."""
    conditions: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    visibilities = [query.visibility] if query.visibility else [Visibility.PUBLIC, Visibility.PRIVATE]

    def where(attribute: str, op_value: str, value: str) -> None:
        names[f"#{attribute}"] = attribute
        values[op_value] = S(value)
        conditions.append(f"#{attribute} = {op_value}")

    def need_tags(tags: Sequence[str]) -> None:
        for i, tag in enumerate(tags):
            names["#tags"] = "tags"
            values[f":tag{i}"] = S(tag)
            conditions.append(f"contains(#tags, :tag{i})")

    def visible_to_filter() -> None:
        if query.visible_to is not None:
            names["#visibility"], names["#user_id"] = "visibility", "user_id"
            values[":public"], values[":me"] = S(Visibility.PUBLIC.value), S(query.visible_to)
            conditions.append("(#visibility = :public OR #user_id = :me)")

    streams: list[Stream]
    if text is not None:
        streams = [Stream(BY_TEXT, f"{key}#{s}") for key in text.keys for s in range(shards)]
        conditions += text.conditions
        names |= text.names
        values |= text.values
        if query.user_id is not None:
            where("user_id", ":user", query.user_id)
        need_tags(query.tags)
        if query.category is not None:
            where("category", ":category", query.category)
        if query.visibility is not None:
            where("visibility", ":visibility", query.visibility.value)
        visible_to_filter()
    elif query.user_id is not None:
        streams = [Stream(BY_USER, user_partition(query.user_id, v)) for v in visibilities]
        need_tags(query.tags)
        if query.category is not None:
            where("category", ":category", query.category)
    elif query.tags:
        streams = [Stream(BY_TAG, tag_partition(query.tags[0], s)) for s in range(shards)]
        need_tags(query.tags[1:])
        if query.category is not None:
            where("category", ":category", query.category)
        if query.visibility is not None:
            where("visibility", ":visibility", query.visibility.value)
        visible_to_filter()
    elif query.category is not None:
        streams = [Stream(BY_CATEGORY, category_partition(query.category, s)) for s in range(shards)]
        if query.visibility is not None:
            where("visibility", ":visibility", query.visibility.value)
        visible_to_filter()
    elif query.visible_to is not None:
        streams = [Stream(BY_VISIBILITY, visibility_partition(Visibility.PUBLIC, s)) for s in range(shards)]
        streams.append(Stream(BY_USER, user_partition(query.visible_to, Visibility.PRIVATE)))
    else:
        streams = [
            Stream(BY_VISIBILITY, visibility_partition(v, s)) for v in visibilities for s in range(shards)
        ]
    exact = not query.text or (text is not None and text.exact)
    return Plan(streams, " AND ".join(conditions) or None, names, values, exact)


def sort_range(query: ImageQuery, after: Keyset | None) -> tuple[str | None, str | None, bool]:
    """(low inclusive, high exclusive, whether high is a row that must be skipped if read)."""
    low = format_time(query.created_after) if query.created_after else None
    highs = []
    if query.created_before is not None:
        highs.append(format_time(query.created_before))  # no sort key equals a bare timestamp
    if after is not None:
        highs.append(order_key(after.created_at, after.image_id))
    high = min(highs) if highs else None
    return low, high, after is not None and high == order_key(after.created_at, after.image_id)


class Merger:
    """Reads the merged, newest-first index items of a plan, a few at a time.

    A merger can be resumed: ``resume_state`` says, per stream, the rows already read but not
    returned (only their sort keys) and where its Query stopped; ``resume`` applies such a note.
    The rows themselves are not in the note (a cursor cannot hold whole images): a resumed
    stream is read again from the keyset, but only when the merge reaches its carried keys, and
    then for as many rows as the carried keys say the page takes from it. So a stream whose
    next rows come after the page is not read at all, and the others are read once.
    """

    def __init__(
        self,
        query_fn: QueryFn,
        pool: ThreadPoolExecutor | None,
        plan: Plan,
        low: str | None,
        high: str | None,
        skip_high: bool,
    ) -> None:
        self._query = query_fn
        self._pool = pool
        self.plan = plan
        self._low, self._high, self._skip_high = low, high, skip_high
        self.expected = 0  # rows the caller will want in all: sizes the first reads
        # The sort key last taken: a repeat of it (the same image in another stream) is dropped.
        self._last: str | None = high if skip_high else None
        self._taken: list[tuple[Stream, Item, str | None]] = []  # by the last take, for put_back
        self._shortfall = 0  # rows of the page the carried keys do not cover
        self._sized = False

    def take(self, count: int) -> list[Item]:
        """Up to ``count`` more items in order (fewer only when every stream is exhausted)."""
        out: list[Item] = []
        self._taken = []
        while len(out) < count and self._ready(count - len(out)):
            best = max((s for s in self.plan.streams if s.buffer), key=Stream.head)
            self._taken.append((best, best.buffer[0], self._last))
            self._last = best.head()
            out.append(best.buffer.popleft())
        return out

    def put_back(self, count: int) -> None:
        """Return the last ``count`` items of the last ``take`` to their streams, to be taken
        (or carried in the cursor) again."""
        for stream, item, last in reversed(self._taken[len(self._taken) - count :]):
            stream.buffer.appendleft(item)
            self._last = last
        del self._taken[len(self._taken) - count :]

    def peek(self) -> bool:
        """Whether one more item exists (reading it if needed, but not taking it). A carried key
        will do: its row matched the filter when it was read."""
        return self._ready(1, carried_will_do=True)

    def _ready(self, wanted: int, carried_will_do: bool = False) -> bool:
        """Read until the newest head of all streams is a row read and every stream not
        exhausted has a head (a row, or a carried key); False if no stream has one."""
        while True:
            for stream in self.plan.streams:
                if stream.head_or_none() == self._last and self._last is not None:
                    stream.drop_head()
            active = [s for s in self.plan.streams if s.pending()]
            if not active:
                return False
            self._size_carried(active)
            empty = [s for s in active if not s.buffer and not s.carried]
            best = max((s for s in active if s.buffer or s.carried), key=Stream.head, default=None)
            reached = best is not None and not best.buffer and not carried_will_do
            if not empty and not reached:
                return True
            split = max(MIN_READ, math.ceil(max(wanted, self.expected) / len(active)))
            # A list stream that ran dry may well give the rest of the page and its look-ahead:
            # its rows are whole images, so a Query too few costs a request and a round trip.
            # Text rows are small and their page reads its images anyway: they keep to their share.
            rest = split if self.expected else max(MIN_READ, math.ceil((wanted + 1) / max(1, len(empty))))
            self.expected = 0  # only the first reads are sized for the whole page
            reads = [
                (s, min(MAX_CHUNK, math.ceil((split if s.index is BY_TEXT else rest) / s.selectivity())))
                for s in empty
            ]
            if reached:
                # The merge has reached carried keys: read their stream again from the keyset,
                # with every other carried stream that this page takes rows from.
                reads += [
                    (s, self._carried_limit(s))
                    for s in active
                    if s.carried and not s.buffer and (s is best or s.hint)
                ]
            for stream, _ in reads:
                if stream.carried:
                    stream.carried, stream.start_key, stream.exhausted = [], None, False
            self._fill(reads)

    def _size_carried(self, active: list[Stream]) -> None:
        """Before the first reads of a resumed page: how many of the ``expected`` rows each
        stream gives, as the merge of the carried keys says. An exhausted stream's keys count
        only where no row left uncarried by an open stream can come before them (past an open
        stream's last carried key, or anywhere in one with none): read again early, such a
        stream may well have been read for nothing, while when the merge reaches it the read
        is needed anyway. An open stream's rows are read in any case, so its hint stands."""
        if self._sized or not self.expected or not any(s.carried for s in active):
            return
        self._sized = True
        open_ends = [s for s in active if not s.exhausted]
        bound = max((s.carried[-1] if s.carried else "\uffff" for s in open_ends), default="")
        keys = sorted(((key, i) for i, s in enumerate(active) for key in s.carried), reverse=True)
        for key, i in keys[: self.expected]:
            if not active[i].exhausted or key >= bound:
                active[i].hint += 1
        self._shortfall = max(0, self.expected - len(keys))

    def _carried_limit(self, stream: Stream) -> int:
        """The Limit of a carried stream's Query: its rows on this page; if its carried keys run
        out within the page and more may follow them, also the rows that no carried key covers."""
        limit = max(1, stream.hint)
        if stream.hint >= len(stream.carried):
            # Any of them may give the rest: a row too many costs bytes, a Query too few a request.
            limit += max(MIN_READ, self._shortfall) if not stream.exhausted else 1
        return min(MAX_CHUNK, limit)

    def _fill(self, requests: list[tuple[Stream, int]]) -> None:
        if len(requests) == 1 or self._pool is None:
            for stream, limit in requests:
                self._read(stream, limit)
        else:
            list(self._pool.map(lambda request: self._read(*request), requests))

    def _read(self, stream: Stream, limit: int) -> None:
        index_name, pk_attr, sk_attr = stream.index
        low, high, skip_high = self._low, self._high, self._skip_high
        names = {**self.plan.names, "#pk": pk_attr}
        values = {**self.plan.values, ":pk": S(stream.partition)}
        condition = "#pk = :pk"
        if low is not None or high is not None:
            names["#sk"] = sk_attr
        if low is not None and high is not None:
            # BETWEEN is inclusive: the only item that can equal ``high`` is the cursor's own row
            # (a bare timestamp never equals a sort key), and it is dropped below.
            condition += " AND #sk BETWEEN :low AND :high"
            values[":low"], values[":high"] = S(low), S(high)
        elif high is not None:
            condition += " AND #sk < :high"
            values[":high"] = S(high)
            skip_high = False
        elif low is not None:
            condition += " AND #sk >= :low"
            values[":low"] = S(low)
        request: dict[str, Any] = {
            "IndexName": index_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if self.plan.filter_expression:
            request["FilterExpression"] = self.plan.filter_expression
        if stream.start_key is not None:
            request["ExclusiveStartKey"] = stream.start_key
        response = self._query(request)
        items = response.get("Items", [])
        stream.scanned += int(response.get("ScannedCount", len(items)))
        stream.matched += len(items)
        for item in items:
            if skip_high and item[sk_attr]["S"] == high:
                continue
            stream.buffer.append(item)
        stream.start_key = response.get("LastEvaluatedKey")
        stream.exhausted = stream.start_key is None

    # -- resuming --------------------------------------------------------------------------
    def resume_state(self) -> str:
        """Per stream: exhausted, the sort key its Query stopped at, the sort keys read ahead."""
        state = []
        for stream in self.plan.streams:
            sk_attr = stream.index[2]
            position = stream.start_key[sk_attr]["S"] if stream.start_key else ""
            ahead = [item[sk_attr]["S"] for item in stream.buffer] + stream.carried
            state.append([int(stream.exhausted), position, ahead])
        return json.dumps([self._streams_id(), state], separators=(",", ":"))

    def _streams_id(self) -> int:
        """Which streams a note is about: a text plan may change between pages (a new word in the
        vocabulary, another rarest word), and a note must never start the wrong stream."""
        return zlib.crc32("\n".join(s.partition for s in self.plan.streams).encode())

    def resume(self, note: str) -> None:
        """Apply ``resume_state`` of the previous page; a note that does not fit is ignored (the
        keyset alone is always a correct place to start)."""
        try:
            streams_id, state = json.loads(note)
            if streams_id != self._streams_id() or len(state) != len(self.plan.streams):
                return
            parsed = [(bool(e), str(p), [str(k) for k in ks]) for e, p, ks in state]
        except (ValueError, TypeError):
            return
        for stream, (exhausted, position, ahead) in zip(self.plan.streams, parsed, strict=True):
            _, pk_attr, sk_attr = stream.index
            stream.exhausted = exhausted
            if stream.index is BY_TEXT:
                # Text rows are not images (the page reads its images by key in any case), so a
                # carried key is as good as its row: merged as it is, never read again.
                stream.buffer.extend(_row(sk_attr, sk) for sk in ahead)
            else:
                stream.carried = ahead
            if position:
                stream.start_key = {
                    pk_attr: S(stream.partition),
                    sk_attr: S(position),
                    **_base_key(stream, position),
                }


def _row(sk_attr: str, sk: str) -> Item:
    """A text row rebuilt from its sort key: enough to merge it and read its image."""
    created_at, image_id = order_key_parts(sk)
    return {sk_attr: S(sk), "image_id": S(image_id), "created_at": S(created_at)}


def _base_key(stream: Stream, sort_key: str) -> Item:
    """The table key of the item at ``sort_key`` in ``stream`` (part of a GSI's start key)."""
    image_id = order_key_parts(sort_key)[1]
    if stream.index is BY_TAG:
        return tag_key(image_id, tag_of_partition(stream.partition))
    if stream.index is BY_TEXT:
        return {**image_key(image_id), SK: S(text_sort_key_of(stream.partition))}
    return image_key(image_id)
