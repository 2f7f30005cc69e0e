"""The run folder and what people do to it: writing it whole, the report, the
audit log, review and masking."""
