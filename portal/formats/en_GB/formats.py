"""en-GB, the portal's language: times as the analyst pages show them, with the zone's name."""

DATETIME_FORMAT = "j M Y, H:i T"  # '4 Dec 2026, 09:30 CET'
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
TIME_FORMAT = "H:i"
DATE_FORMAT = "j M Y"
