"""Break-glass: a certified person executes a pending decision before its quorum, when its policy
allows it, with a reason; the skipped approvers and the leads are told at once; a different
certified person reviews it within the policy's deadline, and an overdue review escalates down
the decision's frozen chain. ``services`` changes state, ``sweep`` escalates overdue reviews,
``notices`` tells people, ``selectors`` reads for the pages and the periodic review."""
