"""The log's tree over the database gives the same roots and proofs as pymerkle's own
in-memory tree over the same leaves, whatever the batch sizes the sequencer saw, across tile
boundaries (every 2^8 leaves) and at every size."""

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from decisions.ledger import sequencer
from decisions.ledger.tree import StoredTree
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import EventKind, LedgerHead, LedgerLeaf, LedgerNode
from decisions.verifier import leaf_hash
from tests.decisions.scenarios import pending

pytestmark = pytest.mark.django_db


def _reference(size: int) -> InmemoryTree:
    """pymerkle's in-memory tree over the stored leaves (hashed there from the event hashes)."""
    tree = InmemoryTree()
    for digest in LedgerLeaf.objects.order_by("position").values_list("event__hash", flat=True)[:size]:
        tree.append_entry(bytes.fromhex(digest))
    return tree


def _grow_to(events: int, *, batch: int = 37) -> None:
    """Log ``events`` events (on one decision, as webhook attempts) and sequence them in batches
    of ``batch``."""
    decision, _people = pending()
    plan = DecisionWrites(decision)
    for attempt in range(events - decision.event_count):
        plan.log(EventKind.WEBHOOK_FAILED, at=timezone.now(), data={"attempt": attempt})
    plan.write()
    while sequencer.sequence_pending(batch=batch):
        pass


def test_a_leaf_is_the_hash_of_its_events_hash():
    pending()
    sequencer.sequence_pending()

    leaf = LedgerLeaf.objects.select_related("event").get(position=0)
    assert bytes(leaf.hash) == leaf_hash(leaf.event.hash) == InmemoryTree().hash_buff(bytes.fromhex(leaf.event.hash))


def test_roots_match_pymerkle_at_every_size_across_a_tile_boundary():
    _grow_to(300)
    size = LedgerHead.objects.get(id=1).size
    reference = _reference(size)
    stored = StoredTree(size)

    assert [stored.get_root(n) for n in range(1, size + 1)] == [reference.get_root(n) for n in range(1, size + 1)]


def test_the_sequencer_stores_every_completed_tile_once():
    _grow_to(520)
    size = LedgerHead.objects.get(id=1).size

    assert LedgerNode.objects.filter(level=8).count() == size // 256
    assert sorted(LedgerNode.objects.filter(level=8).values_list("index", flat=True)) == list(range(size // 256))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_inclusion_and_consistency_proofs_verify_and_match_pymerkle(data):
    if not LedgerHead.objects.filter(id=1, size__gte=300).exists():
        _grow_to(300, batch=data.draw(st.integers(1, 300)))
    size = LedgerHead.objects.get(id=1).size
    reference = _reference(size)
    stored = StoredTree(size)
    later = data.draw(st.integers(1, size))
    prior = data.draw(st.integers(1, later))
    index = data.draw(st.integers(1, later))

    inclusion = stored.prove_inclusion(index, later)
    consistency = stored.prove_consistency(prior, later)

    assert inclusion.serialize() == reference.prove_inclusion(index, later).serialize()
    assert consistency.serialize() == reference.prove_consistency(prior, later).serialize()
    inclusion.verify(reference.get_leaf(index), reference.get_root(later))
    consistency.verify(reference.get_root(prior), reference.get_root(later))
