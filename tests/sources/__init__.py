"""Tests of tokens/sources: decoders on real bytes, the chain and web API sources and clients against fakes."""
