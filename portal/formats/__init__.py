"""Date and time formats shared by the admin and the analyst pages: one zone, one format
("4 Dec 2026, 09:30 CET"), so a lead and an analyst read the same instant the same way."""
