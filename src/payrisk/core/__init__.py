"""Foundation shared by every stage: typed configuration, settings, atomic writes, day numbers.

Nothing here knows about invoices or models; every other package may import it.
"""
