"""What Pod Security Admission levels admit of the Linux capabilities FATE's images add back (each module's
`CAPABILITIES`, held by its registry entry). Pure data (no Pulumi), read by the config checks of
`podSecurity.admission` and the importer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Pod Security Standards, "baseline": capabilities a container may add (Kubernetes docs, Pod Security Standards).
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def beyond_baseline(capabilities: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Of the capabilities deployed modules add (module -> capabilities, registry `capabilities`), the modules whose
    containers the "baseline" level would refuse, by name, with the capabilities why."""
    return {m: tuple(c for c in caps if c not in BASELINE_CAPABILITIES) for m, caps in sorted(capabilities.items())
            if any(c not in BASELINE_CAPABILITIES for c in caps)}
