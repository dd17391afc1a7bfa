"""Token clusters across layers and training (Geshkovski et al.'s interacting particles).

Theory models self-attention as particles on a sphere that collapse into clusters over
layers, first quickly into metastable clusters that then merge slowly, with an interaction
energy that rises monotonically over layers. The probe measures that picture per checkpoint:

* :mod:`.geometry`: inner products, energy, effective rank, CKA, neighbour stability;
* :mod:`.counting`: agglomerative, eigengap and HDBSCAN cluster counts;
* :mod:`.tracking`: clusters matched across layers (births, deaths, merges, lifespans);
* :mod:`.plateaus`: plateaus over layers, collapse onset and the two-timescale verdict;
* :mod:`.spectra`: spectra of each layer's summed OV (value) map;
* :mod:`.sequence`: all of it for one sequence; :mod:`.probe`: the registered probe.
"""

from tracker.probes.clusters.config import ClustersConfig
from tracker.probes.clusters.probe import ClustersProbe

__all__ = ["ClustersConfig", "ClustersProbe"]
