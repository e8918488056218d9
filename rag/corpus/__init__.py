"""Readers: the bytes of seed page dumps -> Paper records (decode, then parse and deduplicate)."""
