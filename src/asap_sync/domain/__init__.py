"""The pure rules of the platform: stdlib only, no I/O, no clock reads."""
