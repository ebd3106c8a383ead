"""payrisk: payment-risk scoring for accounts receivable."""

import os

# LightGBM's OpenMP threads sleep when they have nothing to do instead of spinning. On a machine
# whose cores are busy with other work (a shared box, a service's other workers) spinning threads
# fight the other processes for the cores: one LightGBM fit of `payrisk simulate` took 3-15x longer
# with the default policy when one other process was busy (README "Performance"). libgomp reads
# the variable once, when LightGBM is loaded, so it is set here, before any payrisk module imports
# it; a value already in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
