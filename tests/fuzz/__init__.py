"""Fuzzers of our own against a live service: REST (schemathesis), OSC, /ws and MQTT (hypothesis)."""
