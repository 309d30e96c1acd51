"""The importer of KubeFATE v1.11.2's cluster files: cluster_file reads the chart and the top-level keys and hands the
rest to the chart's module (fate, fate_exchange, fate_serving); shared holds the sections several charts have."""
