"""The periodic review: figures aggregated in SQL, the review cycle (frozen reports and their
sign-off), charts, exports and the auditor's evidence pack."""
