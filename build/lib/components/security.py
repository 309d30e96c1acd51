"""Linux capabilities FATE's images need, and what Pod Security Admission levels admit. Pure data (no Pulumi), read by
the components that add the capabilities and by the config checks of `podSecurity.admission`."""

from __future__ import annotations

# Capabilities a module's container adds back after dropping ALL, beyond the root image set of components/kube.py,
# keyed by config module name, with the reason.
EXTRA_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "mysql": ("SYS_NICE",),  # the mysql image's server raises its threads' priority (KubeFATE's FATE chart adds it too)
    "nodemanager": ("SYS_PTRACE",),  # kept from KubeFATE v1.11.2's nodemanager StatefulSet
    "trafficServer": ("NET_BIND_SERVICE",),  # traffic_manager binds 443
}

# Pod Security Standards, "baseline": capabilities a container may add (Kubernetes docs, Pod Security Standards).
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def beyond_baseline(modules: set[str]) -> dict[str, tuple[str, ...]]:
    """The deployed modules whose containers the "baseline" level would refuse, with the capabilities why."""
    return {m: tuple(c for c in caps if c not in BASELINE_CAPABILITIES) for m, caps in EXTRA_CAPABILITIES.items()
            if m in modules and any(c not in BASELINE_CAPABILITIES for c in caps)}
