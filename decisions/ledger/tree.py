"""The log's Merkle tree over the database: pymerkle does the hashing, roots and proofs (RFC
9162); this class only tells it where the leaves and the stored tile roots are.

pymerkle reduces every root and proof to roots of aligned complete subtrees. For a subtree of
2^k leaves this tree reads the stored roots of its tiles (``LedgerNode``, levels 8, 16, 24 ...)
and hashes at most 255 pairs above them, or, below a tile, at most 2^8 leaves: a root or a proof
costs a few dozen small queries however long the log is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from pymerkle import BaseMerkleTree

from decisions.models import LedgerLeaf, LedgerNode

TILE_BITS = 8  # nodes are stored at levels 8, 16, 24, ...
ALGORITHM = "sha256"


def tile_level(level: int) -> int:
    """The highest stored level at or below ``level`` (0: the leaves)."""
    return (level // TILE_BITS) * TILE_BITS


def fold_pairs(hashes: Sequence[bytes], levels: int, hash_pair: Callable[[bytes, bytes], bytes]) -> bytes:
    """Hash ``hashes`` (2^levels of them) up ``levels`` levels, pairwise, to one root."""
    layer = list(hashes)
    for _ in range(levels):
        layer = [hash_pair(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


class StoredTree(BaseMerkleTree):
    """The tree of the first ``size`` leaves, read from the database. Read-only: the sequencer
    (``decisions.ledger.sequencer``) writes leaves and tiles."""

    def __init__(self, size: int) -> None:
        super().__init__(ALGORITHM)
        self.size = size

    # pymerkle's storage interface (leaf indices count from one there) -----------------------

    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        raise NotImplementedError("the sequencer appends leaves; a StoredTree only reads")

    def _get_leaf(self, index: int) -> bytes:
        return bytes(LedgerLeaf.objects.values_list("hash", flat=True).get(position=index - 1))

    def _get_leaves(self, offset: int, width: int) -> Iterable[bytes]:
        return leaf_hashes(offset, width)

    def _get_size(self) -> int:
        return self.size

    def _get_subroot_uncached(self, offset: int, width: int) -> bytes:
        level = width.bit_length() - 1
        base = tile_level(level)
        if base == 0 or offset % (1 << base):
            return fold_pairs(list(leaf_hashes(offset, width)), level, self.hash_pair)
        children = node_hashes(base, offset >> base, 1 << (level - base))
        return fold_pairs(children, level - base, self.hash_pair)


def leaf_hashes(offset: int, width: int) -> list[bytes]:
    """Leaf hashes of positions [offset, offset + width), in order (all must exist)."""
    rows = list(
        LedgerLeaf.objects.filter(position__gte=offset, position__lt=offset + width)
        .order_by("position")
        .values_list("hash", flat=True)
    )
    if len(rows) != width:
        raise LookupError(f"leaves {offset}..{offset + width - 1}: {width - len(rows)} missing from the log")
    return [bytes(row) for row in rows]


def node_hashes(level: int, first: int, count: int) -> list[bytes]:
    """Stored roots of the tiles ``first`` .. ``first + count - 1`` at ``level``, in order."""
    rows = list(
        LedgerNode.objects.filter(level=level, index__gte=first, index__lt=first + count)
        .order_by("index")
        .values_list("hash", flat=True)
    )
    if len(rows) != count:
        raise LookupError(f"tiles {first}..{first + count - 1} of level {level}: {count - len(rows)} missing")
    return [bytes(row) for row in rows]
