"""The privacy gate: every generated record is scanned for PII, checked for memorized seed text and planted
canaries, and judged against the active policy before it is kept (see ``gate.Gate``)."""
