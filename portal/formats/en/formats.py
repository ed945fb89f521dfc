"""English: the same formats as en-GB."""

from portal.formats.en_GB.formats import DATE_FORMAT, DATETIME_FORMAT, SHORT_DATETIME_FORMAT, TIME_FORMAT

__all__ = ["DATETIME_FORMAT", "DATE_FORMAT", "SHORT_DATETIME_FORMAT", "TIME_FORMAT"]
