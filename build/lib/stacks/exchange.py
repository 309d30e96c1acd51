"""An exchange: the hub of a star federation (rollsite for eggroll parties, trafficServer + nginx for Pulsar
parties)."""

from __future__ import annotations

from stacks.config import DeploymentConfig


def exchange_parties(cfg: DeploymentConfig) -> list[int]:
    """The parties this exchange routes to (stack output `parties`)."""
    return sorted({p.party_id for p in cfg.rollsite.party_list} | set(cfg.nginx.route_table))
