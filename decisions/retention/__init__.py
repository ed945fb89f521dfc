"""Retention and legal hold: closed decisions archived and removed once their retention has
passed, never while a legal hold covers them, never without a signed checkpoint first."""
