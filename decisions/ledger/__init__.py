"""The record: one append-only Merkle log over every decision event, signed checkpoints
anchored outside the database, verification that stays fast, and receipts auditors verify
offline (``decisions/verifier.py``). See README, "The record and its threat model"."""
