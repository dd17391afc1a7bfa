"""Probes: one file each, registered by name with a version and a frozen config."""

from tracker.metric import Metric
from tracker.probes.base import Probe, ProbeConfig, ProbeValues
from tracker.probes.context import InputCache, ProbeContext
from tracker.probes.registry import make_probes, probe_class, probe_names, register_probe

__all__ = [
    "InputCache",
    "Metric",
    "Probe",
    "ProbeConfig",
    "ProbeContext",
    "ProbeValues",
    "make_probes",
    "probe_class",
    "probe_names",
    "register_probe",
]
