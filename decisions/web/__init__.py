"""Browser pages outside the admin: the analysts' queue and sign-off, and the review pages."""
