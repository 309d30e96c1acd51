"""The eggroll metadata schema (eggroll 2.5, FATE 1.11) as data, and the init SQL MySQL runs on first start.

The clustermanager expects these tables in the FATE database; FATE Flow creates its own tables at start.
"""

from __future__ import annotations

from dataclasses import dataclass

CREATED = "DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP"
UPDATED = "DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"
CREATED_NULL = "DATETIME DEFAULT CURRENT_TIMESTAMP"
UPDATED_NULL = "DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]  # "col" or "col(prefix)"
    unique: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, type and constraints)
    indexes: tuple[Index, ...] = ()


TABLES: tuple[Table, ...] = (
    Table("store_locator", (
        ("store_locator_id", "SERIAL PRIMARY KEY"),
        ("store_type", "VARCHAR(255) NOT NULL"),
        ("namespace", "VARCHAR(2000) NOT NULL DEFAULT 'DEFAULT'"),
        ("name", "VARCHAR(2000) NOT NULL"),
        ("path", "VARCHAR(2000) NOT NULL DEFAULT ''"),
        ("total_partitions", "INT UNSIGNED NOT NULL"),
        ("partitioner", "VARCHAR(2000) NOT NULL DEFAULT 'BYTESTRING_HASH'"),
        ("serdes", "VARCHAR(2000) NOT NULL DEFAULT ''"),
        ("version", "INT UNSIGNED NOT NULL DEFAULT 0"),
        ("status", "VARCHAR(255) NOT NULL"),
        ("created_at", CREATED_NULL),
        ("updated_at", UPDATED_NULL),
    ), (
        Index("idx_u_store_locator_ns_n", ("namespace(120)", "name(640)"), unique=True),
        Index("idx_store_locator_st", ("store_type(255)",)),
        Index("idx_store_locator_ns", ("namespace(767)",)),
        Index("idx_store_locator_n", ("name(767)",)),
        Index("idx_store_locator_s", ("status(255)",)),
        Index("idx_store_locator_v", ("version",)),
    )),
    Table("store_option", (
        ("store_option_id", "SERIAL PRIMARY KEY"),
        ("store_locator_id", "BIGINT UNSIGNED NOT NULL"),
        ("name", "VARCHAR(255) NOT NULL"),
        ("data", "VARCHAR(2000) NOT NULL DEFAULT ''"),
        ("created_at", CREATED),
        ("updated_at", UPDATED),
    ), (Index("idx_store_option_si", ("store_locator_id",)),)),
    Table("store_partition", (
        ("store_partition_id", "SERIAL PRIMARY KEY"),
        ("store_locator_id", "BIGINT UNSIGNED NOT NULL"),
        ("node_id", "BIGINT UNSIGNED NOT NULL"),
        ("partition_id", "INT UNSIGNED NOT NULL"),
        ("status", "VARCHAR(255) NOT NULL"),
        ("created_at", CREATED_NULL),
        ("updated_at", UPDATED_NULL),
    ), (
        Index("idx_u_store_partition_si_spi_ni", ("store_locator_id", "store_partition_id", "node_id"), unique=True),
        Index("idx_store_partition_sli", ("store_locator_id",)),
        Index("idx_store_partition_ni", ("node_id",)),
        Index("idx_store_partition_s", ("status(255)",)),
    )),
    Table("server_node", (
        ("server_node_id", "SERIAL PRIMARY KEY"),
        ("name", "VARCHAR(2000) NOT NULL DEFAULT ''"),
        ("server_cluster_id", "BIGINT UNSIGNED NOT NULL DEFAULT 0"),
        ("host", "VARCHAR(1000) NOT NULL"),
        ("port", "INT NOT NULL"),
        ("node_type", "VARCHAR(255) NOT NULL"),
        ("status", "VARCHAR(255) NOT NULL"),
        ("last_heartbeat_at", "DATETIME DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP"),
        ("created_at", CREATED),
        ("updated_at", UPDATED),
    ), (
        Index("idx_server_node_h_p_nt", ("host(600)", "port", "node_type(100)")),
        Index("idx_server_node_h", ("host(767)",)),
        Index("idx_server_node_sci", ("server_cluster_id",)),
        Index("idx_server_node_nt", ("node_type(255)",)),
        Index("idx_server_node_s", ("status(255)",)),
    )),
    Table("session_main", (
        ("session_id", "VARCHAR(767) PRIMARY KEY"),
        ("name", "VARCHAR(2000) NOT NULL DEFAULT ''"),
        ("status", "VARCHAR(255) NOT NULL"),
        ("tag", "VARCHAR(255)"),
        ("total_proc_count", "INT"),
        ("active_proc_count", "INT"),
        ("created_at", CREATED),
        ("updated_at", UPDATED),
    ), (Index("idx_session_main_s", ("status",)),)),
    Table("session_option", (
        ("session_option_id", "SERIAL PRIMARY KEY"),
        ("session_id", "VARCHAR(2000)"),
        ("name", "VARCHAR(255) NOT NULL"),
        ("data", "VARCHAR(2000) NOT NULL DEFAULT ''"),
        ("created_at", CREATED),
        ("updated_at", UPDATED),
    ), (Index("idx_session_option_si", ("session_id(767)",)),)),
    Table("session_processor", (
        ("processor_id", "SERIAL PRIMARY KEY"),
        ("session_id", "VARCHAR(767)"),
        ("server_node_id", "INT NOT NULL"),
        ("processor_type", "VARCHAR(255) NOT NULL"),
        ("status", "VARCHAR(255)"),
        ("tag", "VARCHAR(255)"),
        ("command_endpoint", "VARCHAR(255)"),
        ("transfer_endpoint", "VARCHAR(255)"),
        ("processor_option", "VARCHAR(512)"),
        ("pid", "INT NOT NULL DEFAULT -1"),
        ("created_at", CREATED),
        ("updated_at", UPDATED),
    ), (Index("idx_session_processor_si", ("session_id(767)",)),)),
    Table("processor_resource", (
        ("id", "SERIAL PRIMARY KEY"),
        ("processor_id", "BIGINT NOT NULL"),
        ("session_id", "VARCHAR(767)"),
        ("server_node_id", "INT NOT NULL"),
        ("resource_type", "VARCHAR(255)"),
        ("allocated", "BIGINT NOT NULL DEFAULT 0"),
        ("extention", "VARCHAR(512)"),  # sic: eggroll's column name
        ("status", "VARCHAR(255)"),
        ("pid", "INT NOT NULL DEFAULT -1"),
        ("created_at", CREATED),
        ("updated_at", UPDATED),
    ), (
        Index("idx_processor_id_processor_resource", ("processor_id",)),
        Index("idx_node_id_processor_resource", ("server_node_id",)),
        Index("idx_session_id_processor_resource", ("session_id",)),
        Index("idx_node_status_processor_resource", ("server_node_id", "resource_type", "status")),
    )),
    Table("node_resource", (
        ("resource_id", "SERIAL PRIMARY KEY"),
        ("server_node_id", "BIGINT NOT NULL"),
        ("resource_type", "VARCHAR(255)"),
        ("total", "BIGINT NOT NULL DEFAULT 0"),
        ("used", "BIGINT NOT NULL DEFAULT 0"),
        ("pre_allocated", "BIGINT NOT NULL DEFAULT 0"),
        ("allocated", "BIGINT NOT NULL DEFAULT 0"),
        ("extention", "VARCHAR(512)"),
        ("status", "VARCHAR(255)"),
        ("created_at", CREATED),
        ("updated_at", UPDATED),
    ), (
        Index("idx_node_id_node_resource", ("server_node_id",)),
        Index("idx_node_status_node_resource", ("server_node_id", "status")),
        Index("idx_u_node_resource", ("server_node_id", "resource_type"), unique=True),
    )),
    Table("session_ranks", (
        ("container_id", "SERIAL PRIMARY KEY"),
        ("session_id", "VARCHAR(767)"),
        ("server_node_id", "INT NOT NULL"),
        ("global_rank", "INT UNSIGNED NOT NULL"),
        ("local_rank", "INT UNSIGNED NOT NULL"),
    ), (Index("idx_session_id_session_ranks", ("session_id",)),)),
)


def _column_ref(col: str) -> str:
    name, _, prefix = col.partition("(")
    return f"`{name}`" + (f"({prefix}" if prefix else "")


def create_tables_sql(database: str) -> str:
    """The init script: create the database and the eggroll tables (idempotent, latin1 as eggroll expects)."""
    out = [f"CREATE DATABASE IF NOT EXISTS `{database}`;", f"USE `{database}`;", ""]
    for table in TABLES:
        cols = ",\n".join(f"    `{c}` {t}" for c, t in table.columns)
        out.append(f"CREATE TABLE IF NOT EXISTS `{table.name}`\n(\n{cols}\n) DEFAULT CHARACTER SET latin1\n"
                   "  COLLATE latin1_swedish_ci;")
        for ix in table.indexes:
            cols_ref = ", ".join(_column_ref(c) for c in ix.columns)
            out.append(f"CREATE {'UNIQUE ' if ix.unique else ''}INDEX `{ix.name}` ON `{table.name}` ({cols_ref});")
        out.append("")
    return "\n".join(out)
