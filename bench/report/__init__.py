"""Everything that turns records into something a person reads: one field registry drives every output."""
