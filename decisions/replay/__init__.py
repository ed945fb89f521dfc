"""What-if replay: a draft approval policy evaluated over past decisions, in SQL, without changing
any of them; and the draft's activation, one audited step that keeps the replay it was made on."""
