"""The sequencer: moves written events into the log's tree, in batches, off the request path.

A database trigger puts every new decision event in ``LedgerPending`` (in the inserting
transaction, whoever inserts it), so intake pays no extra statement. The sequencer, under the
``LedgerHead`` row lock (one sequencer at a time, however many beats or workers run), takes the
pending events oldest first, gives each the next position, stores its leaf hash and the roots of
the tiles it completes, and removes them from the queue. The tree's order is the sequencing
order: an event committed late simply lands later.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from pymerkle.hasher import MerkleHasher

from decisions.ledger.tree import ALGORITHM, TILE_BITS, fold_pairs, leaf_hashes, node_hashes
from decisions.models import DecisionEvent, LedgerHead, LedgerLeaf, LedgerNode, LedgerPending
from decisions.verifier import leaf_hash

BATCH = 5000
MAX_LEVEL = 48  # 2^48 leaves: far beyond any log this product will hold
HASHER = MerkleHasher(ALGORITHM)


def lock_head() -> LedgerHead:
    """The head row, locked (created on first use)."""
    LedgerHead.objects.get_or_create(id=1)
    return LedgerHead.objects.select_for_update().get(id=1)


def sequence_pending(*, batch: int = BATCH) -> int:
    """Sequence every pending event (a batch per transaction). Returns how many joined the tree."""
    total = 0
    while True:
        moved = _sequence_batch(batch)
        total += moved
        if moved < batch:
            return total


def _sequence_batch(batch: int) -> int:
    with transaction.atomic():
        head = lock_head()
        pending = list(LedgerPending.objects.order_by("event_id").values_list("event_id", flat=True)[:batch])
        if not pending:
            return 0
        events = {
            pk: (digest, decision)
            for pk, digest, decision in DecisionEvent.objects.filter(pk__in=pending).values_list(
                "pk", "hash", "decision__public_id"
            )
        }
        start = head.size
        leaves = [
            LedgerLeaf(
                position=start + offset,
                event_id=event_id,
                hash=leaf_hash(events[event_id][0]),
                decision_public_id=events[event_id][1],
            )
            for offset, event_id in enumerate(pending)
        ]
        LedgerLeaf.objects.bulk_create(leaves)
        end = start + len(leaves)
        LedgerNode.objects.bulk_create(_completed_tiles(start, end, [bytes(leaf.hash) for leaf in leaves]))
        LedgerPending.objects.filter(event_id__in=pending).delete()
        head.size = end
        head.sequenced_at = timezone.now()
        head.save(update_fields=["size", "sequenced_at"])
    return len(leaves)


def _completed_tiles(start: int, end: int, new_leaves: list[bytes]) -> list[LedgerNode]:
    """Roots of the tiles (at every stored level) that appending leaves [start, end) completes.

    A tile's children made in this batch are in memory; those made before it (the start of a
    tile begun earlier) are read back: a contiguous run, at most 255 rows."""
    nodes: list[LedgerNode] = []
    below: dict[int, bytes] = {start + i: h for i, h in enumerate(new_leaves)}  # index -> hash, a level down
    below_level = 0
    for level in range(TILE_BITS, MAX_LEVEL + 1, TILE_BITS):
        if end >> level == 0:
            break
        width = 1 << (level - below_level)  # children per node, one stored level down
        made: dict[int, bytes] = {}
        lowest_new = min(below, default=None)  # what this batch made one level down is contiguous
        for index in range(start >> level, end >> level):
            if (index + 1) << level <= start:
                continue  # complete before this batch
            first = index * width
            known = first + width if lowest_new is None else min(max(first, lowest_new), first + width)
            earlier = _stored_children(below_level, first, known - first) if known > first else []
            children = earlier + [below[i] for i in range(known, first + width)]
            made[index] = fold_pairs(children, level - below_level, HASHER.hash_pair)
        nodes.extend(LedgerNode(level=level, index=index, hash=digest) for index, digest in made.items())
        below, below_level = made, level
    return nodes


def _stored_children(level: int, first: int, count: int) -> list[bytes]:
    if level == 0:
        return leaf_hashes(first, count)
    return node_hashes(level, first, count)
