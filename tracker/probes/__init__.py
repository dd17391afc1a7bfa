"""Probes: one file each, registered by name with a version and a frozen config."""

from tracker.probes.base import MetricSpec, Probe, ProbeConfig, config_hash
from tracker.probes.context import ProbeContext
from tracker.probes.registry import make_probes, probe_class, probe_names, register_probe

__all__ = [
    "MetricSpec",
    "Probe",
    "ProbeConfig",
    "ProbeContext",
    "config_hash",
    "make_probes",
    "probe_class",
    "probe_names",
    "register_probe",
]
