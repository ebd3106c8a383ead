"""Wiring: each pipeline reads inputs, calls the pure steps in `payrisk`, writes its outputs.

The steps themselves (DataFrame in, DataFrame out) live in `src/payrisk`; only this package and the
CLI touch files, the tracking server and the network.
"""
